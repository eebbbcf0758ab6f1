//! The chat service's settings: compiled-in defaults, overridden by environment variables.

use std::net::SocketAddr;
use std::time::Duration;

use switchboard_common::config::{self, ConfigError};
use switchboard_common::domain::MAX_CONTENT_CHARS;

#[derive(Clone, Debug)]
pub struct Settings {
    /// `DATABASE_URL`.
    pub database_url: String,
    /// `CHAT_DB_MAX_CONNECTIONS`.
    pub db_max_connections: u32,
    /// `NATS_URL`.
    pub nats_url: String,
    /// `NATS_SUBJECT_PREFIX`.
    pub subject_prefix: String,
    /// `CHAT_GRPC_ADDR`: ChatService, UserService, health and reflection.
    pub grpc_addr: SocketAddr,
    /// `CHAT_HTTP_ADDR`: `/healthz`, `/readyz`, `/metrics`.
    pub http_addr: SocketAddr,
    /// `CHAT_MAX_BATCH`: most messages one group commit writes.
    pub max_batch: usize,
    /// `CHAT_MAX_CONCURRENT_COMMANDS`: commands handled at once; more wait in NATS.
    pub max_concurrent_commands: usize,
    /// `MAX_CONTENT_CHARS`.
    pub max_content_chars: usize,
    /// `CHAT_RUN_MIGRATIONS`: apply pending migrations at start.
    pub run_migrations: bool,
    /// `SHUTDOWN_DRAIN_MS`: how long in-flight commands may take to finish on shutdown.
    pub drain_timeout: Duration,
    /// `CHAT_NOTIFY_UNREAD`: queue `message_unread` notification events for recipients
    /// who are offline when their message is stored.
    pub notify_unread: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: config::DEFAULT_DATABASE_URL.into(),
            db_max_connections: 16,
            nats_url: config::DEFAULT_NATS_URL.into(),
            subject_prefix: config::DEFAULT_SUBJECT_PREFIX.into(),
            grpc_addr: "127.0.0.1:50051".parse().expect("valid address"),
            http_addr: "127.0.0.1:9101".parse().expect("valid address"),
            max_batch: 512,
            max_concurrent_commands: 4096,
            max_content_chars: MAX_CONTENT_CHARS,
            run_migrations: true,
            drain_timeout: Duration::from_secs(10),
            notify_unread: true,
        }
    }
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let d = Self::default();
        let s = Self {
            database_url: config::var("DATABASE_URL").unwrap_or(d.database_url),
            db_max_connections: config::parse_or("CHAT_DB_MAX_CONNECTIONS", d.db_max_connections)?,
            nats_url: config::var("NATS_URL").unwrap_or(d.nats_url),
            subject_prefix: config::var("NATS_SUBJECT_PREFIX").unwrap_or(d.subject_prefix),
            grpc_addr: config::parse_or("CHAT_GRPC_ADDR", d.grpc_addr)?,
            http_addr: config::parse_or("CHAT_HTTP_ADDR", d.http_addr)?,
            max_batch: config::parse_or("CHAT_MAX_BATCH", d.max_batch)?,
            max_concurrent_commands: config::parse_or(
                "CHAT_MAX_CONCURRENT_COMMANDS",
                d.max_concurrent_commands,
            )?,
            max_content_chars: config::parse_or("MAX_CONTENT_CHARS", d.max_content_chars)?,
            run_migrations: config::parse_or("CHAT_RUN_MIGRATIONS", d.run_migrations)?,
            drain_timeout: config::millis_or("SHUTDOWN_DRAIN_MS", d.drain_timeout)?,
            notify_unread: config::parse_or("CHAT_NOTIFY_UNREAD", d.notify_unread)?,
        };
        if s.max_batch == 0 {
            return Err(ConfigError::new("CHAT_MAX_BATCH", "must be at least 1"));
        }
        // The table's CHECK stops longer content anyway, and a batch holding it fails for
        // every message in it.
        if !(1..=MAX_CONTENT_CHARS).contains(&s.max_content_chars) {
            return Err(ConfigError::new(
                "MAX_CONTENT_CHARS",
                format!("must be between 1 and {MAX_CONTENT_CHARS} (the messages table's limit)"),
            ));
        }
        if s.max_concurrent_commands == 0 {
            return Err(ConfigError::new(
                "CHAT_MAX_CONCURRENT_COMMANDS",
                "must be at least 1",
            ));
        }
        Ok(s)
    }
}
