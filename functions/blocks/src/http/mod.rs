//! The blocks HTTP API. Every route behind the JWT authorizer checks the
//! caller's membership first: a non-member gets 404 (the project's existence
//! is not theirs to know), a viewer gets 403 on every write, and only owners
//! manage members.

mod blocks;
mod inputs;
mod members;
mod projects;
mod slides;

use axum::Router;
use axum::http::StatusCode;
use serde::Serialize;
use tessera_core::content::{InvalidId, ProjectId, ProjectRole};
use tessera_platform::aws::Aws;
use tessera_platform::http::{ApiError, Caller, Problem, with_platform_layers};
use tessera_platform::ratelimit::RateLimiter;
use tessera_platform::redis::Redis;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use std::sync::Arc;

use crate::cache::ProjectCache;
use crate::config::Config;
use crate::events::EventQueue;
use crate::store::{ContentStore, ItemRejected};

#[derive(Clone)]
pub struct AppState {
    pub store: ContentStore,
    pub cache: Arc<ProjectCache>,
    pub events: EventQueue,
    pub limiter: RateLimiter,
}

impl AppState {
    /// The store, cache and event queue `config` names; connects to nothing yet.
    pub fn new(aws: Aws, config: &Config) -> Result<Self, redis::RedisError> {
        let redis = Redis::new(&config.redis)?;
        Ok(Self {
            store: ContentStore::new(aws.clone(), &config.content_table),
            cache: Arc::new(ProjectCache::new(redis.clone(), config.cache)),
            events: EventQueue::new(aws, &config.events_queue_url),
            limiter: RateLimiter::new(&config.rate_limits, redis, config.redis.cluster),
        })
    }
}

pub fn router(state: AppState, config: &Config) -> Router {
    let limiter = state.limiter.clone();
    let (routes, _) = routes().split_for_parts();
    with_platform_layers(routes.with_state(state), &config.http, &limiter)
}

/// The routes and their contract, documented together so neither drifts.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(projects::create, projects::list))
        .routes(routes!(projects::tree, projects::update, projects::delete))
        .routes(routes!(members::list))
        .routes(routes!(members::put_member, members::remove))
        .routes(routes!(slides::create_slide))
        .routes(routes!(slides::update_slide, slides::delete_slide))
        .routes(routes!(blocks::create, blocks::list_of_slide))
        .routes(routes!(blocks::batch_get))
        .routes(routes!(blocks::get, blocks::patch, blocks::delete))
}

/// What a route needs of the caller's role.
#[derive(Debug, Clone, Copy)]
enum Access {
    Read,
    Write,
    Manage,
}

/// The caller's role, if it allows `access`: from the cached project when
/// it is held, else from DynamoDB.
async fn authorize(
    state: &AppState,
    project: &ProjectId,
    caller: &Caller,
    access: Access,
) -> Result<ProjectRole, ApiError> {
    let role = state.cache.role(project, &caller.user_id, || state.store.role_of(project, &caller.user_id)).await?;
    allows(role, access)
}

/// A non-member learns nothing (404); a member without the rights gets 403.
fn allows(role: Option<ProjectRole>, access: Access) -> Result<ProjectRole, ApiError> {
    let Some(role) = role else {
        return Err(ApiError::NotFound);
    };
    let allowed = match access {
        Access::Read => role.can_read(),
        Access::Write => role.can_write(),
        Access::Manage => role.can_manage(),
    };
    match (allowed, access) {
        (true, _) => Ok(role),
        (false, Access::Manage) => Err(ApiError::Forbidden("only owners manage members".into())),
        (false, _) => Err(ApiError::Forbidden("viewers cannot change the project".into())),
    }
}

/// A malformed id names nothing: 404, as for an id that does not exist.
fn parse_id<T>(raw: &str, parse: fn(&str) -> Result<T, InvalidId>) -> Result<T, ApiError> {
    parse(raw).map_err(|_| ApiError::NotFound)
}

/// A whole-item write that did not commit, as problem+json: 404, 409 with
/// the current item, or 400 saying what `bad_reference` means here.
fn rejected<T: Serialize>(rejection: ItemRejected<T>, bad_reference: &str) -> ApiError {
    match rejection {
        ItemRejected::NotFound => ApiError::NotFound,
        ItemRejected::BadReference => ApiError::BadRequest(bad_reference.into()),
        ItemRejected::Stale { current } => match serde_json::to_value(*current) {
            Ok(current) => Problem::new(StatusCode::CONFLICT, "conflict", "It changed since your version")
                .with_extension("current", current)
                .into(),
            Err(error) => anyhow::Error::from(error).into(),
        },
        ItemRejected::Unexpected(error) => error.into(),
    }
}
