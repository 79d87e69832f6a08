//! Typed configuration from environment variables, read once at start-up.
//!
//! Each function has one `Config` built from [`Vars`]; a missing or bad
//! variable fails the start with a message naming it. Tests build `Vars`
//! from a map (for example the environment `template.yaml` gives a function)
//! instead of mutating the process environment.

use std::collections::HashMap;
use std::fmt::Display;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {name} is not set")]
    Missing { name: String },
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: String, reason: String },
}

/// Where configuration values come from.
#[derive(Debug, Clone)]
pub struct Vars {
    values: HashMap<String, String>,
}

impl Vars {
    /// The process environment, captured once.
    pub fn from_env() -> Self {
        Self::from_map(std::env::vars())
    }

    pub fn from_map(values: impl IntoIterator<Item = (String, String)>) -> Self {
        Self { values: values.into_iter().collect() }
    }

    /// The raw value; empty counts as unset, as CloudFormation writes empty
    /// strings for parameters left blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub fn required<T>(&self, name: &str) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        let raw = self.get(name).ok_or_else(|| ConfigError::Missing { name: name.into() })?;
        parse(name, raw)
    }

    pub fn optional<T>(&self, name: &str) -> Result<Option<T>, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.get(name).map(|raw| parse(name, raw)).transpose()
    }

    pub fn or<T>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        Ok(self.optional(name)?.unwrap_or(default))
    }
}

fn parse<T>(name: &str, raw: &str) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: Display,
{
    raw.parse().map_err(|err: T::Err| ConfigError::Invalid { name: name.into(), reason: err.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        Vars::from_map(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn a_missing_variable_is_named_in_the_error() {
        let err = vars(&[]).required::<String>("CONTENT_TABLE").unwrap_err();
        assert_eq!(err.to_string(), "environment variable CONTENT_TABLE is not set");
    }

    #[test]
    fn an_empty_variable_counts_as_missing() {
        let err = vars(&[("REDIS_URL", "")]).required::<String>("REDIS_URL").unwrap_err();
        assert_eq!(err, ConfigError::Missing { name: "REDIS_URL".into() });
    }

    #[test]
    fn a_bad_value_is_named_with_the_reason() {
        let err = vars(&[("TIMEOUT_MS", "soon")]).required::<u64>("TIMEOUT_MS").unwrap_err();
        assert!(matches!(&err, ConfigError::Invalid { name, .. } if name == "TIMEOUT_MS"), "{err}");
        assert!(err.to_string().contains("invalid digit"), "{err}");
    }

    #[test]
    fn defaults_apply_only_when_unset() {
        let vars = vars(&[("SET", "7")]);
        assert_eq!(vars.or("SET", 1u32).unwrap(), 7);
        assert_eq!(vars.or("UNSET", 1u32).unwrap(), 1);
    }
}
