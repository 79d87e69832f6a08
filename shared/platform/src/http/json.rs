//! A JSON body extractor whose rejections are problem+json: 400 for
//! malformed JSON, wrong types or unknown fields (saying which), 415 without
//! a JSON content type, 413 over the body limit.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::{ApiError, Problem};

/// Like `axum::Json`, rejecting with [`ApiError`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(reject(rejection)),
        }
    }
}

fn reject(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(error) => ApiError::BadRequest(error.body_text()),
        JsonRejection::JsonSyntaxError(error) => ApiError::BadRequest(error.body_text()),
        JsonRejection::MissingJsonContentType(_) => Problem::for_status(StatusCode::UNSUPPORTED_MEDIA_TYPE)
            .with_detail("send the body as application/json")
            .into(),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Problem::for_status(StatusCode::PAYLOAD_TOO_LARGE).into()
        }
        other => ApiError::BadRequest(other.body_text()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Title {
        #[allow(dead_code)]
        title: String,
    }

    async fn extract(content_type: Option<&str>, body: &str) -> Result<Json<Title>, ApiError> {
        let mut request = Request::post("/").body(Body::from(body.to_owned())).unwrap();
        if let Some(content_type) = content_type {
            request.headers_mut().insert("content-type", content_type.parse().unwrap());
        }
        Json::<Title>::from_request(request, &()).await
    }

    fn status(result: Result<Json<Title>, ApiError>) -> StatusCode {
        result.unwrap_err().problem().status
    }

    #[tokio::test]
    async fn malformed_json_wrong_types_and_unknown_fields_are_400() {
        for body in ["{", r#"{"title": 3}"#, r#"{"title": "a", "extra": 1}"#, "[]"] {
            assert_eq!(status(extract(Some("application/json"), body).await), StatusCode::BAD_REQUEST, "{body}");
        }
    }

    #[tokio::test]
    async fn a_body_that_is_not_json_is_415() {
        assert_eq!(status(extract(Some("text/plain"), r#"{"title": "a"}"#).await), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(status(extract(None, r#"{"title": "a"}"#).await), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }

    #[tokio::test]
    async fn the_detail_names_the_problem() {
        let detail =
            extract(Some("application/json"), r#"{"title": "a", "extra": 1}"#).await.unwrap_err().problem().detail;
        assert!(detail.unwrap().contains("extra"));
    }
}
