//! `notifications-api`: the caller's own inbox. Every route reads or marks
//! the caller's notifications only, so any signed-in user may call them;
//! another user's notification is not found.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use tessera_core::content::NotificationId;
use tessera_platform::aws::Aws;
use tessera_platform::cursor::{Page, page_size};
use tessera_platform::http::openapi::{BadRequest, NotFound};
use tessera_platform::http::{ApiError, Caller, with_platform_layers};
use tessera_platform::ratelimit::RateLimiter;
use tessera_platform::redis::Redis;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{InboxConfig, InboxStore, Notification};

/// The routes in the platform layers; connects to nothing yet.
pub fn router(aws: Aws, config: &InboxConfig) -> Result<Router, redis::RedisError> {
    let limiter = RateLimiter::new(&config.rate_limits, Redis::new(&config.redis)?, config.redis.cluster);
    let (routes, _) = routes().split_for_parts();
    let store = InboxStore::new(aws, &config.inbox_table);
    Ok(with_platform_layers(routes.with_state(store), &config.http, &limiter))
}

/// This function's part of the HTTP contract.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().into_openapi()
}

fn routes() -> OpenApiRouter<InboxStore> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(unread_count))
        .routes(routes!(mark_all_read))
        .routes(routes!(mark_read))
}

/// `?limit=&cursor=&unread=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct InboxQuery {
    /// 1 to 100; 25 when left out.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i32>,
    /// The `cursor` of the previous page.
    cursor: Option<String>,
    /// Only the unread.
    unread: Option<bool>,
}

#[derive(Serialize, ToSchema)]
struct UnreadCount {
    unread: u64,
}

#[derive(Serialize, ToSchema)]
struct Marked {
    marked: u64,
}

/// The caller's notifications, newest first.
#[utoipa::path(get, path = "/notifications", operation_id = "listNotifications", tag = "notifications",
    params(InboxQuery),
    responses((status = 200, body = Page<Notification>), (status = 400, response = inline(BadRequest))))]
async fn list(
    State(store): State<InboxStore>,
    caller: Caller,
    Query(query): Query<InboxQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let unread = query.unread.unwrap_or(false);
    let page = store.list(&caller.user_id, unread, page_size(query.limit)?, query.cursor.as_deref()).await?;
    Ok(axum::Json(page))
}

/// How many of the caller's notifications are unread.
#[utoipa::path(get, path = "/notifications/unread-count", operation_id = "unreadCount", tag = "notifications",
    responses((status = 200, body = UnreadCount)))]
async fn unread_count(State(store): State<InboxStore>, caller: Caller) -> Result<impl IntoResponse, ApiError> {
    Ok(axum::Json(UnreadCount { unread: store.unread_count(&caller.user_id).await? }))
}

/// Marks every unread notification of the caller read.
#[utoipa::path(post, path = "/notifications/read-all", operation_id = "markAllNotificationsRead", tag = "notifications",
    responses((status = 200, body = Marked)))]
async fn mark_all_read(State(store): State<InboxStore>, caller: Caller) -> Result<impl IntoResponse, ApiError> {
    Ok(axum::Json(Marked { marked: store.mark_all_read(&caller.user_id).await?.marked }))
}

/// Marks one of the caller's notifications read.
#[utoipa::path(post, path = "/notifications/{notificationId}/read", operation_id = "markNotificationRead", tag = "notifications",
    params(("notificationId" = NotificationId, Path, description = "The notification's id (a ULID)")),
    responses((status = 200, body = Notification), (status = 400, response = inline(BadRequest)), (status = 404, response = inline(NotFound))))]
async fn mark_read(
    State(store): State<InboxStore>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let id = NotificationId::parse(&id).map_err(|bad| ApiError::BadRequest(bad.to_string()))?;
    let marked = store.mark_read(&caller.user_id, &id).await?;
    Ok(axum::Json(marked.ok_or(ApiError::NotFound)?))
}
