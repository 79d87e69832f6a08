//! The blocks HTTP API. Every route behind the JWT authorizer checks the
//! caller's membership first: a non-member gets 404 (the project's existence
//! is not theirs to know), a viewer gets 403 on every write, and only owners
//! manage members.

mod blocks;
mod projects;

use axum::Router;
use axum::routing::{get, patch, post, put};
use tessera_core::content::{InvalidId, ProjectId, ProjectRole};
use tessera_platform::http::{ApiError, Caller, with_platform_layers};

use crate::config::Config;
use crate::store::ContentStore;

#[derive(Clone)]
pub struct AppState {
    pub store: ContentStore,
}

pub fn router(store: ContentStore, config: &Config) -> Router {
    let routes = Router::new()
        .route("/projects", post(projects::create))
        .route("/projects/{projectId}/members/{userId}", put(projects::put_member))
        .route("/projects/{projectId}", get(projects::tree))
        .route("/projects/{projectId}/slides", post(projects::create_slide))
        .route("/projects/{projectId}/slides/{slideId}", patch(projects::update_slide))
        .route("/projects/{projectId}/slides/{slideId}/blocks", post(blocks::create))
        .route("/projects/{projectId}/blocks/{blockId}", get(blocks::get).patch(blocks::patch).delete(blocks::delete))
        .with_state(AppState { store });
    with_platform_layers(routes, &config.http)
}

/// What a route needs of the caller's role.
#[derive(Debug, Clone, Copy)]
enum Access {
    Read,
    Write,
    Manage,
}

/// The caller's role, if it allows `access`.
async fn authorize(
    state: &AppState,
    project: &ProjectId,
    caller: &Caller,
    access: Access,
) -> Result<ProjectRole, ApiError> {
    let Some(role) = state.store.role_of(project, &caller.user_id).await? else {
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
