//! The rate-limit layer every HTTP function wears: the request's rules are
//! decided before the handler runs; over a limit the caller gets 429
//! problem+json with `Retry-After`, and every limited response carries the
//! IETF draft fields (draft-ietf-httpapi-ratelimit-headers-09+):
//!
//! ```text
//! RateLimit-Policy: "api-per-user";q=60;w=60, "api-per-ip";q=1000;w=900
//! RateLimit: "api-per-user";r=59;t=60, "api-per-ip";r=999;t=900
//! ```
//!
//! and, for the rule closest to denying, `X-RateLimit-Limit`,
//! `X-RateLimit-Remaining` and `X-RateLimit-Reset` (Unix seconds, as GitHub
//! and most clients that know only these read it).

use std::fmt::Write;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tessera_core::ratelimit::Target;

use super::identity::{identity_from, source_ip};
use super::problem::Problem;
use crate::ratelimit::{Decision, RateLimiter, Requester};

pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
pub const X_RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
pub const X_RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
pub const X_RATELIMIT_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

pub(super) async fn limit(State(limiter): State<RateLimiter>, request: Request, next: Next) -> Response<Body> {
    let who = requester(&request);
    let target = Target::Http { method: request.method().as_str(), path: request.uri().path() };
    let decision = limiter.check(target, &who).await;
    if decision.rules.is_empty() {
        return next.run(request).await;
    }
    let mut response = if decision.allowed { next.run(request).await } else { too_many(&decision) };
    write_fields(response.headers_mut(), &decision);
    response
}

/// The caller as far as the request tells: a verified identity, else the IP.
fn requester(request: &Request) -> Requester {
    let extensions = request.extensions();
    let identity = identity_from(extensions).ok();
    Requester {
        tier: identity.as_ref().map(|i| i.tier).unwrap_or_default(),
        user: identity.map(|i| i.user_id),
        ip: source_ip(extensions),
        connection: None,
    }
}

fn too_many(decision: &Decision) -> Response<Body> {
    let wait_ms = decision.retry_after_ms().unwrap_or(1_000);
    let seconds = wait_ms.div_ceil(1000).max(1);
    let problem = match decision.blocked_ms {
        Some(_) => Problem::new(StatusCode::TOO_MANY_REQUESTS, "blocked", "Blocked for making too many requests")
            .with_detail(format!("Requests from you are refused for another {seconds} s.")),
        None => {
            let denied: Vec<&str> = decision.rules.iter().filter(|r| !r.admitted).map(|r| r.name.as_str()).collect();
            Problem::for_status(StatusCode::TOO_MANY_REQUESTS)
                .with_detail(format!("Over the limit of {}; retry in {seconds} s.", denied.join(", ")))
                .with_extension("rules", denied)
        }
    };
    let mut response = problem.into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

fn write_fields(headers: &mut HeaderMap, decision: &Decision) {
    let mut policy = String::new();
    let mut current = String::new();
    for rule in &decision.rules {
        let separator = if policy.is_empty() { "" } else { ", " };
        let _ = write!(policy, "{separator}\"{}\";q={};w={}", rule.name, rule.quota.limit, rule.quota.window_ms / 1000);
        let reset = rule.usage.reset_ms.div_ceil(1000);
        let _ = write!(current, "{separator}\"{}\";r={};t={reset}", rule.name, rule.usage.remaining);
    }
    let mut put = |name: HeaderName, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    put(RATELIMIT_POLICY, policy);
    put(RATELIMIT, current);
    if let Some(tightest) = decision.tightest() {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        put(X_RATELIMIT_LIMIT, tightest.quota.limit.to_string());
        put(X_RATELIMIT_REMAINING, tightest.usage.remaining.to_string());
        put(X_RATELIMIT_RESET, (now + tightest.usage.reset_ms.div_ceil(1000)).to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratelimit::{RuleOutcome, Source};
    use tessera_core::ratelimit::{Quota, Usage};

    fn outcome(name: &str, limit: u64, remaining: u64, admitted: bool) -> RuleOutcome {
        RuleOutcome {
            name: name.into(),
            quota: Quota { limit, window_ms: 60_000 },
            admitted,
            usage: Usage { remaining, reset_ms: 30_500, retry_after_ms: if admitted { 0 } else { 2_100 } },
        }
    }

    #[test]
    fn the_fields_list_every_rule_in_structured_field_syntax() {
        let decision = Decision {
            allowed: true,
            blocked_ms: None,
            rules: vec![outcome("api-per-user", 60, 59, true), outcome("api-per-ip", 1000, 7, true)],
            source: Source::Redis,
        };
        let mut headers = HeaderMap::new();
        write_fields(&mut headers, &decision);
        assert_eq!(headers[RATELIMIT_POLICY], "\"api-per-user\";q=60;w=60, \"api-per-ip\";q=1000;w=60");
        assert_eq!(headers[RATELIMIT], "\"api-per-user\";r=59;t=31, \"api-per-ip\";r=7;t=31");
        assert_eq!(headers[X_RATELIMIT_LIMIT], "1000", "the tightest rule");
        assert_eq!(headers[X_RATELIMIT_REMAINING], "7");
    }

    #[test]
    fn a_denial_is_429_problem_json_naming_the_rule_with_retry_after() {
        let decision = Decision {
            allowed: false,
            blocked_ms: None,
            rules: vec![outcome("api-per-user", 60, 0, false), outcome("api-per-ip", 1000, 900, true)],
            source: Source::Redis,
        };
        let response = too_many(&decision);
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "3");
        assert_eq!(decision.tightest().unwrap().name, "api-per-user");
    }
}
