//! Members: only owners add, change or remove them; the last owner stays.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use tessera_core::UserId;
use tessera_core::content::{ProjectId, ProjectRole};
use tessera_platform::http::{ApiError, Caller, Json};
use utoipa::ToSchema;

use super::{Access, AppState, authorize, parse_id, rejected};
use crate::store::Member;

#[derive(Serialize, ToSchema)]
pub struct Members {
    members: Vec<Member>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    role: ProjectRole,
}

#[utoipa::path(put, path = "/projects/{projectId}/members/{userId}", operation_id = "putMember", tag = "members",
    params(("projectId" = String, Path, description = "The project's id (a ULID)"), ("userId" = String, Path, description = "The member's user id")),
    request_body = RoleBody,
    responses((status = 200, body = Member), (status = 400, response = inline(tessera_platform::http::openapi::BadRequest)), (status = 403, response = inline(tessera_platform::http::openapi::Forbidden)), (status = 404, response = inline(tessera_platform::http::openapi::NotFound)), (status = 409, response = inline(tessera_platform::http::openapi::Conflict))))]
pub async fn put_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, user)): Path<(String, String)>,
    Json(body): Json<RoleBody>,
) -> Result<impl IntoResponse, ApiError> {
    let project = parse_id(&project, ProjectId::parse)?;
    let user = UserId::parse(&user).map_err(|_| ApiError::NotFound)?;
    authorize(&state, &project, &caller, Access::Manage).await?;
    let member = state.store.put_member(&project, &user, body.role, &caller.user_id).await?;
    state.cache.reset(&project).await;
    Ok(axum::Json(member))
}

/// The project's members and their roles.
#[utoipa::path(get, path = "/projects/{projectId}/members", operation_id = "listMembers", tag = "members",
    params(("projectId" = String, Path, description = "The project's id (a ULID)")),
    responses((status = 200, body = Members), (status = 404, response = inline(tessera_platform::http::openapi::NotFound))))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let project = parse_id(&project, ProjectId::parse)?;
    authorize(&state, &project, &caller, Access::Read).await?;
    Ok(axum::Json(Members { members: state.store.members(&project).await? }))
}

#[utoipa::path(delete, path = "/projects/{projectId}/members/{userId}", operation_id = "removeMember", tag = "members",
    params(("projectId" = String, Path, description = "The project's id (a ULID)"), ("userId" = String, Path, description = "The member's user id")),
    responses((status = 204, description = "Removed"), (status = 400, response = inline(tessera_platform::http::openapi::BadRequest)), (status = 403, response = inline(tessera_platform::http::openapi::Forbidden)), (status = 404, response = inline(tessera_platform::http::openapi::NotFound)), (status = 409, response = inline(tessera_platform::http::openapi::Conflict))))]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, user)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let project = parse_id(&project, ProjectId::parse)?;
    let user = UserId::parse(&user).map_err(|_| ApiError::NotFound)?;
    authorize(&state, &project, &caller, Access::Manage).await?;
    match state.store.remove_member(&project, &user).await {
        Ok(true) => {
            state.cache.reset(&project).await;
            Ok(StatusCode::NO_CONTENT)
        }
        Ok(false) => Err(ApiError::NotFound),
        Err(rejection) => Err(rejected(rejection, "a project keeps at least one owner")),
    }
}
