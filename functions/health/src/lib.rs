//! The health function: liveness for load balancers, deep readiness of every
//! dependency, and details of the execution environment for admins.

mod config;
mod dependencies;
mod routes;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use axum::Router;
use tessera_platform::aws::Aws;
use tessera_platform::http::{HttpConfig, with_platform_layers};
use tessera_platform::ratelimit::RateLimiter;
use tessera_platform::redis::Redis;

pub use config::Config;
pub use dependencies::Dependency;

/// Shared by every request an execution environment serves.
#[derive(Clone)]
pub struct HealthState {
    inner: Arc<Inner>,
}

struct Inner {
    dependencies: Vec<Dependency>,
    check_timeout: Duration,
    started: Instant,
    invocations: AtomicU64,
    memory_limit_mb: Option<u32>,
    http: HttpConfig,
    limiter: RateLimiter,
}

impl HealthState {
    /// Builds the clients; connects to nothing.
    pub fn new(config: &Config, aws: &Aws) -> anyhow::Result<Self> {
        let redis = Redis::new(&config.redis)?;
        let dependencies = vec![
            Dependency::DynamoDb { aws: aws.clone(), table: config.content_table.clone() },
            Dependency::Sqs { aws: aws.clone(), queue_url: config.events_queue_url.clone() },
            Dependency::Redis(redis.clone()),
        ];
        let inner = Inner {
            dependencies,
            check_timeout: config.check_timeout,
            started: Instant::now(),
            invocations: AtomicU64::new(0),
            memory_limit_mb: config.memory_limit_mb,
            http: config.http.clone(),
            limiter: RateLimiter::new(&config.rate_limits, redis, config.redis.cluster),
        };
        Ok(Self { inner: Arc::new(inner) })
    }
}

/// The function's routes wrapped in the platform layers.
pub fn router(state: HealthState) -> Router {
    let http = state.inner.http.clone();
    let limiter = state.inner.limiter.clone();
    with_platform_layers(routes::router(state), &http, &limiter)
}

/// This function's part of the HTTP contract.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes::routes().into_openapi()
}
