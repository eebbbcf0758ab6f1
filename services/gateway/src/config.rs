//! The gateway's settings: compiled-in defaults, overridden by environment variables.

use std::net::SocketAddr;
use std::time::Duration;

use switchboard_common::auth::JwtSettings;
use switchboard_common::config::{self, ConfigError};

#[derive(Clone, Debug)]
pub struct Settings {
    /// `GATEWAY_ADDR`: `/ws`, `/v1/...`, `/healthz`, `/readyz`, `/metrics`.
    pub addr: SocketAddr,
    /// `GATEWAY_ID`: this replica's name in logs and presence (default: random).
    pub gateway_id: Option<String>,
    /// `NATS_URL`.
    pub nats_url: String,
    /// `NATS_SUBJECT_PREFIX`.
    pub subject_prefix: String,
    /// `JWT_*`.
    pub jwt: JwtSettings,
    /// `ALLOWED_ORIGINS`: browser origins allowed to connect; `*` allows any. Requests
    /// without an `Origin` header (non-browser clients) are always allowed.
    pub allowed_origins: Vec<String>,
    /// `AUTH_TIMEOUT_MS`: how long a socket without a token may take to send its auth frame.
    pub auth_timeout: Duration,
    /// `CHAT_REQUEST_TIMEOUT_MS`: how long a command waits for the chat service.
    pub request_timeout: Duration,
    /// `MAX_FRAME_BYTES`: largest accepted WebSocket message.
    pub max_frame_bytes: usize,
    /// `OUTBOUND_QUEUE`: events queued per connection before it counts as a slow consumer.
    pub outbound_queue: usize,
    /// `MAX_IN_FLIGHT`: unanswered commands per connection before reading pauses.
    pub max_in_flight: usize,
    /// `PING_INTERVAL_MS`: WebSocket ping period.
    pub ping_interval: Duration,
    /// `PONG_TIMEOUT_MS`: silence after a ping before the peer counts as dead.
    pub pong_timeout: Duration,
    /// `WRITE_TIMEOUT_MS`: longest a write to one socket may block.
    pub write_timeout: Duration,
    /// `RATE_LIMIT_PER_USER`: messages per second per user (0 = unlimited).
    pub rate_limit_per_user: u32,
    /// `RATE_LIMIT_BURST`.
    pub rate_limit_burst: u32,
    /// `TYPING_RATE_LIMIT`: typing events per second per user (0 = unlimited).
    pub typing_rate_limit: u32,
    /// `PRESENCE_HEARTBEAT_MS`: how often this replica tells presence it is alive.
    pub heartbeat_interval: Duration,
    /// `MAX_CONNECTIONS`: WebSocket connections this replica accepts.
    pub max_connections: usize,
    /// `SHUTDOWN_UNREADY_MS`: on shutdown, how long `/readyz` answers 503 (and new upgrades
    /// are refused) while the open connections are still served, so load balancers stop
    /// sending clients here before the going-away closes make them reconnect.
    pub unready_delay: Duration,
    /// `SHUTDOWN_DRAIN_MS`: how long connections get to close on shutdown.
    pub drain_timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:8081".parse().expect("valid address"),
            gateway_id: None,
            nats_url: config::DEFAULT_NATS_URL.into(),
            subject_prefix: config::DEFAULT_SUBJECT_PREFIX.into(),
            jwt: JwtSettings {
                leeway_secs: 30,
                ..JwtSettings::default()
            },
            allowed_origins: vec![
                "http://localhost:8080".into(),
                "http://127.0.0.1:8080".into(),
            ],
            auth_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(5),
            max_frame_bytes: 64 * 1024,
            outbound_queue: 256,
            max_in_flight: 32,
            ping_interval: Duration::from_secs(25),
            pong_timeout: Duration::from_secs(20),
            write_timeout: Duration::from_secs(10),
            rate_limit_per_user: 20,
            rate_limit_burst: 40,
            typing_rate_limit: 5,
            heartbeat_interval: Duration::from_secs(2),
            max_connections: 19_000,
            // Two of the dev load balancer's health checks (`inter 1s fall 2`).
            unready_delay: Duration::from_secs(2),
            drain_timeout: Duration::from_secs(10),
        }
    }
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let d = Self::default();
        let origins = config::list("ALLOWED_ORIGINS");
        let s = Self {
            addr: config::parse_or("GATEWAY_ADDR", d.addr)?,
            gateway_id: config::var("GATEWAY_ID"),
            nats_url: config::var("NATS_URL").unwrap_or(d.nats_url),
            subject_prefix: config::var("NATS_SUBJECT_PREFIX").unwrap_or(d.subject_prefix),
            jwt: JwtSettings::from_env()?,
            allowed_origins: if origins.is_empty() {
                d.allowed_origins
            } else {
                origins
            },
            auth_timeout: config::millis_or("AUTH_TIMEOUT_MS", d.auth_timeout)?,
            request_timeout: config::millis_or("CHAT_REQUEST_TIMEOUT_MS", d.request_timeout)?,
            max_frame_bytes: config::parse_or("MAX_FRAME_BYTES", d.max_frame_bytes)?,
            outbound_queue: config::parse_or("OUTBOUND_QUEUE", d.outbound_queue)?,
            max_in_flight: config::parse_or("MAX_IN_FLIGHT", d.max_in_flight)?,
            ping_interval: config::millis_or("PING_INTERVAL_MS", d.ping_interval)?,
            pong_timeout: config::millis_or("PONG_TIMEOUT_MS", d.pong_timeout)?,
            write_timeout: config::millis_or("WRITE_TIMEOUT_MS", d.write_timeout)?,
            rate_limit_per_user: config::parse_or("RATE_LIMIT_PER_USER", d.rate_limit_per_user)?,
            rate_limit_burst: config::parse_or("RATE_LIMIT_BURST", d.rate_limit_burst)?,
            typing_rate_limit: config::parse_or("TYPING_RATE_LIMIT", d.typing_rate_limit)?,
            heartbeat_interval: config::millis_or("PRESENCE_HEARTBEAT_MS", d.heartbeat_interval)?,
            max_connections: config::parse_or("MAX_CONNECTIONS", d.max_connections)?,
            unready_delay: config::millis_or("SHUTDOWN_UNREADY_MS", d.unready_delay)?,
            drain_timeout: config::millis_or("SHUTDOWN_DRAIN_MS", d.drain_timeout)?,
        };
        for (name, value) in [
            ("OUTBOUND_QUEUE", s.outbound_queue),
            ("MAX_IN_FLIGHT", s.max_in_flight),
            ("MAX_FRAME_BYTES", s.max_frame_bytes),
        ] {
            if value == 0 {
                return Err(ConfigError::new(name, "must be at least 1"));
            }
        }
        Ok(s)
    }
}
