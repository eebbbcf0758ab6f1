//! Support for the end-to-end tests: each test gets a fresh PostgreSQL database and a
//! unique NATS subject prefix, starts the real service binaries on port 0 and drives them
//! over real sockets.
//!
//! - [`db`] — a database per test, dropped afterwards.
//! - [`process`] — a service binary running in the background.
//! - [`stack`] — chat replicas and gateway replicas wired together.
//! - [`ws`] — a WebSocket client speaking the native framing.
//! - [`fakes`] — local Google and Zoom API fakes for the meeting service.

pub mod db;
pub mod fakes;
pub mod process;
pub mod stack;
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
