//! `POST /projects`, members, and slides.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use tessera_core::UserId;
use tessera_core::content::{ProjectId, ProjectRole, SlideId};
use tessera_platform::http::{ApiError, Caller, Json};

use super::{Access, AppState, authorize, parse_id};

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
