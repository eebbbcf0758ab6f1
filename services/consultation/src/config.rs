//! The consultation service's settings: compiled-in defaults, overridden by environment
//! variables.

use std::net::SocketAddr;
use std::time::Duration;

use switchboard_common::auth::JwtSettings;
use switchboard_common::config::{self, ConfigError};

#[derive(Clone, Debug)]
pub struct Settings {
    /// `DATABASE_URL`.
    pub database_url: String,
    /// `CONSULTATION_DB_MAX_CONNECTIONS`.
    pub db_max_connections: u32,
    /// `NATS_URL`.
    pub nats_url: String,
    /// `NATS_SUBJECT_PREFIX`.
    pub subject_prefix: String,
    /// `CONSULTATION_HTTP_ADDR`: the REST API and `/healthz`, `/readyz`, `/metrics`.
    pub http_addr: SocketAddr,
    /// `CONSULTATION_GRPC_ADDR`: ConsultationService, health and reflection.
    pub grpc_addr: SocketAddr,
    /// `MEETING_SERVICE_URL`: the meeting-link service's gRPC endpoint.
    pub meeting_service_url: String,
    /// `MEETING_TIMEOUT_MS`: one meeting call, provider retries and Meet polling included.
    pub meeting_timeout: Duration,
    /// `JWT_SECRET`, `JWT_PUBLIC_KEY_FILE`, … (the gateway's token rules).
    pub jwt: JwtSettings,
    /// `CONSULTATION_OUTBOX_INTERVAL_MS`: how often unpublished notifications are retried.
    pub outbox_interval: Duration,
    /// `CONSULTATION_MAX_BODY_BYTES`.
    pub max_body_bytes: usize,
    /// `CONSULTATION_RUN_MIGRATIONS`: apply pending migrations at start.
    pub run_migrations: bool,
    /// `SHUTDOWN_DRAIN_MS`: how long in-flight requests may take to finish on shutdown.
    pub drain_timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: config::DEFAULT_DATABASE_URL.into(),
            db_max_connections: 8,
            nats_url: config::DEFAULT_NATS_URL.into(),
            subject_prefix: config::DEFAULT_SUBJECT_PREFIX.into(),
            http_addr: "127.0.0.1:8085".parse().expect("valid address"),
            grpc_addr: "127.0.0.1:50055".parse().expect("valid address"),
            meeting_service_url: "http://127.0.0.1:50053".into(),
            meeting_timeout: Duration::from_secs(45),
            jwt: JwtSettings::default(),
            outbox_interval: Duration::from_secs(2),
            max_body_bytes: 64 * 1024,
            run_migrations: true,
            drain_timeout: Duration::from_secs(10),
        }
    }
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let d = Self::default();
        let s = Self {
            database_url: config::var("DATABASE_URL").unwrap_or(d.database_url),
            db_max_connections: config::parse_or(
                "CONSULTATION_DB_MAX_CONNECTIONS",
                d.db_max_connections,
            )?,
            nats_url: config::var("NATS_URL").unwrap_or(d.nats_url),
            subject_prefix: config::var("NATS_SUBJECT_PREFIX").unwrap_or(d.subject_prefix),
            http_addr: config::parse_or("CONSULTATION_HTTP_ADDR", d.http_addr)?,
            grpc_addr: config::parse_or("CONSULTATION_GRPC_ADDR", d.grpc_addr)?,
            meeting_service_url: config::var("MEETING_SERVICE_URL")
                .unwrap_or(d.meeting_service_url),
            meeting_timeout: config::millis_or("MEETING_TIMEOUT_MS", d.meeting_timeout)?,
            jwt: JwtSettings::from_env()?,
            outbox_interval: config::millis_or(
                "CONSULTATION_OUTBOX_INTERVAL_MS",
                d.outbox_interval,
            )?,
            max_body_bytes: config::parse_or("CONSULTATION_MAX_BODY_BYTES", d.max_body_bytes)?,
            run_migrations: config::parse_or("CONSULTATION_RUN_MIGRATIONS", d.run_migrations)?,
            drain_timeout: config::millis_or("SHUTDOWN_DRAIN_MS", d.drain_timeout)?,
        };
        if !s.meeting_service_url.starts_with("http://")
            && !s.meeting_service_url.starts_with("https://")
        {
            return Err(ConfigError::new(
                "MEETING_SERVICE_URL",
                "must start with http:// or https://",
            ));
        }
        if s.outbox_interval.is_zero() {
            return Err(ConfigError::new(
                "CONSULTATION_OUTBOX_INTERVAL_MS",
                "must be at least 1",
            ));
        }
        Ok(s)
    }
}
