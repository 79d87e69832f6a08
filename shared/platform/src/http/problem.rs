//! Errors as RFC 9457 `application/problem+json`.
//!
//! A client sees a stable `type`, a title, the status and, for its own
//! mistakes, a detail. Server faults render a generic body; their cause chain
//! goes to the log with the request's id, never to the client.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

pub const PROBLEM_JSON: &str = "application/problem+json";

/// A problem details document.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub status: StatusCode,
    /// The last segment of the `type` URI, e.g. `not-found`.
    pub kind: &'static str,
    pub title: &'static str,
    pub detail: Option<String>,
    /// Extension members (RFC 9457 §3.2), e.g. the current state on a conflict.
    pub extensions: Map<String, Value>,
}

impl Problem {
    pub fn new(status: StatusCode, kind: &'static str, title: &'static str) -> Self {
        Self { status, kind, title, detail: None, extensions: Map::new() }
    }

    /// The generic problem for a status, for responses no handler shaped.
    pub fn for_status(status: StatusCode) -> Self {
        let (kind, title) = match status {
            StatusCode::BAD_REQUEST => ("bad-request", "The request is malformed"),
            StatusCode::UNAUTHORIZED => ("unauthorized", "Authentication is required"),
            StatusCode::FORBIDDEN => ("forbidden", "You may not do this"),
            StatusCode::NOT_FOUND => ("not-found", "Nothing is here"),
            StatusCode::METHOD_NOT_ALLOWED => ("method-not-allowed", "This method is not allowed here"),
            StatusCode::PAYLOAD_TOO_LARGE => ("payload-too-large", "The request body is too large"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported-media-type", "The content type is not supported"),
            StatusCode::UNPROCESSABLE_ENTITY => ("invalid-body", "The request body is invalid"),
            StatusCode::TOO_MANY_REQUESTS => ("too-many-requests", "Too many requests"),
            StatusCode::SERVICE_UNAVAILABLE => ("unavailable", "The service is unavailable"),
            StatusCode::GATEWAY_TIMEOUT => ("timeout", "The request timed out"),
            status if status.is_client_error() => ("client-error", "The request cannot be served"),
            _ => ("internal", "Something went wrong on our side"),
        };
        Self::new(status, kind, title)
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_extension(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.extensions.insert(name.into(), value.into());
        self
    }

    pub fn type_uri(&self) -> String {
        format!("urn:tessera:problem:{}", self.kind)
    }

    pub fn to_json(&self) -> Value {
        let mut body = Map::new();
        body.insert("type".into(), self.type_uri().into());
        body.insert("title".into(), self.title.into());
        body.insert("status".into(), self.status.as_u16().into());
        if let Some(detail) = &self.detail {
            body.insert("detail".into(), detail.as_str().into());
        }
        for (name, value) in &self.extensions {
            body.entry(name.clone()).or_insert_with(|| value.clone());
        }
        Value::Object(body)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.to_json())).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response
    }
}

/// What a handler can fail with. Handlers return `Result<_, ApiError>` and
/// use `?` on anything unexpected (it becomes `Internal`).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    /// A fully shaped problem, e.g. a conflict carrying the current state.
    #[error("{} ({})", .0.title, .0.status)]
    Problem(Box<Problem>),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<Problem> for ApiError {
    fn from(problem: Problem) -> Self {
        Self::Problem(Box::new(problem))
    }
}

impl ApiError {
    pub fn problem(&self) -> Problem {
        match self {
            Self::BadRequest(detail) => Problem::for_status(StatusCode::BAD_REQUEST).with_detail(detail),
            Self::Unauthorized(detail) => Problem::for_status(StatusCode::UNAUTHORIZED).with_detail(detail),
            Self::Forbidden(detail) => Problem::for_status(StatusCode::FORBIDDEN).with_detail(detail),
            Self::NotFound => Problem::for_status(StatusCode::NOT_FOUND),
            Self::Problem(problem) => (**problem).clone(),
            Self::Internal(_) => Problem::for_status(StatusCode::INTERNAL_SERVER_ERROR),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(cause) = &self {
            tracing::error!(error = format!("{cause:#}"), "request failed");
        }
        self.problem().into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context as _;

    async fn render(error: ApiError) -> (StatusCode, String, Value) {
        let response = error.into_response();
        let status = response.status();
        let content_type = response.headers()[header::CONTENT_TYPE].to_str().unwrap().to_owned();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, content_type, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn client_errors_render_as_problem_json_with_their_detail() {
        let (status, content_type, body) = render(ApiError::BadRequest("`title` must be a string".into())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(content_type, PROBLEM_JSON);
        assert_eq!(body["type"], "urn:tessera:problem:bad-request");
        assert_eq!(body["status"], 400);
        assert_eq!(body["detail"], "`title` must be a string");
        assert!(body["title"].is_string());
    }

    #[tokio::test]
    async fn each_variant_maps_to_its_status() {
        let cases = [
            (ApiError::Unauthorized("no token".into()), StatusCode::UNAUTHORIZED),
            (ApiError::Forbidden("admins only".into()), StatusCode::FORBIDDEN),
            (ApiError::NotFound, StatusCode::NOT_FOUND),
            (anyhow::anyhow!("boom").into(), StatusCode::INTERNAL_SERVER_ERROR),
        ];
        for (error, expected) in cases {
            let (status, content_type, body) = render(error).await;
            assert_eq!((status, content_type.as_str()), (expected, PROBLEM_JSON));
            assert_eq!(body["status"], expected.as_u16());
        }
    }

    #[tokio::test]
    async fn internal_errors_never_show_their_cause_to_the_client() {
        let cause = Err::<(), _>(std::io::Error::other("connection to 10.0.3.7:6379 refused"))
            .context("reading the project cache")
            .unwrap_err();
        let (status, _, body) = render(ApiError::Internal(cause)).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let text = body.to_string();
        assert!(!text.contains("10.0.3.7") && !text.contains("project cache"), "{text}");
        assert!(body.get("detail").is_none());
    }

    #[tokio::test]
    async fn a_shaped_problem_keeps_its_extensions() {
        let problem = Problem::new(StatusCode::CONFLICT, "conflict", "The block changed")
            .with_extension("conflictingFields", serde_json::json!(["content"]));
        let (status, _, body) = render(problem.into()).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(body["type"], "urn:tessera:problem:conflict");
        assert_eq!(body["conflictingFields"], serde_json::json!(["content"]));
    }

    #[test]
    fn an_extension_cannot_overwrite_a_standard_member() {
        let problem = Problem::for_status(StatusCode::NOT_FOUND).with_extension("status", 200);
        assert_eq!(problem.to_json()["status"], 404);
    }
}
