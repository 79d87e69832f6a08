//! The fan-out function's configuration, from the variables `template.yaml` sets.

use std::time::Duration;

use tessera_platform::config::{ConfigError, Vars};

#[derive(Debug, Clone)]
pub struct FanoutConfig {
    pub connections_table: String,
    pub inbox_table: String,
    pub connections_endpoint: String,
    /// Posts in flight at once.
    pub concurrency: usize,
    /// How long a notification stays in the inbox.
    pub inbox_ttl: Duration,
}

impl FanoutConfig {
    pub fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            connections_table: vars.required("CONNECTIONS_TABLE")?,
            inbox_table: vars.required("INBOX_TABLE")?,
            connections_endpoint: vars.required("CONNECTIONS_ENDPOINT")?,
            concurrency: vars.or("FANOUT_CONCURRENCY", 128)?,
            inbox_ttl: Duration::from_secs(24 * 60 * 60 * vars.or("INBOX_TTL_DAYS", 90)?),
        })
    }
}
