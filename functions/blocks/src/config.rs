//! The blocks function's configuration, from the variables `template.yaml` sets.

use tessera_platform::config::{ConfigError, Vars};
use tessera_platform::http::HttpConfig;

#[derive(Debug, Clone)]
pub struct Config {
    pub content_table: String,
    pub http: HttpConfig,
}

impl Config {
    /// Request bodies are capped at 64 KiB unless `MAX_BODY_BYTES` says
    /// otherwise: a block is far smaller, and DynamoDB items stop at 400 KB.
    pub const MAX_BODY_BYTES: usize = 64 * 1024;

    pub fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        let mut http = HttpConfig::from_vars(vars)?;
        http.max_body_bytes = vars.or("MAX_BODY_BYTES", Self::MAX_BODY_BYTES)?;
        Ok(Self { content_table: vars.required("CONTENT_TABLE")?, http })
    }
}
