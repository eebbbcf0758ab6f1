//! The consultation service: a scheduled video consultation between an applicant and a
//! lawyer.
//!
//! A booking validates the request, has the meeting-link service create the meeting over
//! gRPC, and stores the consultation with its link, the two users as contacts and the
//! notification for both in one transaction; the outbox then publishes it to NATS for the
//! notification service. Cancelling and rescheduling change the meeting first.
//!
//! - [`config`] — settings.
//! - [`error`] — errors and their mappings (REST, gRPC).
//! - [`store`] — SQL.
//! - [`meeting_client`] — the meeting-link service over gRPC.
//! - [`service`] — the operations, shared by both entry points.
//! - [`outbox`] — publishing queued notifications.
//! - [`http`] — the REST API.
//! - [`grpc`] — `ConsultationService`.
//! - [`metrics`] — Prometheus metrics.

pub mod config;
pub mod error;
pub mod grpc;
pub mod http;
pub mod meeting_client;
pub mod metrics;
pub mod outbox;
pub mod service;
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use switchboard_common::auth::JwtVerifier;
use switchboard_common::subjects::Subjects;
use switchboard_proto::consultation::v1::consultation_service_server::ConsultationServiceServer;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::Settings;

use crate::meeting_client::MeetingClient;
use crate::outbox::Outbox;
use crate::service::ConsultationCore;

pub struct Application {
    settings: Settings,
    grpc_listener: TcpListener,
    http_listener: TcpListener,
    grpc_addr: SocketAddr,
    http_addr: SocketAddr,
    core: Arc<ConsultationCore>,
    verifier: Arc<JwtVerifier>,
    nats: async_nats::Client,
}

impl Application {
    /// Binds the listeners, loads the JWT keys, connects to PostgreSQL and NATS, applies
    /// migrations. The meeting service is connected on first use.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let verifier = Arc::new(JwtVerifier::from_settings(&settings.jwt).context("JWT settings")?);
        let grpc_listener = TcpListener::bind(settings.grpc_addr)
            .await
            .with_context(|| format!("binding gRPC on {}", settings.grpc_addr))?;
        let http_listener = TcpListener::bind(settings.http_addr)
            .await
            .with_context(|| format!("binding HTTP on {}", settings.http_addr))?;
        let pool = switchboard_common::db::open(
            &settings.database_url,
            settings.db_max_connections,
            settings.run_migrations,
        )
        .await?;
        let nats = switchboard_common::nats::connect(
            &settings.nats_url,
            "switchboard-consultation",
            std::time::Duration::from_secs(5),
        )
        .await
        .context("connecting to NATS")?;
        let meetings =
            MeetingClient::connect_lazy(&settings.meeting_service_url, settings.meeting_timeout)
                .context("MEETING_SERVICE_URL")?;
        let metrics = Arc::new(metrics::ConsultationMetrics::new());
        let outbox = Outbox::new(
            pool.clone(),
            nats.clone(),
            Subjects::new(settings.subject_prefix.clone()),
            metrics.clone(),
        );
        let core = Arc::new(ConsultationCore {
            store: store::Store::new(pool),
            meetings,
            outbox,
            metrics,
        });
        Ok(Self {
            grpc_addr: grpc_listener.local_addr()?,
            http_addr: http_listener.local_addr()?,
            settings,
            grpc_listener,
            http_listener,
            core,
            verifier,
            nats,
        })
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Serves the REST API, gRPC and the outbox relay until `shutdown`, then drains.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Self {
            settings,
            grpc_listener,
            http_listener,
            core,
            verifier,
            nats,
            ..
        } = self;

        let (grpc_server, health_reporter) = switchboard_common::grpc::server(
            settings.meeting_timeout + std::time::Duration::from_secs(5),
        )
        .context("building gRPC reflection")?;
        health_reporter
            .set_serving::<ConsultationServiceServer<grpc::ConsultationGrpc>>()
            .await;
        let grpc_shutdown = shutdown.clone();
        let grpc = grpc_server
            .add_service(ConsultationServiceServer::new(grpc::ConsultationGrpc {
                core: core.clone(),
            }))
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(grpc_listener),
                async move { grpc_shutdown.cancelled().await },
            );

        let ops = switchboard_common::ops::router(
            core.metrics.registry.clone(),
            switchboard_common::ops::nats_and_db_readiness(
                Some(nats.clone()),
                core.store.pool().clone(),
            ),
        );
        // One listener: the API and the ops endpoints.
        let app = http::router(core.clone(), verifier, settings.max_body_bytes).merge(ops);
        let http_shutdown = shutdown.clone();
        let http = axum::serve(http_listener, app)
            .with_graceful_shutdown(async move { http_shutdown.cancelled().await });

        let relay = tokio::spawn(
            core.outbox
                .clone()
                .run(settings.outbox_interval, shutdown.clone()),
        );

        let (grpc_result, http_result) =
            tokio::join!(async { grpc.await.context("gRPC server") }, async {
                http.await.context("HTTP server")
            },);
        // The relay makes its last round once the servers stopped taking changes.
        shutdown.cancel();
        let _ = tokio::time::timeout(settings.drain_timeout, relay).await;
        let _ = nats.flush().await;
        grpc_result?;
        http_result?;
        Ok(())
    }
}
