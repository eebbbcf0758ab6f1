//! The notification service's settings: compiled-in defaults, overridden by environment
//! variables, checked once at start.

use std::net::SocketAddr;
use std::time::Duration;

use lettre::message::Mailbox;
use switchboard_common::config::{self, ConfigError};
use switchboard_common::subjects::Subjects;

#[derive(Clone, Debug)]
pub struct Settings {
    /// `DATABASE_URL`.
    pub database_url: String,
    /// `NOTIFICATION_DB_MAX_CONNECTIONS`.
    pub db_max_connections: u32,
    /// `NOTIFICATION_RUN_MIGRATIONS`: apply pending migrations at start.
    pub run_migrations: bool,
    /// `NATS_URL`.
    pub nats_url: String,
    /// `NATS_SUBJECT_PREFIX`: the stream covers `<prefix>.notification.>`.
    pub subject_prefix: String,
    /// `NOTIFICATION_GRPC_ADDR`: NotificationService, health and reflection.
    pub grpc_addr: SocketAddr,
    /// `NOTIFICATION_HTTP_ADDR`: `/healthz`, `/readyz`, `/metrics`.
    pub http_addr: SocketAddr,
    /// `SHUTDOWN_DRAIN_MS`: how long mails in flight may take to finish on shutdown.
    pub drain_timeout: Duration,
    pub smtp: SmtpSettings,
    /// `MAIL_FROM`: the sender of every e-mail.
    pub mail_from: Mailbox,
    /// `MAIL_REPLY_TO`.
    pub mail_reply_to: Option<Mailbox>,
    /// `APP_URL`: every link in an e-mail starts here.
    pub app_url: String,
    /// `NOTIFICATION_QUIET_PERIOD_SECS`: how long after the first unread message an offline
    /// recipient's digest waits, and the least time between two digests.
    pub quiet_period: Duration,
    pub retry: RetryPolicy,
    /// `NOTIFICATION_CONCURRENCY`: queue messages one replica works on at once.
    pub concurrency: usize,
    /// `NOTIFICATION_ACK_WAIT_MS`: how long an event taken by a replica that died stays
    /// with it before the queue hands it to another (set when the consumer is created).
    pub ack_wait: Duration,
    /// `NOTIFICATION_STREAM_MAX_MSGS`: the queue's bound; publishers are refused beyond it.
    pub stream_max_messages: i64,
    /// `NOTIFICATION_STREAM_MAX_AGE_SECS`: queued events older than this are dropped.
    pub stream_max_age: Duration,
    /// `NOTIFICATION_STREAM_REPLICAS`: copies of the stream in a NATS cluster (1 on a
    /// single server; 3 in production).
    pub stream_replicas: usize,
}

#[derive(Clone, Debug)]
pub struct SmtpSettings {
    /// `SMTP_URL`: `smtp://host:port` (plain), `smtp://…?tls=required` (STARTTLS),
    /// `smtps://…` (implicit TLS); credentials as `user:pass@`.
    pub url: String,
    /// `SMTP_TIMEOUT_MS`: one SMTP command.
    pub timeout: Duration,
    /// `SMTP_POOL_SIZE`: connections kept open to the server.
    pub pool_size: u32,
}

/// Attempts and backoff of one e-mail.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// `NOTIFICATION_MAX_ATTEMPTS`: tries before an e-mail is dead-lettered.
    pub max_attempts: u32,
    /// `NOTIFICATION_RETRY_BASE_MS`: delay after the first failure; doubled each time.
    pub base: Duration,
    /// `NOTIFICATION_RETRY_MAX_MS`: the longest delay.
    pub max: Duration,
}

