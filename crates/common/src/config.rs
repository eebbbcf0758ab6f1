//! Reading typed settings from the environment.
//!
//! Each service has a settings struct with compiled-in defaults; `from_env` overrides them
//! from environment variables through these helpers. Tests build the struct directly.

use std::str::FromStr;
use std::time::Duration;

/// A setting that could not be read; the message names the variable and what was wrong.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {reason}")]
pub struct ConfigError {
    pub name: String,
    pub reason: String,
}

impl ConfigError {
    pub fn new(name: &str, reason: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            reason: reason.into(),
        }
    }
}

/// The variable's value, or `None` when it is unset or empty.
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The variable parsed as `T`, or `default` when unset.
pub fn parse_or<T>(name: &str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse()
            .map_err(|e| ConfigError::new(name, format!("cannot parse {raw:?}: {e}"))),
    }
}

/// A duration given in milliseconds, or `default` when unset.
pub fn millis_or(name: &str, default: Duration) -> Result<Duration, ConfigError> {
    let ms = parse_or(name, default.as_millis() as u64)?;
    Ok(Duration::from_millis(ms))
}

/// A comma-separated list, trimmed, empty items dropped.
pub fn list(name: &str) -> Vec<String> {
    var(name)
        .map(|raw| {
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The default PostgreSQL: the machine's local server (SPEC §7).
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// The default NATS: the machine's local server (SPEC §7).
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";
/// The default NATS subject prefix; tests use a unique one each.
pub const DEFAULT_SUBJECT_PREFIX: &str = "sb";
