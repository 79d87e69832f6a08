//! `/health` (liveness), `/health/ready` (readiness), `/health/detailed`
//! (admins), and `/openapi.json`, the whole API's contract.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use tessera_core::Role;
use tessera_platform::http::openapi::{Forbidden, ServiceUnavailable};
use tessera_platform::http::{ApiError, Caller, Problem};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::HealthState;
use crate::dependencies::{Check, Status, check_all};

/// The routes and their contract, documented together so neither drifts.
pub fn routes() -> OpenApiRouter<HealthState> {
    OpenApiRouter::new()
        .routes(routes!(live))
        .routes(routes!(ready))
        .routes(routes!(detailed))
        .routes(routes!(contract))
}

/// The routes with the invocation counter, on `state`.
pub fn router(state: HealthState) -> axum::Router {
    let (router, _) = routes().split_for_parts();
    router.layer(middleware::from_fn_with_state(state.clone(), count_invocation)).with_state(state)
}

/// The contract of the whole API, checked in at the workspace root and
/// held to the code by a test (`cargo run -p tessera-openapi` writes it).
const CONTRACT: &str = include_str!("../../../openapi.json");

/// Counts the requests this execution environment served: the first one is
/// the cold start.
async fn count_invocation(State(state): State<HealthState>, request: Request, next: Next) -> Response {
    state.inner.invocations.fetch_add(1, Ordering::Relaxed);
    next.run(request).await
}

/// Liveness: touches nothing; the process answers, so it is alive.
#[utoipa::path(get, path = "/health", operation_id = "live", tag = "health", security(()),
    responses((status = 200, body = Object, example = json!({"status": "ok"}))))]
async fn live() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness: every dependency (DynamoDB, SQS, Redis) checked at once, each
/// with its status and latency.
#[utoipa::path(get, path = "/health/ready", operation_id = "ready", tag = "health", security(()),
    responses((status = 200, body = Object), (status = 503, response = inline(ServiceUnavailable))))]
async fn ready(State(state): State<HealthState>) -> Response {
    let checks = check_all(&state.inner.dependencies, state.inner.check_timeout).await;
    let failed: Vec<&str> = checks.iter().filter(|c| c.status == Status::Down).map(|c| c.name).collect();
    if failed.is_empty() {
        return Json(json!({"status": "ready", "checks": by_name(&checks)})).into_response();
    }
    Problem::new(StatusCode::SERVICE_UNAVAILABLE, "dependency-unavailable", "A dependency is unavailable")
        .with_detail(format!("unavailable: {}", failed.join(", ")))
        .with_extension("failed", failed)
        .with_extension("checks", by_name(&checks))
        .into_response()
}

/// The checks, with the version, cold start, uptime and memory. Admins only.
#[utoipa::path(get, path = "/health/detailed", operation_id = "detailedHealth", tag = "health",
    responses((status = 200, body = Object), (status = 403, response = inline(Forbidden))))]
async fn detailed(State(state): State<HealthState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    if !caller.has_role(Role::Admin) {
        return Err(ApiError::Forbidden("the detailed health report is for admins".into()));
    }
    let inner = &state.inner;
    let checks = check_all(&inner.dependencies, inner.check_timeout).await;
    let all_up = checks.iter().all(|c| c.status == Status::Up);
    Ok(Json(json!({
        "status": if all_up { "ready" } else { "degraded" },
        "checks": by_name(&checks),
        "version": env!("CARGO_PKG_VERSION"),
        "coldStart": inner.invocations.load(Ordering::Relaxed) == 1,
        "invocations": inner.invocations.load(Ordering::Relaxed),
        "uptimeSeconds": inner.started.elapsed().as_secs_f64(),
        "memory": {"rssBytes": resident_memory_bytes(), "limitMb": inner.memory_limit_mb},
    })))
}

fn by_name(checks: &[Check]) -> Value {
    let map: Map<String, Value> =
        checks.iter().map(|c| (c.name.to_owned(), serde_json::to_value(c).unwrap_or(Value::Null))).collect();
    Value::Object(map)
}

/// Resident set size from procfs (Lambda runs Linux); `None` elsewhere.
fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(get, path = "/openapi.json", operation_id = "openapi", tag = "health", security(()),
    responses((status = 200, body = Object, description = "The OpenAPI 3.1 document")))]
async fn contract() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], CONTRACT)
}
