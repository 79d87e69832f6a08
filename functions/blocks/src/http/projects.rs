//! Projects: create, list, the whole tree, rename, delete.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use tessera_core::content::ProjectId;
use tessera_platform::cursor::page_size;
use tessera_platform::http::{ApiError, Caller, Json};
use utoipa::ToSchema;

use super::inputs::{ListQuery, Titled, if_match};
use super::{Access, AppState, allows, authorize, parse_id, rejected};
use crate::store::{Page, Project, ProjectTree};

#[utoipa::path(post, path = "/projects", operation_id = "createProject", tag = "projects",
    request_body = Titled,
    // Links: where a client (and the fuzzer's stateful phase) goes next with the new id.
    responses((status = 201, body = Project, links(
            ("getProjectTree" = (operation_id = "getProjectTree", parameters(("projectId" = "$response.body#/id")))),
            ("updateProject" = (operation_id = "updateProject", parameters(("projectId" = "$response.body#/id")))),
            ("deleteProject" = (operation_id = "deleteProject", parameters(("projectId" = "$response.body#/id")))),
            ("createSlide" = (operation_id = "createSlide", parameters(("projectId" = "$response.body#/id")))),
            ("listMembers" = (operation_id = "listMembers", parameters(("projectId" = "$response.body#/id")))),
            ("putMember" = (operation_id = "putMember", parameters(("projectId" = "$response.body#/id")))),
            ("removeMember" = (operation_id = "removeMember", parameters(("projectId" = "$response.body#/id")))),
            ("batchGetBlocks" = (operation_id = "batchGetBlocks", parameters(("projectId" = "$response.body#/id"))))
        )), (status = 400, response = inline(tessera_platform::http::openapi::BadRequest))))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<Titled>,
) -> Result<impl IntoResponse, ApiError> {
    let id = ProjectId::parse(&ulid::Ulid::new().to_string()).map_err(anyhow::Error::from)?;
    let project = state.store.create_project(id, body.validated()?, &caller.user_id).await?;
    Ok((StatusCode::CREATED, axum::Json(project)))
}

/// `GET /projects/{projectId}`: meta, slides in order, their blocks.
#[utoipa::path(get, path = "/projects/{projectId}", operation_id = "getProjectTree", tag = "projects",
    params(("projectId" = String, Path, description = "The project's id (a ULID)")),
    responses((status = 200, body = ProjectTree), (status = 404, response = inline(tessera_platform::http::openapi::NotFound))))]
pub async fn tree(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let project = parse_id(&project, ProjectId::parse)?;
    let tree = state.cache.tree(&project, &caller.user_id, || state.store.project_image(&project)).await?;
    let tree = tree.ok_or(ApiError::NotFound)?;
    allows(tree.role, Access::Read)?;
    Ok(([(header::CONTENT_TYPE, "application/json")], tree.json))
}

/// `GET /projects`: the caller's projects, a page at a time.
#[utoipa::path(get, path = "/projects", operation_id = "listProjects", tag = "projects",
    params(ListQuery),
    responses((status = 200, body = Page<Project>), (status = 400, response = inline(tessera_platform::http::openapi::BadRequest))))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let page = state.store.projects_of(&caller.user_id, page_size(query.limit())?, query.cursor()).await;
    Ok(axum::Json(page?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProject {
    /// The project's version this rename is based on.
    version: u64,
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    title: String,
}

/// `PATCH /projects/{projectId}`: the meta, under a whole-item version condition.
#[utoipa::path(patch, path = "/projects/{projectId}", operation_id = "updateProject", tag = "projects",
    params(("projectId" = String, Path, description = "The project's id (a ULID)")),
    request_body = UpdateProject,
    responses((status = 200, body = Project), (status = 400, response = inline(tessera_platform::http::openapi::BadRequest)), (status = 403, response = inline(tessera_platform::http::openapi::Forbidden)), (status = 404, response = inline(tessera_platform::http::openapi::NotFound)), (status = 409, response = inline(tessera_platform::http::openapi::Conflict))))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    Json(body): Json<UpdateProject>,
) -> Result<impl IntoResponse, ApiError> {
    let project = parse_id(&project, ProjectId::parse)?;
    authorize(&state, &project, &caller, Access::Write).await?;
    let title = Titled { title: body.title }.validated()?;
    let updated = state.store.update_project(&project, title, body.version, &caller.user_id).await;
    let updated = updated.map_err(|r| rejected(r, "no such item"))?;
    state.cache.put_project(&updated).await;
    Ok(axum::Json(updated))
}

/// `DELETE /projects/{projectId}`: owners only; with `If-Match`, only at that
/// version. The meta goes at once, so the project is gone for everyone; the
/// rest of its partition is purged from the table's stream (`purge`).
#[utoipa::path(delete, path = "/projects/{projectId}", operation_id = "deleteProject", tag = "projects",
    params(("projectId" = String, Path, description = "The project's id (a ULID)"), ("If-Match" = Option<String>, Header, description = "`\"<version>\"`: only if the item is still at this version (else 412)")),
    responses((status = 204, description = "Gone for everyone; its slides and blocks are purged after"), (status = 400, response = inline(tessera_platform::http::openapi::BadRequest)), (status = 403, response = inline(tessera_platform::http::openapi::Forbidden)), (status = 404, response = inline(tessera_platform::http::openapi::NotFound)), (status = 412, response = inline(tessera_platform::http::openapi::PreconditionFailed))))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let project = parse_id(&project, ProjectId::parse)?;
    authorize(&state, &project, &caller, Access::Manage).await?;
    let version = if_match(&headers)?;
    state.store.delete_project(&project, version).await.map_err(|r| rejected(r, "no such item"))?;
    state.cache.reset(&project).await;
    Ok(StatusCode::NO_CONTENT)
}
