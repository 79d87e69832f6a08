//! `GET /rate-limits` for every caller; the `/admin/rate-limits` routes for admins.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tessera_core::ratelimit::Subject;
use tessera_core::{Role, Tier};
use tessera_platform::http::openapi::{BadRequest, Forbidden, NotFound, ServiceUnavailable};
use tessera_platform::http::{ApiError, Caller, Problem};
use tessera_platform::ratelimit::{Block, RateLimiter, Requester, RuleStatus};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The longest block an admin can set: 30 days.
const MAX_BLOCK_SECONDS: u64 = 30 * 24 * 3600;

/// The routes and their contract, documented together so neither drifts.
pub fn routes() -> OpenApiRouter<RateLimiter> {
    OpenApiRouter::new()
        .routes(routes!(usage))
        .routes(routes!(policies))
        .routes(routes!(blocks))
        .routes(routes!(block, unblock))
}

/// The caller's usage of every rule that counts them.
#[derive(Serialize, ToSchema)]
struct Usage {
    #[schema(value_type = String, example = "free")]
    tier: Tier,
    rules: Vec<RuleStatus>,
}

#[derive(Serialize, ToSchema)]
struct Blocks {
    blocks: Vec<Block>,
}

/// Your usage of every rule that counts you: per user (per IP without an
/// identity), per IP, global.
#[utoipa::path(get, path = "/rate-limits", operation_id = "getRateLimits", tag = "rate limits",
    responses((status = 200, body = Usage), (status = 503, response = inline(ServiceUnavailable))))]
async fn usage(State(limiter): State<RateLimiter>, caller: Caller) -> Result<Response, ApiError> {
    let who =
        Requester { user: Some(caller.user_id.clone()), tier: caller.tier, ip: caller.source_ip, connection: None };
    match limiter.usage(&who).await {
        Ok(rules) => Ok(Json(Usage { tier: caller.tier, rules }).into_response()),
        Err(err) => Ok(redis_unavailable(&err)),
    }
}

/// The policy file in force (`infra/rate-limits.yaml`), as JSON. Admins only.
#[utoipa::path(get, path = "/admin/rate-limits/policies", operation_id = "getRateLimitPolicies", tag = "rate limits",
    responses((status = 200, body = Object), (status = 403, response = inline(Forbidden))))]
async fn policies(State(limiter): State<RateLimiter>, caller: Caller) -> Result<Json<Value>, ApiError> {
    require_admin(&caller)?;
    Ok(Json(serde_json::to_value(limiter.policies().source()).map_err(anyhow::Error::from)?))
}

/// Blocks in force, set by hand or for abuse. Admins only.
#[utoipa::path(get, path = "/admin/rate-limits/blocks", operation_id = "listRateLimitBlocks", tag = "rate limits",
    responses((status = 200, body = Blocks), (status = 403, response = inline(Forbidden)),
        (status = 503, response = inline(ServiceUnavailable))))]
async fn blocks(State(limiter): State<RateLimiter>, caller: Caller) -> Result<Response, ApiError> {
    require_admin(&caller)?;
    Ok(match limiter.blocks().await {
        Ok(blocks) => Json(Blocks { blocks }).into_response(),
        Err(err) => redis_unavailable(&err),
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct BlockRequest {
    /// How long, up to 30 days.
    #[schema(minimum = 1, maximum = 2592000)]
    seconds: u64,
    /// Shown to admins; "blocked by <you>" when left out.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200)]
    reason: Option<String>,
}

/// Blocks a user or an IP from the whole API. Admins only.
#[utoipa::path(put, path = "/admin/rate-limits/blocks/{scope}/{key}", operation_id = "putRateLimitBlock", tag = "rate limits",
    params(("scope" = String, Path, description = "`user` or `ip`"), ("key" = String, Path, description = "The user id or IP address")),
    request_body = BlockRequest,
    responses((status = 200, body = Block), (status = 400, response = inline(BadRequest)),
        (status = 403, response = inline(Forbidden)), (status = 503, response = inline(ServiceUnavailable))))]
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

/// Lifts a block. Admins only.
#[utoipa::path(delete, path = "/admin/rate-limits/blocks/{scope}/{key}", operation_id = "deleteRateLimitBlock", tag = "rate limits",
    params(("scope" = String, Path, description = "`user` or `ip`"), ("key" = String, Path, description = "The user id or IP address")),
    responses((status = 204, description = "Lifted"), (status = 400, response = inline(BadRequest)),
        (status = 403, response = inline(Forbidden)), (status = 404, response = inline(NotFound)),
        (status = 503, response = inline(ServiceUnavailable))))]
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
