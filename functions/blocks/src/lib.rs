//! The blocks function: projects, slides and blocks, written with
//! field-level optimistic concurrency so that no concurrent edit is lost,
//! served through a write-through project cache; and the purge of deleted
//! projects, run from the Content table's stream (binary `project-purge`).

pub mod cache;
pub mod config;
pub mod events;
pub mod http;
pub mod purge;
pub mod store;

pub use config::Config;
pub use http::{AppState, router};

/// This function's part of the HTTP contract.
pub fn openapi() -> utoipa::openapi::OpenApi {
    http::routes().into_openapi()
}
