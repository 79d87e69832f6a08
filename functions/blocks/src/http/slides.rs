//! Slides: create (appended), rename and move (one item), delete (with blocks).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Deserializer};
use tessera_core::content::{ProjectId, SlideId};
use tessera_platform::http::{ApiError, Caller, Json};
use utoipa::ToSchema;

use super::inputs::Titled;
use super::{Access, AppState, authorize, parse_id, rejected};
use crate::store::{Slide, SlideChanges};

/// Appends a slide.
#[utoipa::path(post, path = "/projects/{projectId}/slides", operation_id = "createSlide", tag = "slides",
    params(("projectId" = String, Path, description = "The project's id (a ULID)")),
    request_body = Titled,
    responses((status = 201, body = Slide, links(
            ("createBlock" = (operation_id = "createBlock", parameters(("projectId" = "$request.path.projectId"), ("slideId" = "$response.body#/id")))),
            ("listSlideBlocks" = (operation_id = "listSlideBlocks", parameters(("projectId" = "$request.path.projectId"), ("slideId" = "$response.body#/id")))),
            ("updateSlide" = (operation_id = "updateSlide", parameters(("projectId" = "$request.path.projectId"), ("slideId" = "$response.body#/id")))),
            ("deleteSlide" = (operation_id = "deleteSlide", parameters(("projectId" = "$request.path.projectId"), ("slideId" = "$response.body#/id"))))
        )), (status = 400, response = inline(tessera_platform::http::openapi::BadRequest)), (status = 403, response = inline(tessera_platform::http::openapi::Forbidden)), (status = 404, response = inline(tessera_platform::http::openapi::NotFound))))]
pub async fn create_slide(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    Json(body): Json<Titled>,
) -> Result<impl IntoResponse, ApiError> {
    let project = parse_id(&project, ProjectId::parse)?;
    authorize(&state, &project, &caller, Access::Write).await?;
    let id = SlideId::parse(&ulid::Ulid::new().to_string()).map_err(anyhow::Error::from)?;
    let slide = state.store.create_slide(&project, id, body.validated()?, &caller.user_id).await?;
    state.cache.put_slide(&slide).await;
    Ok((StatusCode::CREATED, axum::Json(slide)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateSlide {
    /// The slide's version this update is based on (whole-item condition).
    version: u64,
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    title: Option<String>,
    /// Absent: no move; `null`: first; an id: right after that slide.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<SlideId>)]
    after: Option<Option<String>>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

/// `PATCH /projects/{projectId}/slides/{slideId}`: rename and/or move.
#[utoipa::path(patch, path = "/projects/{projectId}/slides/{slideId}", operation_id = "updateSlide", tag = "slides",
    params(("projectId" = String, Path, description = "The project's id (a ULID)"), ("slideId" = String, Path, description = "The slide's id (a ULID)")),
    request_body = UpdateSlide,
    responses((status = 200, body = Slide), (status = 400, response = inline(tessera_platform::http::openapi::BadRequest)), (status = 403, response = inline(tessera_platform::http::openapi::Forbidden)), (status = 404, response = inline(tessera_platform::http::openapi::NotFound)), (status = 409, response = inline(tessera_platform::http::openapi::Conflict))))]
pub async fn update_slide(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, slide)): Path<(String, String)>,
    Json(body): Json<UpdateSlide>,
) -> Result<impl IntoResponse, ApiError> {
    let project = parse_id(&project, ProjectId::parse)?;
    let slide = parse_id(&slide, SlideId::parse)?;
    authorize(&state, &project, &caller, Access::Write).await?;
    let title = body.title.map(|title| Titled { title }.validated()).transpose()?;
    let move_after = match body.after {
        None => None,
        Some(None) => Some(None),
        Some(Some(id)) => {
            Some(Some(SlideId::parse(&id).map_err(|_| ApiError::BadRequest(format!("`after`: no slide `{id}`")))?))
        }
    };
    if title.is_none() && move_after.is_none() {
        return Err(ApiError::BadRequest("give a `title`, an `after`, or both".into()));
    }
    let changes = SlideChanges { title, move_after };
    let slide = state.store.update_slide(&project, &slide, changes, body.version, &caller.user_id).await;
    let slide = slide.map_err(|r| rejected(r, "`after` names no other slide of this project"))?;
    state.cache.put_slide(&slide).await;
    Ok(axum::Json(slide))
}

/// `DELETE /projects/{projectId}/slides/{slideId}`: the slide and its blocks.
#[utoipa::path(delete, path = "/projects/{projectId}/slides/{slideId}", operation_id = "deleteSlide", tag = "slides",
    params(("projectId" = String, Path, description = "The project's id (a ULID)"), ("slideId" = String, Path, description = "The slide's id (a ULID)")),
    responses((status = 204, description = "Deleted with its blocks"), (status = 400, response = inline(tessera_platform::http::openapi::BadRequest)), (status = 403, response = inline(tessera_platform::http::openapi::Forbidden)), (status = 404, response = inline(tessera_platform::http::openapi::NotFound))))]
pub async fn delete_slide(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, slide)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let project = parse_id(&project, ProjectId::parse)?;
    let slide = parse_id(&slide, SlideId::parse)?;
    authorize(&state, &project, &caller, Access::Write).await?;
    if !state.store.delete_slide(&project, &slide).await? {
        return Err(ApiError::NotFound);
    }
    state.cache.remove_slide(&project, &slide).await;
    Ok(StatusCode::NO_CONTENT)
}
