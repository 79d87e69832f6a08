//! The plumbing every Tessera function uses: typed configuration, telemetry,
//! AWS and Redis clients, and the HTTP conventions (errors, identity, layers).

pub mod aws;
pub mod config;
pub mod cursor;
pub mod http;
pub mod ratelimit;
pub mod redis;
pub mod telemetry;

/// What `main` can fail with before serving: configuration, clients.
pub type StartError = lambda_http::Error;
