//! Support for the end-to-end tests: each test gets a fresh PostgreSQL database and a
//! unique NATS subject prefix, starts the real service binaries on port 0 and drives them
//! over real sockets.
//!
//! - [`db`] — a database per test, dropped afterwards.
//! - [`process`] — a service binary running in the background.
//! - [`stack`] — chat replicas and gateway replicas wired together.
//! - [`ws`] — a WebSocket client speaking the native framing.
//! - [`fakes`] — local Google and Zoom API fakes for the meeting service.
//! - [`traffic`] — senders that retry until acked, and the final acked/stored/synced count.
//! - [`nats_server`] — a private NATS a test may stop and start.
//! - [`notification`] — the notification service with test settings.
//! - [`smtp`] — a real SMTP server writing what it accepts to a folder.
//! - [`postgres_server`] — a private PostgreSQL cluster a test may stop and restart.

pub mod db;
pub mod fakes;
pub mod nats_server;
pub mod notification;
pub mod postgres_server;
pub mod process;
pub mod smtp;
pub mod stack;
pub mod traffic;
pub mod ws;

/// The dev HS256 secret the test stacks use.
pub const TEST_JWT_SECRET: &str = "switchboard-test-secret-0123456789";

/// A token for `user` signed with [`TEST_JWT_SECRET`], valid for an hour.
pub fn token(user: uuid::Uuid) -> String {
    token_with(user, 3600, serde_json::json!({}))
}

/// A token with a chosen lifetime and extra claims.
pub fn token_with(user: uuid::Uuid, ttl_secs: u64, extra: serde_json::Value) -> String {
    switchboard_common::auth::mint_hs256(TEST_JWT_SECRET, user, ttl_secs, extra).expect("token")
}
