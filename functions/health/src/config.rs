//! The health function's configuration, from the variables `template.yaml` sets.

use std::time::Duration;

use tessera_platform::config::{ConfigError, Vars};
use tessera_platform::http::HttpConfig;
use tessera_platform::ratelimit::RateLimitConfig;
use tessera_platform::redis::RedisConfig;

#[derive(Debug, Clone)]
pub struct Config {
    pub content_table: String,
    pub events_queue_url: String,
    pub redis: RedisConfig,
    pub http: HttpConfig,
    pub rate_limits: RateLimitConfig,
    /// Bound on each dependency check: readiness must answer quickly even
    /// when a dependency hangs.
    pub check_timeout: Duration,
    /// Set by Lambda itself.
    pub memory_limit_mb: Option<u32>,
}

impl Config {
    pub fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            content_table: vars.required("CONTENT_TABLE")?,
            events_queue_url: vars.required("EVENTS_QUEUE_URL")?,
            redis: RedisConfig::from_vars(vars)?,
            http: HttpConfig::from_vars(vars)?,
            rate_limits: RateLimitConfig::from_vars(vars)?,
            check_timeout: Duration::from_millis(vars.or("HEALTH_CHECK_TIMEOUT_MS", 1000)?),
            memory_limit_mb: vars.optional("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")?,
        })
    }
}
