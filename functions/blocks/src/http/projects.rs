//! `POST /projects`, members, and slides.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Deserializer};
use tessera_core::UserId;
use tessera_core::content::{ProjectId, ProjectRole, SlideId};
use tessera_platform::http::{ApiError, Caller, Json, Problem};

use super::{Access, AppState, authorize, parse_id};
use crate::store::{ItemRejected, SlideChanges};

/// The longest project or slide title.
const MAX_TITLE: usize = 200;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Titled {
    title: String,
}

impl Titled {
    fn validated(self) -> Result<String, ApiError> {
        let title = self.title.trim().to_owned();
        if title.is_empty() || title.chars().count() > MAX_TITLE {
            return Err(ApiError::BadRequest(format!("`title` must be 1 to {MAX_TITLE} characters")));
        }
        Ok(title)
    }
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<Titled>,
) -> Result<impl IntoResponse, ApiError> {
    let id = ProjectId::parse(&ulid::Ulid::new().to_string()).map_err(anyhow::Error::from)?;
    let project = state.store.create_project(id, body.validated()?, &caller.user_id).await?;
    Ok((StatusCode::CREATED, axum::Json(project)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    role: ProjectRole,
}

pub async fn put_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, user)): Path<(String, String)>,
    Json(body): Json<RoleBody>,
) -> Result<impl IntoResponse, ApiError> {
    let project = parse_id(&project, ProjectId::parse)?;
    let user = UserId::parse(&user).map_err(|_| ApiError::NotFound)?;
    authorize(&state, &project, &caller, Access::Manage).await?;
    let member = state.store.put_member(&project, &user, body.role).await?;
    Ok(axum::Json(member))
}

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
    Ok((StatusCode::CREATED, axum::Json(slide)))
}

/// `GET /projects/{projectId}`: meta, slides in order, their blocks.
pub async fn tree(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let project = parse_id(&project, ProjectId::parse)?;
    authorize(&state, &project, &caller, Access::Read).await?;
    let tree = state.store.project_tree(&project).await?.ok_or(ApiError::NotFound)?;
    Ok(axum::Json(tree))
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
    match state.store.update_slide(&project, &slide, changes, body.version, &caller.user_id).await {
        Ok(slide) => Ok(axum::Json(slide)),
        Err(ItemRejected::NotFound) => Err(ApiError::NotFound),
        Err(ItemRejected::BadReference) => {
            Err(ApiError::BadRequest("`after` names no other slide of this project".into()))
        }
        Err(ItemRejected::Stale { current }) => {
            Err(Problem::new(StatusCode::CONFLICT, "conflict", "The slide changed since your version")
                .with_extension("current", serde_json::to_value(*current).map_err(anyhow::Error::from)?)
                .into())
        }
        Err(ItemRejected::Unexpected(error)) => Err(error.into()),
    }
}
