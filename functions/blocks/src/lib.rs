//! The blocks function: projects, slides and blocks, written with
//! field-level optimistic concurrency so that no concurrent edit is lost.
//!
//! Work in progress (issue 4): the versioned block store comes first; the
//! HTTP routes, cache and events follow.

pub mod store;
