//! The blocks function: projects, slides and blocks, written with
//! field-level optimistic concurrency so that no concurrent edit is lost.
//!
//! Work in progress (issue 4): projects, members, slides and blocks with
//! versioned patches are served; listing, the project tree, its cache,
//! slide positions and change events follow.

pub mod cache;
pub mod config;
pub mod events;
pub mod http;
pub mod store;

pub use config::Config;
pub use http::{AppState, router};
