//! Tessera's pure domain: the types and rules every function shares.
//!
//! No I/O, no AWS, no async: everything here builds for `wasm32` and is
//! tested with plain unit tests.

pub mod content;
pub mod events;
pub mod generation;
pub mod identity;
pub mod ratelimit;

pub use identity::{Identity, IdentityError, Role, Tier, UserId};
