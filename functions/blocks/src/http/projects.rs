//! Projects: create, list, the whole tree, rename, delete.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use tessera_core::content::ProjectId;
use tessera_platform::http::{ApiError, Caller, Json};

use super::inputs::{ListQuery, Titled, if_match, page_size};
use super::{Access, AppState, allows, authorize, list_error, parse_id, rejected};

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
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let page = state.store.projects_of(&caller.user_id, page_size(query.limit())?, query.cursor()).await;
    Ok(axum::Json(page.map_err(list_error)?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateProject {
    version: u64,
    title: String,
}

/// `PATCH /projects/{projectId}`: the meta, under a whole-item version condition.
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
