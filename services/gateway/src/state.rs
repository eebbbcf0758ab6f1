//! What every request and connection of this replica shares.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use axum::http::{HeaderMap, header};
use switchboard_common::auth::JwtVerifier;
use switchboard_common::subjects::Subjects;
use switchboard_common::wire::{ErrorCode, WireError};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use crate::chat_client::ChatClient;
use crate::config::Settings;
use crate::hub::Hub;
use crate::metrics::GatewayMetrics;
use crate::presence_client::PresenceClient;
use crate::rate_limit::RateLimiter;

pub struct GatewayState {
    pub settings: Settings,
    pub gateway_id: String,
    pub verifier: JwtVerifier,
    pub hub: Hub,
    pub deliveries: Arc<crate::deliveries::DeliveryBus>,
    pub chat: ChatClient,
    pub presence: PresenceClient,
    pub nats: async_nats::Client,
    pub subjects: Subjects,
    pub limiter: RateLimiter,
    /// Typing events per user (SPEC §2.4: 5 per second).
    pub typing_limiter: RateLimiter,
    pub metrics: Arc<GatewayMetrics>,
    /// Cancelled on shutdown: every connection closes with "going away".
    pub shutdown: CancellationToken,
    /// Every connection task, so shutdown can wait for them.
    pub tracker: TaskTracker,
    pub(crate) draining: AtomicBool,
    pub(crate) open_sockets: Arc<AtomicUsize>,
    /// Users the REST fallback has already recorded (bounded; cleared when full).
    pub(crate) rest_users: Mutex<HashSet<Uuid>>,
}

/// A reserved slot under `MAX_CONNECTIONS`, released on drop.
pub struct ConnectionPermit(Arc<AtomicUsize>);

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

const REST_USERS_CAP: usize = 100_000;

impl GatewayState {
    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    pub fn try_reserve_connection(&self) -> Option<ConnectionPermit> {
        let max = self.settings.max_connections;
        let reserved = self
            .open_sockets
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            });
        reserved
            .ok()
            .map(|_| ConnectionPermit(self.open_sockets.clone()))
    }

    /// Browser `Origin` against the allow-list; requests without one are not from a page.
    pub fn check_origin(&self, headers: &HeaderMap) -> Result<(), WireError> {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return Ok(());
        };
        let allowed = &self.settings.allowed_origins;
        if allowed.iter().any(|a| a == "*") {
            return Ok(());
        }
        let origin = origin.to_str().unwrap_or("");
        if allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)) {
            Ok(())
        } else {
            Err(WireError::new(
                ErrorCode::Forbidden,
                format!("origin {origin:?} is not allowed"),
            ))
        }
    }

    pub fn check_typing_rate(&self, user: Uuid) -> Result<(), WireError> {
        if self.typing_limiter.try_acquire(user) {
            Ok(())
        } else {
            Err(WireError::new(
                ErrorCode::RateLimited,
                format!("too many typing events: {}", self.typing_limiter.describe()),
            ))
        }
    }

    pub fn check_send_rate(&self, user: Uuid) -> Result<(), WireError> {
        if self.limiter.try_acquire(user) {
            Ok(())
        } else {
            Err(WireError::new(
                ErrorCode::RateLimited,
                format!("too many messages: {}", self.limiter.describe()),
            ))
        }
    }

    /// Records a REST caller once (WebSocket connections record on every connect).
    pub async fn ensure_user_recorded(
        &self,
        token: &switchboard_common::auth::VerifiedToken,
    ) -> Result<(), WireError> {
        if self
            .rest_users
            .lock()
            .expect("rest users lock")
            .contains(&token.user_id)
        {
            return Ok(());
        }
        self.chat.upsert_user(token).await?;
        let mut known = self.rest_users.lock().expect("rest users lock");
        if known.len() >= REST_USERS_CAP {
            known.clear();
        }
        known.insert(token.user_id);
        Ok(())
    }
}
