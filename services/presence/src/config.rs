//! The presence service's settings: compiled-in defaults, overridden by environment variables.

use std::net::SocketAddr;
use std::time::Duration;

use switchboard_common::config::{self, ConfigError};

#[derive(Clone, Debug)]
pub struct Settings {
    /// `DATABASE_URL`.
    pub database_url: String,
    /// `PRESENCE_DB_MAX_CONNECTIONS`.
    pub db_max_connections: u32,
    /// `NATS_URL`.
    pub nats_url: String,
    /// `NATS_SUBJECT_PREFIX`.
    pub subject_prefix: String,
    /// `PRESENCE_GRPC_ADDR`: PresenceService, health and reflection.
    pub grpc_addr: SocketAddr,
    /// `PRESENCE_HTTP_ADDR`: `/healthz`, `/readyz`, `/metrics`.
    pub http_addr: SocketAddr,
    /// `PRESENCE_GATEWAY_DEAD_AFTER_MS`: heartbeat silence after which a gateway instance's
    /// connections are closed (gateways beat every 2 s by default).
    pub gateway_dead_after: Duration,
    /// `PRESENCE_SWEEP_INTERVAL_MS`: how often dead gateways are looked for.
    pub sweep_interval: Duration,
    /// `PRESENCE_MAX_BATCH`: most connection events applied in one transaction.
    pub max_batch: usize,
    /// `PRESENCE_RUN_MIGRATIONS`.
    pub run_migrations: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: config::DEFAULT_DATABASE_URL.into(),
            db_max_connections: 8,
            nats_url: config::DEFAULT_NATS_URL.into(),
            subject_prefix: config::DEFAULT_SUBJECT_PREFIX.into(),
            grpc_addr: "127.0.0.1:50052".parse().expect("valid address"),
            http_addr: "127.0.0.1:9102".parse().expect("valid address"),
            gateway_dead_after: Duration::from_secs(6),
            sweep_interval: Duration::from_secs(1),
            max_batch: 1000,
            run_migrations: true,
        }
    }
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let d = Self::default();
        let s = Self {
            database_url: config::var("DATABASE_URL").unwrap_or(d.database_url),
            db_max_connections: config::parse_or(
                "PRESENCE_DB_MAX_CONNECTIONS",
                d.db_max_connections,
            )?,
            nats_url: config::var("NATS_URL").unwrap_or(d.nats_url),
            subject_prefix: config::var("NATS_SUBJECT_PREFIX").unwrap_or(d.subject_prefix),
            grpc_addr: config::parse_or("PRESENCE_GRPC_ADDR", d.grpc_addr)?,
            http_addr: config::parse_or("PRESENCE_HTTP_ADDR", d.http_addr)?,
            gateway_dead_after: config::millis_or(
                "PRESENCE_GATEWAY_DEAD_AFTER_MS",
                d.gateway_dead_after,
            )?,
            sweep_interval: config::millis_or("PRESENCE_SWEEP_INTERVAL_MS", d.sweep_interval)?,
            max_batch: config::parse_or("PRESENCE_MAX_BATCH", d.max_batch)?,
            run_migrations: config::parse_or("PRESENCE_RUN_MIGRATIONS", d.run_migrations)?,
        };
        if s.max_batch == 0 {
            return Err(ConfigError::new("PRESENCE_MAX_BATCH", "must be at least 1"));
        }
        Ok(s)
    }
}
