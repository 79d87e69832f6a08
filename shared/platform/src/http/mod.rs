//! Tessera's HTTP conventions, shared by every HTTP function: problem+json
//! errors, the caller's identity, the standard layers, and `serve`.

pub mod identity;
pub mod json;
pub mod layers;
pub mod openapi;
pub mod problem;
pub mod rate_limit;

pub use identity::Caller;
pub use json::Json;
pub use layers::{HttpConfig, with_platform_layers};
pub use problem::{ApiError, Problem};

/// Runs an axum router as a Lambda function behind API Gateway.
pub async fn serve(router: axum::Router) -> Result<(), lambda_http::Error> {
    lambda_http::run(router).await
}
