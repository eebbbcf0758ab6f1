//! The presence service: who is online, across every gateway replica.
//!
//! Gateways report each connection's open and close and beat every two seconds. The state
//! lives in PostgreSQL, so any number of presence replicas share it and a restart loses
//! nothing; each change computes the real transitions and tells the user's online
//! contacts. A gateway that dies without a word has its connections expired once its
//! heartbeats stop; one whose reported state disagrees with the stored one is asked for a
//! snapshot.
//!
//! - [`config`] — settings.
//! - [`store`] — the shared state and its transitions.
//! - [`events`] — NATS: events, heartbeats, sweep, snapshots, queries, announcements.
//! - [`grpc`] — `PresenceService`.
//! - [`metrics`] — Prometheus metrics.

pub mod config;
pub mod events;
pub mod grpc;
pub mod metrics;
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use switchboard_common::subjects::Subjects;
use switchboard_proto::presence::v1::presence_service_server::PresenceServiceServer;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::Settings;
use events::Presence;

pub struct Application {
    settings: Settings,
    grpc_listener: TcpListener,
    http_listener: TcpListener,
    grpc_addr: SocketAddr,
    http_addr: SocketAddr,
    presence: Presence,
    subscriptions: events::Subscriptions,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let grpc_listener = TcpListener::bind(settings.grpc_addr)
            .await
            .with_context(|| format!("binding gRPC on {}", settings.grpc_addr))?;
        let http_listener = TcpListener::bind(settings.http_addr)
            .await
            .with_context(|| format!("binding HTTP on {}", settings.http_addr))?;
        // Custom plans only: `presence_connections` grows from empty to every live connection
        // within seconds of a start, and a generic plan cached while it was small kept a
        // sequential scan of it inside the per-contact subquery of the announcement query
        // (seconds per batch, announcements seconds late, in a connect storm after a start).
        // Presence statements run once per batch, so planning each time costs little.
        let pool = switchboard_common::db::open_with_settings(
            &settings.database_url,
            settings.db_max_connections,
            settings.run_migrations,
            &[("plan_cache_mode", "force_custom_plan")],
        )
        .await?;
        let nats = switchboard_common::nats::connect(
            &settings.nats_url,
            "switchboard-presence",
            std::time::Duration::from_secs(5),
        )
        .await
        .context("connecting to NATS")?;
        let subjects = Subjects::new(settings.subject_prefix.clone());
        let subscriptions = events::Subscriptions::subscribe(&nats, &subjects)
            .await
            .context("subscribing to presence subjects")?;
        // The server has the subscriptions once it answers a flush; without NATS yet, the
        // service starts anyway and listens once connected.
        if tokio::time::timeout(std::time::Duration::from_secs(5), nats.flush())
            .await
            .is_err()
        {
            tracing::warn!("NATS does not answer yet; presence listens once it does");
        }
        let presence = Presence {
            store: store::Store::new(pool),
            nats,
            subjects,
            metrics: Arc::new(metrics::PresenceMetrics::new()),
            hearing: events::Hearing::new(),
        };
        Ok(Self {
            grpc_addr: grpc_listener.local_addr()?,
            http_addr: http_listener.local_addr()?,
            settings,
            grpc_listener,
            http_listener,
            presence,
            subscriptions,
        })
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Self {
            settings,
            grpc_listener,
            http_listener,
            presence,
            subscriptions,
            ..
        } = self;
        let (grpc_server, health_reporter) =
            switchboard_common::grpc::server(std::time::Duration::from_secs(30))
                .context("building gRPC reflection")?;
        health_reporter
            .set_serving::<PresenceServiceServer<grpc::PresenceGrpc>>()
            .await;
        let grpc_shutdown = shutdown.clone();
        let grpc = grpc_server
            .add_service(PresenceServiceServer::new(grpc::PresenceGrpc {
                presence: presence.clone(),
            }))
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(grpc_listener),
                async move { grpc_shutdown.cancelled().await },
            );

        let ops = switchboard_common::ops::router(
            presence.metrics.registry.clone(),
            switchboard_common::ops::nats_and_db_readiness(
                Some(presence.nats.clone()),
                presence.store.pool().clone(),
            ),
        );
        let http_shutdown = shutdown.clone();
        let http = axum::serve(http_listener, ops)
            .with_graceful_shutdown(async move { http_shutdown.cancelled().await });

        let (grpc_r, http_r, events_r, beats_r, queries_r, ()) = tokio::join!(
            async { grpc.await.context("gRPC server") },
            async { http.await.context("HTTP server") },
            async {
                events::consume_connection_events(
                    presence.clone(),
                    subscriptions.connection_events,
                    settings.max_batch,
                    shutdown.clone(),
                )
                .await
                .context("connection events")
            },
            async {
                events::consume_heartbeats(
                    presence.clone(),
                    subscriptions.heartbeats,
                    shutdown.clone(),
                )
                .await
                .context("heartbeats")
            },
            async {
                events::answer_queries(
                    presence.clone(),
                    subscriptions.queries,
                    subscriptions.contacts,
                    shutdown.clone(),
                )
                .await
                .context("queries")
            },
            events::sweep_dead_gateways(
                presence.clone(),
                settings.gateway_dead_after,
                settings.sweep_interval,
                shutdown.clone(),
            ),
        );
        let _ = presence.nats.flush().await;
        grpc_r?;
        http_r?;
        events_r?;
        beats_r?;
        queries_r?;
        Ok(())
    }
}
