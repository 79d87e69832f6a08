//! Test support for Tessera: local AWS and Redis services, resources
//! provisioned from `template.yaml`, and requests shaped as API Gateway
//! sends them.
//!
//! A typical integration test provisions a stack (`provision_stack`), builds
//! a function's configuration from `stack.function_environment(..)`, and
//! drives the function's router with `GatewayRequest`s.

pub mod account;
pub mod gateway;
pub mod provision;
pub mod rate_limits;
pub mod services;
pub mod template;
pub mod workspace;

use std::collections::HashMap;

pub use gateway::GatewayRequest;
pub use provision::Stack;
pub use services::{LocalServices, RedisServer};
pub use template::Template;
pub use workspace::workspace_root;

/// A fresh stack of the workspace template's tables and queues, named
/// uniquely so tests never share state, on the shared local services. The
/// template's `RedisUrl` parameter points at the local Redis.
pub async fn provision_stack() -> Stack {
    let services = LocalServices::shared();
    let name = format!("t{}", ulid::Ulid::new().to_string().to_lowercase());
    let parameters = HashMap::from([("RedisUrl".to_owned(), services.redis_url.clone())]);
    let template = Template::workspace().expect("reading template.yaml");
    Stack::provision(template, &name, parameters, &services.sdk_config())
        .await
        .expect("provisioning the template's resources")
}
