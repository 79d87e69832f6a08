//! Members: only owners add, change or remove them; the last owner stays.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use tessera_core::UserId;
use tessera_core::content::{ProjectId, ProjectRole};
use tessera_platform::http::{ApiError, Caller, Json};

use super::{Access, AppState, authorize, parse_id, rejected};

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
    state.cache.reset(&project).await;
    Ok(axum::Json(member))
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let project = parse_id(&project, ProjectId::parse)?;
    authorize(&state, &project, &caller, Access::Read).await?;
    Ok(axum::Json(serde_json::json!({"members": state.store.members(&project).await?})))
}

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
