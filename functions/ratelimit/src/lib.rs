//! The ratelimit function: a caller's usage of every rule that counts them,
//! and for admins the policies in force and blocks set and lifted by hand.
//! The limits themselves are decided by the platform layer every HTTP
//! function wears (this one included).

mod routes;

use axum::Router;
use tessera_platform::config::{ConfigError, Vars};
use tessera_platform::http::{HttpConfig, with_platform_layers};
use tessera_platform::ratelimit::{RateLimitConfig, RateLimiter};
use tessera_platform::redis::{Redis, RedisConfig};

#[derive(Debug, Clone)]
pub struct Config {
    pub http: HttpConfig,
    pub redis: RedisConfig,
    pub rate_limits: RateLimitConfig,
}

impl Config {
    pub fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            http: HttpConfig::from_vars(vars)?,
            redis: RedisConfig::from_vars(vars)?,
            rate_limits: RateLimitConfig::from_vars(vars)?,
        })
    }
}

/// The routes in the platform layers; connects to nothing yet.
pub fn router(config: &Config) -> Result<Router, redis::RedisError> {
    let redis = Redis::new(&config.redis)?;
    let limiter = RateLimiter::new(&config.rate_limits, redis, config.redis.cluster);
    let (routes, _) = routes::routes().split_for_parts();
    Ok(with_platform_layers(routes.with_state(limiter.clone()), &config.http, &limiter))
}

/// This function's part of the HTTP contract.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes::routes().into_openapi()
}
