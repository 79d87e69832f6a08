//! `notifications-api`'s configuration, from the environment template.yaml sets.

use tessera_platform::config::{ConfigError, Vars};
use tessera_platform::http::HttpConfig;
use tessera_platform::ratelimit::RateLimitConfig;
use tessera_platform::redis::RedisConfig;

#[derive(Debug, Clone)]
pub struct InboxConfig {
    /// The Inbox table's name (`INBOX_TABLE`).
    pub inbox_table: String,
    pub http: HttpConfig,
    pub redis: RedisConfig,
    pub rate_limits: RateLimitConfig,
}

impl InboxConfig {
    pub fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            inbox_table: vars.required("INBOX_TABLE")?,
            http: HttpConfig::from_vars(vars)?,
            redis: RedisConfig::from_vars(vars)?,
            rate_limits: RateLimitConfig::from_vars(vars)?,
        })
    }
}
