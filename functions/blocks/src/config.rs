//! The blocks function's configuration, from the variables `template.yaml` sets.

use std::time::Duration;

use tessera_platform::config::{ConfigError, Vars};
use tessera_platform::http::HttpConfig;
use tessera_platform::redis::RedisConfig;

#[derive(Debug, Clone)]
pub struct Config {
    pub content_table: String,
    /// Where conflicts are published for notifications.
    pub events_queue_url: String,
    pub http: HttpConfig,
    pub redis: RedisConfig,
    /// How long a cached project tree lives (invalidation normally ends it
    /// sooner; the TTL bounds staleness if an invalidation is lost).
    pub tree_cache_ttl: Duration,
}

impl Config {
    /// Request bodies are capped at 64 KiB unless `MAX_BODY_BYTES` says
    /// otherwise: a block is far smaller, and DynamoDB items stop at 400 KB.
    pub const MAX_BODY_BYTES: usize = 64 * 1024;

    pub fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        let mut http = HttpConfig::from_vars(vars)?;
        http.max_body_bytes = vars.or("MAX_BODY_BYTES", Self::MAX_BODY_BYTES)?;
        Ok(Self {
            content_table: vars.required("CONTENT_TABLE")?,
            events_queue_url: vars.required("EVENTS_QUEUE_URL")?,
            http,
            redis: RedisConfig::from_vars(vars)?,
            tree_cache_ttl: Duration::from_secs(vars.or("TREE_CACHE_TTL_SECONDS", 300)?),
        })
    }
}