impl RetryPolicy {
    /// The delay before the next try after `attempts` failed ones, with up to 20 % jitter
    /// taken off so that replicas retrying together spread out.
    pub fn delay(&self, attempts: u32) -> Duration {
        let exp = attempts.saturating_sub(1).min(20);
        let full = self.base.saturating_mul(1 << exp).min(self.max);
        let jitter = rand::random::<f64>() * 0.2;
        full.mul_f64(1.0 - jitter)
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: config::DEFAULT_DATABASE_URL.into(),
            db_max_connections: 8,
            run_migrations: true,
            nats_url: config::DEFAULT_NATS_URL.into(),
            subject_prefix: "sb".into(),
            grpc_addr: "127.0.0.1:50054".parse().expect("valid address"),
            http_addr: "127.0.0.1:9104".parse().expect("valid address"),
            drain_timeout: Duration::from_secs(10),
            smtp: SmtpSettings {
                url: "smtp://127.0.0.1:1025".into(),
                timeout: Duration::from_secs(10),
                pool_size: 4,
            },
            mail_from: "Switchboard <no-reply@switchboard.localhost>"
                .parse()
                .expect("valid mailbox"),
            mail_reply_to: None,
            app_url: "http://127.0.0.1:8080".into(),
            quiet_period: Duration::from_secs(120),
            retry: RetryPolicy {
                max_attempts: 8,
                base: Duration::from_secs(1),
                max: Duration::from_secs(300),
            },
            concurrency: 8,
            ack_wait: Duration::from_secs(60),
            stream_max_messages: 1_000_000,
            stream_max_age: Duration::from_secs(7 * 24 * 3600),
            stream_replicas: 1,
        }
    }
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let d = Self::default();
        let mailbox =
            |name: &str, default: Option<Mailbox>| -> Result<Option<Mailbox>, ConfigError> {
                match config::var(name) {
                    None => Ok(default),
                    Some(raw) => raw
                        .parse::<Mailbox>()
                        .map(Some)
                        .map_err(|e| ConfigError::new(name, format!("not a mailbox: {e}"))),
                }
            };
        let s = Self {
            database_url: config::var("DATABASE_URL").unwrap_or(d.database_url),
            db_max_connections: config::parse_or(
                "NOTIFICATION_DB_MAX_CONNECTIONS",
                d.db_max_connections,
            )?,
            run_migrations: config::parse_or("NOTIFICATION_RUN_MIGRATIONS", d.run_migrations)?,
            nats_url: config::var("NATS_URL").unwrap_or(d.nats_url),
            subject_prefix: config::var("NATS_SUBJECT_PREFIX").unwrap_or(d.subject_prefix),
            grpc_addr: config::parse_or("NOTIFICATION_GRPC_ADDR", d.grpc_addr)?,
            http_addr: config::parse_or("NOTIFICATION_HTTP_ADDR", d.http_addr)?,
            drain_timeout: config::millis_or("SHUTDOWN_DRAIN_MS", d.drain_timeout)?,
            smtp: SmtpSettings {
                url: config::var("SMTP_URL").unwrap_or(d.smtp.url),
                timeout: config::millis_or("SMTP_TIMEOUT_MS", d.smtp.timeout)?,
                pool_size: config::parse_or("SMTP_POOL_SIZE", d.smtp.pool_size)?,
            },
            mail_from: mailbox("MAIL_FROM", Some(d.mail_from))?.expect("defaulted"),
            mail_reply_to: mailbox("MAIL_REPLY_TO", None)?,
            app_url: config::var("APP_URL")
                .map(|u| u.trim_end_matches('/').to_owned())
                .unwrap_or(d.app_url),
            quiet_period: Duration::from_secs_f64(config::parse_or(
                "NOTIFICATION_QUIET_PERIOD_SECS",
                d.quiet_period.as_secs_f64(),
            )?),
            retry: RetryPolicy {
                max_attempts: config::parse_or("NOTIFICATION_MAX_ATTEMPTS", d.retry.max_attempts)?,
                base: config::millis_or("NOTIFICATION_RETRY_BASE_MS", d.retry.base)?,
                max: config::millis_or("NOTIFICATION_RETRY_MAX_MS", d.retry.max)?,
            },
            concurrency: config::parse_or("NOTIFICATION_CONCURRENCY", d.concurrency)?,
            ack_wait: config::millis_or("NOTIFICATION_ACK_WAIT_MS", d.ack_wait)?,
            stream_max_messages: config::parse_or(
                "NOTIFICATION_STREAM_MAX_MSGS",
                d.stream_max_messages,
            )?,
            stream_max_age: Duration::from_secs(config::parse_or(
                "NOTIFICATION_STREAM_MAX_AGE_SECS",
                d.stream_max_age.as_secs(),
            )?),
            stream_replicas: config::parse_or("NOTIFICATION_STREAM_REPLICAS", d.stream_replicas)?,
        };
        s.validate()?;
        Ok(s)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.retry.max_attempts == 0 {
            return Err(ConfigError::new(
                "NOTIFICATION_MAX_ATTEMPTS",
                "must be at least 1",
            ));
        }
        if self.concurrency == 0 {
            return Err(ConfigError::new(
                "NOTIFICATION_CONCURRENCY",
                "must be at least 1",
            ));
        }
        if !self.quiet_period.is_zero() && self.quiet_period < Duration::from_millis(100) {
            return Err(ConfigError::new(
                "NOTIFICATION_QUIET_PERIOD_SECS",
                "must be at least 0.1",
            ));
        }
        if self.ack_wait < self.smtp.timeout * 3 + Duration::from_secs(1) {
            return Err(ConfigError::new(
                "NOTIFICATION_ACK_WAIT_MS",
                "must exceed three SMTP timeouts plus a second (one whole SMTP transaction)",
            ));
        }
        if !(1..=5).contains(&self.stream_replicas) {
            return Err(ConfigError::new(
                "NOTIFICATION_STREAM_REPLICAS",
                "must be between 1 and 5",
            ));
        }
        if self.stream_max_messages <= 0 {
            return Err(ConfigError::new(
                "NOTIFICATION_STREAM_MAX_MSGS",
                "must be positive",
            ));
        }
        if !(self.smtp.url.starts_with("smtp://") || self.smtp.url.starts_with("smtps://")) {
            return Err(ConfigError::new(
                "SMTP_URL",
                "must start with smtp:// or smtps://",
            ));
        }
        if !(self.app_url.starts_with("http://") || self.app_url.starts_with("https://")) {
            return Err(ConfigError::new("APP_URL", "must be an http(s) URL"));
        }
        Ok(())
    }

    /// The JetStream stream's name for this prefix.
    pub fn stream_name(&self) -> String {
        Subjects::new(self.subject_prefix.clone()).notification_stream()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitter_only_shortens() {
        let policy = RetryPolicy {
            max_attempts: 8,
            base: Duration::from_millis(100),
            max: Duration::from_millis(1000),
        };
        for (attempts, full) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (4, 800),
            (5, 1000),
            (30, 1000),
        ] {
            let d = policy.delay(attempts).as_millis() as u64;
            assert!(
                d <= full && d >= full * 8 / 10,
                "attempt {attempts}: {d} ms"
            );
        }
    }

    #[test]
    fn stream_names_have_no_dots() {
        let s = Settings {
            subject_prefix: "a.b".into(),
            ..Settings::default()
        };
        assert_eq!(s.stream_name(), "a_b_notifications");
    }
}
