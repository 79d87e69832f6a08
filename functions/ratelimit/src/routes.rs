//! `GET /rate-limits` for every caller; the `/admin/rate-limits` routes for admins.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tessera_core::Role;
use tessera_core::ratelimit::Subject;
use tessera_platform::http::{ApiError, Caller, Problem};
use tessera_platform::ratelimit::{RateLimiter, Requester};

/// The longest block an admin can set: 30 days.
const MAX_BLOCK_SECONDS: u64 = 30 * 24 * 3600;

pub fn routes(limiter: RateLimiter) -> Router {
    Router::new()
        .route("/rate-limits", get(usage))
        .route("/admin/rate-limits/policies", get(policies))
        .route("/admin/rate-limits/blocks", get(blocks))
        .route("/admin/rate-limits/blocks/{scope}/{key}", put(block).delete(unblock))
        .with_state(limiter)
}

async fn usage(State(limiter): State<RateLimiter>, caller: Caller) -> Result<Response, ApiError> {
    let who =
        Requester { user: Some(caller.user_id.clone()), tier: caller.tier, ip: caller.source_ip, connection: None };
    match limiter.usage(&who).await {
        Ok(rules) => Ok(Json(json!({"tier": caller.tier, "rules": rules})).into_response()),
        Err(err) => Ok(redis_unavailable(&err)),
    }
}

async fn policies(State(limiter): State<RateLimiter>, caller: Caller) -> Result<Json<Value>, ApiError> {
    require_admin(&caller)?;
    Ok(Json(serde_json::to_value(limiter.policies().source()).map_err(anyhow::Error::from)?))
}

async fn blocks(State(limiter): State<RateLimiter>, caller: Caller) -> Result<Response, ApiError> {
    require_admin(&caller)?;
    Ok(match limiter.blocks().await {
        Ok(blocks) => Json(json!({"blocks": blocks})).into_response(),
        Err(err) => redis_unavailable(&err),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BlockRequest {
    seconds: u64,
    #[serde(default)]
    reason: Option<String>,
}

async fn block(
    State(limiter): State<RateLimiter>,
    caller: Caller,
    Path((scope, key)): Path<(String, String)>,
    tessera_platform::http::Json(body): tessera_platform::http::Json<BlockRequest>,
) -> Result<Response, ApiError> {
    require_admin(&caller)?;
    let subject = Subject::parse(&scope, &key).map_err(ApiError::BadRequest)?;
    if !(1..=MAX_BLOCK_SECONDS).contains(&body.seconds) {
        return Err(ApiError::BadRequest(format!("seconds must be from 1 to {MAX_BLOCK_SECONDS}")));
    }
    let reason = body.reason.unwrap_or_else(|| format!("blocked by {}", caller.user_id));
    if reason.is_empty() || reason.len() > 200 {
        return Err(ApiError::BadRequest("a reason is 1 to 200 characters".into()));
    }
    tracing::warn!(admin = %caller.user_id, %scope, %key, seconds = body.seconds, "rate limits: blocked by hand");
    Ok(match limiter.block(&subject, body.seconds, &reason).await {
        Ok(block) => Json(block).into_response(),
        Err(err) => redis_unavailable(&err),
    })
}

async fn unblock(
    State(limiter): State<RateLimiter>,
    caller: Caller,
    Path((scope, key)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    require_admin(&caller)?;
    let subject = Subject::parse(&scope, &key).map_err(ApiError::BadRequest)?;
    tracing::warn!(admin = %caller.user_id, %scope, %key, "rate limits: unblocked by hand");
    Ok(match limiter.unblock(&subject).await {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => ApiError::NotFound.problem().with_detail(format!("no block on {scope} {key}")).into_response(),
        Err(err) => redis_unavailable(&err),
    })
}

fn require_admin(caller: &Caller) -> Result<(), ApiError> {
    if caller.has_role(Role::Admin) {
        Ok(())
    } else {
        Err(ApiError::Forbidden("rate-limit administration is for admins".into()))
    }
}

/// Usage and blocks live in Redis alone: without it there is nothing true
/// to answer, so say so (limits themselves keep working in process).
fn redis_unavailable(err: &redis::RedisError) -> Response {
    tracing::warn!(error = %err, "rate limits: Redis unavailable for the ratelimit API");
    let mut response =
        Problem::new(StatusCode::SERVICE_UNAVAILABLE, "dependency-unavailable", "A dependency is unavailable")
            .with_detail("rate-limit state is unavailable for a moment; retry shortly")
            .into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}
