//! The WebSocket function's configuration, from the variables
//! `template.yaml` sets.

use std::time::Duration;

use tessera_platform::config::{ConfigError, Vars};
use tessera_platform::ratelimit::RateLimitConfig;
use tessera_platform::redis::RedisConfig;

#[derive(Debug, Clone)]
pub struct WsConfig {
    pub content_table: String,
    pub connections_table: String,
    /// The `@connections` management endpoint of this API and stage.
    pub connections_endpoint: String,
    /// Prefix of the Redis keys of presence and throttling (one per stack).
    pub key_prefix: String,
    pub broadcast_per_second: u32,
    pub presence_ttl: Duration,
    pub redis: RedisConfig,
    pub rate_limits: RateLimitConfig,
}

impl WsConfig {
    pub fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            content_table: vars.required("CONTENT_TABLE")?,
            connections_table: vars.required("CONNECTIONS_TABLE")?,
            connections_endpoint: vars.required("CONNECTIONS_ENDPOINT")?,
            key_prefix: vars.or("NOTIFICATIONS_KEY_PREFIX", "tessera:ws".to_owned())?,
            broadcast_per_second: vars.or("BROADCAST_RATE_PER_SECOND", 20)?,
            presence_ttl: Duration::from_secs(vars.or("PRESENCE_TTL_SECONDS", 60)?),
            redis: RedisConfig::from_vars(vars)?,
            rate_limits: RateLimitConfig::from_vars(vars)?,
        })
    }
}
