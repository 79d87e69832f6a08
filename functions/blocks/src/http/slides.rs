//! Slides: create (appended), rename and move (one item), delete (with blocks).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Deserializer};
use tessera_core::content::{ProjectId, SlideId};
use tessera_platform::http::{ApiError, Caller, Json};

use super::inputs::Titled;
use super::{Access, AppState, authorize, parse_id, rejected};
use crate::store::SlideChanges;

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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateSlide {
    /// The slide's version this update is based on (whole-item condition).
    version: u64,
    title: Option<String>,
    /// Absent: no move; `null`: first; an id: right after that slide.
    #[serde(default, deserialize_with = "present")]
    after: Option<Option<String>>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

/// `PATCH /projects/{projectId}/slides/{slideId}`: rename and/or move.
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
