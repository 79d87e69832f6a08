//! The blocks function's configuration, from the variables `template.yaml` sets.

use std::time::Duration;

use tessera_platform::config::{ConfigError, Vars};
use tessera_platform::http::HttpConfig;
use tessera_platform::ratelimit::RateLimitConfig;
use tessera_platform::redis::RedisConfig;

use crate::cache::CacheSettings;

#[derive(Debug, Clone)]
pub struct Config {
    pub content_table: String,
    /// Where conflicts are published for notifications.
    pub events_queue_url: String,
    pub http: HttpConfig,
    pub redis: RedisConfig,
    pub cache: CacheSettings,
    pub rate_limits: RateLimitConfig,
}

impl Config {
    /// Request bodies are capped at 64 KiB unless `MAX_BODY_BYTES` says
    /// otherwise: a block is far smaller, and DynamoDB items stop at 400 KB.
    pub const MAX_BODY_BYTES: usize = 64 * 1024;

    /// Under 100 ms, a busy project would reload more than it serves.
    fn max_staleness(vars: &Vars) -> Result<Duration, ConfigError> {
        const NAME: &str = "PROJECT_CACHE_MAX_STALENESS_MS";
        match vars.or(NAME, 5000)? {
            ms if ms >= 100 => Ok(Duration::from_millis(ms)),
            _ => Err(ConfigError::Invalid { name: NAME.into(), reason: "at least 100 (milliseconds)".into() }),
        }
    }

    pub fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        let mut http = HttpConfig::from_vars(vars)?;
        http.max_body_bytes = vars.or("MAX_BODY_BYTES", Self::MAX_BODY_BYTES)?;
        Ok(Self {
            content_table: vars.required("CONTENT_TABLE")?,
            events_queue_url: vars.required("EVENTS_QUEUE_URL")?,
            http,
            redis: RedisConfig::from_vars(vars)?,
            cache: CacheSettings {
                ttl: Duration::from_secs(vars.or("PROJECT_CACHE_TTL_SECONDS", 300)?),
                max_staleness: Self::max_staleness(vars)?,
            },
            rate_limits: RateLimitConfig::from_vars(vars)?,
        })
    }
}
