//! The WebSocket gateway: stateless, any number of replicas behind a load balancer.
//!
//! It authenticates connections, turns client events into commands for the chat service
//! (NATS request/reply), and fans deliveries from NATS out to its own connections. Nothing
//! another replica needs lives here: a user on replica A receives what a user on replica B
//! sends because both replicas subscribe to the users they hold.
//!
//! - [`config`] — settings.
//! - [`state`] — what requests and connections share.
//! - [`ws`] — the upgrade, the framing, the connection loop.
//! - [`hub`] — users, connections and their delivery subscriptions.
//! - [`deliveries`] — the delivery subscriptions on their own NATS connection.
//! - [`bus`] — NATS request/reply with deadlines.
//! - [`chat_client`] — commands to the chat service.
//! - [`presence_client`] — connection events, heartbeats, snapshots, presence queries.
//! - [`rest`] — the REST fallback.
//! - [`rate_limit`] — per-user token buckets.
//! - [`metrics`] — Prometheus metrics.

pub mod bus;
pub mod chat_client;
pub mod config;
pub mod deliveries;
pub mod hub;
pub mod metrics;
pub mod presence_client;
pub mod rate_limit;
pub mod replies;
pub mod rest;
pub mod state;
pub mod ws;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::Context as _;
use axum::Router;
use axum::routing::{get, post};
use switchboard_common::auth::JwtVerifier;
use switchboard_common::subjects::Subjects;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::Settings;
use state::GatewayState;

pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    state: Arc<GatewayState>,
}

impl Application {
    /// Binds the listener, loads the JWT keys and connects to NATS.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let verifier = JwtVerifier::from_settings(&settings.jwt).context("JWT keys")?;
        let listener = TcpListener::bind(settings.addr)
            .await
            .with_context(|| format!("binding {}", settings.addr))?;
        let addr = listener.local_addr()?;
        let gateway_id = settings
            .gateway_id
            .clone()
            .unwrap_or_else(|| format!("gw-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]));
        let nats = switchboard_common::nats::connect(
            &settings.nats_url,
            &format!("switchboard-gateway-{gateway_id}"),
            settings.request_timeout,
        )
        .await
        .context("connecting to NATS")?;
        let subjects = Subjects::new(settings.subject_prefix.clone());
        let metrics = Arc::new(metrics::GatewayMetrics::new(&gateway_id));
        let shutdown = CancellationToken::new();
        let replies = replies::Replies::subscribe(&nats)
            .await
            .context("subscribing to command replies")?;
        let deliveries = Arc::new(
            deliveries::DeliveryBus::start(
                &settings.nats_url,
                format!("switchboard-gateway-{gateway_id}-deliveries"),
                replies.clone(),
                metrics.clone(),
            )
            .map_err(|e| anyhow::anyhow!("NATS_URL: {e}"))?,
        );
        let state = Arc::new(GatewayState {
            hub: hub::Hub::new(deliveries.clone(), subjects.clone(), metrics.clone()),
            chat: chat_client::ChatClient::new(
                nats.clone(),
                subjects.chat_command(),
                settings.request_timeout,
                replies,
                deliveries.clone(),
                metrics.clone(),
            ),
            deliveries,
            presence: presence_client::PresenceClient::new(
                nats.clone(),
                subjects.clone(),
                gateway_id.clone(),
                settings.request_timeout,
                metrics.clone(),
            ),
            subjects: subjects.clone(),
            limiter: rate_limit::RateLimiter::new(
                settings.rate_limit_per_user,
                settings.rate_limit_burst,
            ),
            typing_limiter: rate_limit::RateLimiter::new(
                settings.typing_rate_limit,
                settings.typing_rate_limit.saturating_mul(2),
            ),
            verifier,
            nats,
            metrics,
            gateway_id,
            shutdown,
            tracker: tokio_util::task::TaskTracker::new(),
            draining: Default::default(),
            open_sockets: Default::default(),
            rest_users: Default::default(),
            settings,
        });
        Ok(Self {
            listener,
            addr,
            state,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn gateway_id(&self) -> &str {
        &self.state.gateway_id
    }

    /// Serves until `shutdown`; then readiness goes false and new upgrades are refused for
    /// `SHUTDOWN_UNREADY_MS` while the connections are still served; then every socket
    /// gets the acks of what it has in flight and a going-away close, and the connections
    /// drain within the time limit.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let state = self.state;
        let app = router(state.clone());
        // Presence: heartbeats and snapshot answers run for as long as the connections do.
        let background = CancellationToken::new();
        let beats = tokio::spawn(presence_client::heartbeat(
            state.clone(),
            state.settings.heartbeat_interval,
            background.clone(),
        ));
        let snapshots = tokio::spawn(presence_client::answer_snapshots(
            state.clone(),
            background.clone(),
        ));
        let server_stop = CancellationToken::new();
        let stop = server_stop.clone();
        let server = tokio::spawn(async move {
            axum::serve(self.listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await
        });

        shutdown.cancelled().await;
        // Not ready first: load balancers stop routing here while the connections are
        // still served; only then do they get "going away" and reconnect elsewhere.
        state.draining.store(true, Ordering::Release);
        tracing::info!(
            connections = state.hub.connection_count(),
            delay_ms = state.settings.unready_delay.as_millis() as u64,
            "not ready; closing connections after the delay"
        );
        tokio::time::sleep(state.settings.unready_delay).await;
        tracing::info!(
            connections = state.hub.connection_count(),
            "draining connections"
        );
        state.shutdown.cancel();
        state.tracker.close();
        if tokio::time::timeout(state.settings.drain_timeout, state.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("connections did not close within the drain timeout");
        }
        state.deliveries.stop();
        server_stop.cancel();
        background.cancel();
        let _ = tokio::join!(beats, snapshots);
        match tokio::time::timeout(std::time::Duration::from_secs(2), server).await {
            Ok(joined) => joined.context("HTTP server task")?.context("HTTP server")?,
            Err(_) => tracing::warn!("HTTP server did not stop in time"),
        }
        let _ = state.nats.flush().await;
        Ok(())
    }
}

fn router(state: Arc<GatewayState>) -> Router {
    Router::new()
        .route("/ws", get(ws::upgrade))
        .route("/socket.io/", get(ws::upgrade_socketio))
        .route("/socket.io", get(ws::upgrade_socketio))
        .route("/v1/messages", post(rest::send_message))
        .route("/v1/conversations/{peer_id}/messages", get(rest::history))
        .route("/v1/messages/{message_id}/read", post(rest::mark_read))
        .route("/v1/presence", get(rest::presence))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(rest::not_found)
        .with_state(state)
}

async fn readyz(
    axum::extract::State(state): axum::extract::State<Arc<GatewayState>>,
) -> axum::response::Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    if state.draining() {
        return (StatusCode::SERVICE_UNAVAILABLE, "not ready: draining\n").into_response();
    }
    if !switchboard_common::nats::is_connected(&state.nats) || !state.deliveries.is_connected() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: NATS is not connected\n",
        )
            .into_response();
    }
    (StatusCode::OK, "ready\n").into_response()
}

async fn metrics(
    axum::extract::State(state): axum::extract::State<Arc<GatewayState>>,
) -> axum::response::Response {
    switchboard_common::ops::render_metrics(&state.metrics.registry)
}
