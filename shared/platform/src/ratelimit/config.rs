//! The limiter's settings, from the environment the template gives.

use std::sync::Arc;
use std::time::Duration;

use tessera_core::ratelimit::{KeySpace, Policies};

use crate::config::{ConfigError, Vars};

/// The policies every function ships with, unless a file overrides them.
const SHIPPED_POLICIES: &str = include_str!("../../../../infra/rate-limits.yaml");

#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    pub policies: Arc<Policies>,
    /// Key prefix, one per deployment (the stack), so stacks sharing a
    /// Redis never share counters.
    pub keys: KeySpace,
    /// The longest a request waits for Redis before deciding in process.
    pub redis_budget: Duration,
    /// The fraction of a global limit one instance allows when deciding in process.
    pub global_share: f64,
    /// The longest a block is remembered in process, so an unblock reaches
    /// every instance within it.
    pub block_cache_max: Duration,
    /// How often a degraded limiter asks Redis whether it is back.
    pub probe_interval: Duration,
}

impl RateLimitConfig {
    pub fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        let invalid = |name: &str, reason: String| ConfigError::Invalid { name: name.into(), reason };
        let policies = match vars.get("RATE_LIMIT_POLICY_FILE") {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|err| invalid("RATE_LIMIT_POLICY_FILE", format!("cannot read {path}: {err}")))?,
            None => SHIPPED_POLICIES.to_owned(),
        };
        let policies = Policies::parse(&policies).map_err(|err| invalid("RATE_LIMIT_POLICY_FILE", err.to_string()))?;
        let prefix: String = vars.or("RATE_LIMIT_KEY_PREFIX", "rl".to_owned())?;
        let global_share: f64 = vars.or("RATE_LIMIT_GLOBAL_SHARE", 0.1)?;
        if !(global_share > 0.0 && global_share <= 1.0) {
            return Err(invalid("RATE_LIMIT_GLOBAL_SHARE", "must be above 0 and at most 1".into()));
        }
        Ok(Self {
            policies: Arc::new(policies),
            keys: KeySpace::new(&prefix).map_err(|reason| invalid("RATE_LIMIT_KEY_PREFIX", reason))?,
            redis_budget: Duration::from_millis(vars.or("RATE_LIMIT_REDIS_BUDGET_MS", 50)?),
            global_share,
            block_cache_max: Duration::from_secs(vars.or("RATE_LIMIT_BLOCK_CACHE_SECONDS", 30)?),
            probe_interval: Duration::from_millis(vars.or("RATE_LIMIT_PROBE_MS", 1_000)?),
        })
    }

    /// The shipped policies and defaults under `prefix`.
    #[cfg(test)]
    pub(crate) fn with_prefix(prefix: &str) -> Self {
        let vars = Vars::from_map([("RATE_LIMIT_KEY_PREFIX".to_owned(), prefix.to_owned())]);
        Self::from_vars(&vars).expect("the shipped policies are valid (a unit test holds them to it)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_policies_load_with_production_defaults() {
        let config = RateLimitConfig::from_vars(&Vars::from_map([])).unwrap();
        assert_eq!(config.redis_budget, Duration::from_millis(50));
        assert!(config.policies.rule("api-per-user").is_some());
    }

    #[test]
    fn a_bad_policy_file_fails_the_start_naming_the_rule() {
        let path = std::env::temp_dir().join(format!("bad-policies-{}.yaml", std::process::id()));
        std::fs::write(&path, SHIPPED_POLICIES.replace("limit: 60\n", "limit: -1\n")).unwrap();
        let vars = Vars::from_map([("RATE_LIMIT_POLICY_FILE".to_owned(), path.display().to_string())]);
        let err = RateLimitConfig::from_vars(&vars).unwrap_err().to_string();
        std::fs::remove_file(&path).unwrap();
        assert!(err.contains("RATE_LIMIT_POLICY_FILE") && err.contains("rule `api-per-user`"), "{err}");
    }
}
