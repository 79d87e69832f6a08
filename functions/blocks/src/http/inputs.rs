//! Request inputs several routes share: page queries, titles, and the
//! `If-Match` and `Idempotency-Key` headers.

use axum::http::{HeaderMap, header};
use serde::Deserialize;
use tessera_platform::http::ApiError;

/// The longest project or slide title.
const MAX_TITLE: usize = 200;

/// A body that only names something: a new project or slide.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Titled {
    /// 1 to 200 characters, not all blank.
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub title: String,
}

impl Titled {
    pub fn validated(self) -> Result<String, ApiError> {
        let title = self.title.trim().to_owned();
        if title.is_empty() || title.chars().count() > MAX_TITLE {
            return Err(ApiError::BadRequest(format!("`title` must be 1 to {MAX_TITLE} characters")));
        }
        Ok(title)
    }
}

/// `?limit=&cursor=` of every list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// 1 to 100; 25 when left out.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i32>,
    /// The `cursor` of the previous page.
    cursor: Option<String>,
}

impl ListQuery {
    pub fn limit(&self) -> Option<i32> {
        self.limit
    }

    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }
}

/// The client's `Idempotency-Key` (so its retries are recognised), else a
/// fresh id (so the SDK's retries are).
pub fn write_id(headers: &HeaderMap) -> Result<String, ApiError> {
    match headers.get("idempotency-key") {
        None => Ok(ulid::Ulid::new().to_string()),
        Some(key) => key
            .to_str()
            .ok()
            .filter(|k| (1..=64).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
            .map(|k| format!("key:{}", k))
            .ok_or_else(|| ApiError::BadRequest("Idempotency-Key must be 1 to 64 printable characters".into())),
    }
}

/// `If-Match: "<version>"` (a strong ETag).
pub fn if_match(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else { return Ok(None) };
    let text = value.to_str().unwrap_or_default().trim();
    text.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .and_then(|version| version.parse().ok())
        .map(Some)
        .ok_or_else(|| ApiError::BadRequest("If-Match must be an ETag this API gave, such as \"3\"".into()))
}
