//! The layers every HTTP function wears: request id, tracing, CORS, rate
//! limits, a body size limit, and problem+json for every error response.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue, Method, Response, header};
use axum::middleware::{self, Next};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use super::identity::gateway_request_id;
use super::problem::{PROBLEM_JSON, Problem};
use crate::config::{ConfigError, Vars};
use crate::ratelimit::RateLimiter;

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Largest request body accepted, in bytes (413 beyond).
    pub max_body_bytes: usize,
    /// Origins allowed by CORS; `*` allows any, none disables CORS.
    pub cors_origins: Vec<String>,
}

impl HttpConfig {
    pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

    pub fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        let origins: String = vars.or("CORS_ALLOWED_ORIGINS", String::new())?;
        Ok(Self {
            max_body_bytes: vars.or("MAX_BODY_BYTES", Self::DEFAULT_MAX_BODY_BYTES)?,
            cors_origins: origins.split(',').map(str::trim).filter(|o| !o.is_empty()).map(str::to_owned).collect(),
        })
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self { max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES, cors_origins: Vec::new() }
    }
}

/// Wraps a function's routes (and its fallback) in the standard layers.
/// Rate limits run inside CORS (a 429 still carries CORS headers, and
/// preflights are never counted) and outside everything that reads the body.
pub fn with_platform_layers(router: Router, config: &HttpConfig, limiter: &RateLimiter) -> Router {
    router
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(RequestBodyLimitLayer::new(config.max_body_bytes))
        .layer(middleware::from_fn(problem_for_bare_errors))
        .layer(middleware::from_fn_with_state(limiter.clone(), super::rate_limit::limit))
        .layer(cors(&config.cors_origins))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    let request_id = request.headers().get(X_REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
                    tracing::info_span!("request", request_id, method = %request.method(), path = %request.uri().path())
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(middleware::from_fn(assign_request_id))
}

/// Uses API Gateway's request id when there is one (so our logs join its
/// access logs), a fresh ULID otherwise; a client-sent id is replaced.
async fn assign_request_id(mut request: Request, next: Next) -> Response<Body> {
    let id = gateway_request_id(request.extensions())
        .and_then(|id| HeaderValue::from_str(id).ok())
        .unwrap_or_else(|| HeaderValue::from_str(&ulid::Ulid::new().to_string()).expect("a ULID is a valid header"));
    request.headers_mut().insert(X_REQUEST_ID, id.clone());
    let mut response = next.run(request).await;
    response.headers_mut().insert(X_REQUEST_ID, id);
    response
}

/// Error responses that no handler shaped (unknown route, wrong method, body
/// limit, extractor rejections) become problem+json too. Extractor messages
/// on 4xx are kept as the detail: they describe the client's own input.
async fn problem_for_bare_errors(request: Request, next: Next) -> Response<Body> {
    let response = next.run(request).await;
    let status = response.status();
    let is_problem = response.headers().get(header::CONTENT_TYPE).is_some_and(|ct| ct == PROBLEM_JSON);
    if is_problem || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let mut problem = Problem::for_status(status);
    let is_text = parts.headers.get(header::CONTENT_TYPE).is_some_and(|ct| ct.as_bytes().starts_with(b"text/plain"));
    if status.is_client_error()
        && is_text
        && let Ok(text) = axum::body::to_bytes(body, 1024).await
    {
        let text = String::from_utf8_lossy(&text).trim().to_owned();
        if !text.is_empty() {
            problem = problem.with_detail(text);
        }
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    let mut shaped = axum::response::IntoResponse::into_response(problem);
    for (name, value) in &parts.headers {
        shaped.headers_mut().entry(name).or_insert_with(|| value.clone());
    }
    shaped
}

fn cors(origins: &[String]) -> CorsLayer {
    let allow_origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([
            header::ETAG,
            header::RETRY_AFTER,
            X_REQUEST_ID,
            super::rate_limit::RATELIMIT,
            super::rate_limit::RATELIMIT_POLICY,
            super::rate_limit::X_RATELIMIT_LIMIT,
            super::rate_limit::X_RATELIMIT_REMAINING,
            super::rate_limit::X_RATELIMIT_RESET,
        ])
        .max_age(Duration::from_secs(600))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use axum::routing::post;
    use tower::ServiceExt;

    fn app() -> Router {
        let config = HttpConfig { max_body_bytes: 16, cors_origins: vec!["https://app.example".into()] };
        // No Redis listens on port 1: the limiter decides in process.
        let redis = crate::redis::Redis::new(&crate::redis::RedisConfig {
            url: "redis://127.0.0.1:1".into(),
            cluster: false,
            timeout: Duration::from_millis(50),
        })
        .unwrap();
        let limiter = RateLimiter::new(&crate::ratelimit::RateLimitConfig::with_prefix("layers-test"), redis, false);
        with_platform_layers(Router::new().route("/echo", post(|body: String| async move { body })), &config, &limiter)
    }

    async fn send(request: Request) -> (StatusCode, Response<Body>, serde_json::Value) {
        let response = app().oneshot(request).await.unwrap();
        let status = response.status();
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (status, Response::from_parts(parts, Body::empty()), json)
    }

    fn post_echo(body: &str) -> Request {
        Request::post("/echo").body(Body::from(body.to_owned())).unwrap()
    }

    #[tokio::test]
    async fn every_response_carries_a_request_id_and_a_client_cannot_choose_it() {
        let mut request = post_echo("hi");
        request.headers_mut().insert(X_REQUEST_ID, HeaderValue::from_static("forged"));
        let (status, response, _) = send(request).await;
        assert_eq!(status, StatusCode::OK);
        let id = response.headers()[X_REQUEST_ID].to_str().unwrap();
        assert_eq!(id.len(), 26, "a ULID, got {id}");
    }

    #[tokio::test]
    async fn an_unknown_route_is_problem_json_with_a_request_id() {
        let (status, response, body) = send(Request::get("/nowhere").body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        assert!(response.headers().contains_key(X_REQUEST_ID));
        assert_eq!(body["type"], "urn:tessera:problem:not-found");
    }

    #[tokio::test]
    async fn a_wrong_method_is_405_problem_json_keeping_allow() {
        let (status, response, body) = send(Request::get("/echo").body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert!(response.headers().contains_key(header::ALLOW));
        assert_eq!(body["status"], 405);
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_413_problem_json() {
        let (status, response, body) = send(post_echo(&"x".repeat(17))).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(body["type"], "urn:tessera:problem:payload-too-large");
    }

    #[tokio::test]
    async fn cors_allows_only_configured_origins() {
        let preflight = |origin: &'static str| {
            Request::options("/echo")
                .header(header::ORIGIN, origin)
                .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
                .body(Body::empty())
                .unwrap()
        };
        let (_, allowed, _) = send(preflight("https://app.example")).await;
        assert_eq!(allowed.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example");
        let (_, refused, _) = send(preflight("https://evil.example")).await;
        assert!(!refused.headers().contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
    }
}
