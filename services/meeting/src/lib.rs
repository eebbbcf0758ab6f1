//! The meeting-link service: real video meetings with calendar invitations.
//!
//! `CreateMeeting` tries the providers in the configured order (a caller's preferred one
//! first), stores the meeting with every attempt, and answers with the join link, the
//! "add to calendar" links and an RFC 5545 invitation; a retry with the same idempotency
//! key returns the stored meeting. Rescheduling and cancelling go to the provider first
//! and bump the invitation's `SEQUENCE`. `ValidateMeetingLink` tells real provider links
//! from look-alikes.
//!
//! - [`config`] — settings, including each provider's credentials and base URLs.
//! - [`error`] — errors and their gRPC mapping.
//! - [`domain`] — providers, people, and checks of free-form fields.
//! - [`providers`] — the Jitsi, Google Meet and Zoom clients and the failover.
//! - [`calendar`] — Google Calendar and Outlook links.
//! - [`ics`] — RFC 5545 invitations.
//! - [`links`] — the meeting-link validator.
//! - [`store`] — SQL.
//! - [`service`] — the operations and the rendering of a stored meeting.
//! - [`grpc`] — `MeetingService`.
//! - [`metrics`] — Prometheus metrics.

pub mod calendar;
pub mod config;
pub mod domain;
pub mod error;
pub mod grpc;
pub mod ics;
pub mod links;
pub mod metrics;
pub mod providers;
pub mod service;
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use switchboard_proto::meeting::v1::meeting_service_server::MeetingServiceServer;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::Settings;

use crate::links::LinkValidator;
use crate::providers::Providers;
use crate::service::MeetingCore;

pub struct Application {
    grpc_listener: TcpListener,
    http_listener: TcpListener,
    grpc_addr: SocketAddr,
    http_addr: SocketAddr,
    core: Arc<MeetingCore>,
}

impl Application {
    /// Binds the listeners, prepares the provider clients and applies migrations.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
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
        let providers = Providers::from_settings(&settings).context("provider clients")?;
        let mut jitsi_hosts = settings.jitsi.domains.clone();
        if let Some(host) = settings.jitsi.base_url.host_str() {
            jitsi_hosts.push(match settings.jitsi.base_url.port() {
                Some(p) => format!("{host}:{p}"),
                None => host.to_owned(),
            });
        }
        tracing::info!(
            order = ?settings.providers.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
            "meeting providers"
        );
        let core = Arc::new(MeetingCore {
            store: store::Store::new(pool),
            providers,
            validator: LinkValidator::new(jitsi_hosts),
            organizer: settings.organizer.clone(),
            uid_domain: settings.uid_domain.clone(),
            app_url: settings.app_url.clone(),
            metrics: Arc::new(metrics::MeetingMetrics::new()),
        });
        Ok(Self {
            grpc_addr: grpc_listener.local_addr()?,
            http_addr: http_listener.local_addr()?,
            grpc_listener,
            http_listener,
            core,
        })
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Serves gRPC and the ops endpoints until `shutdown`; in-flight calls finish first.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Self {
            grpc_listener,
            http_listener,
            core,
            ..
        } = self;

        // Long enough for every retry of a slow provider and a pending Meet conference.
        let (grpc_server, health_reporter) =
            switchboard_common::grpc::server(std::time::Duration::from_secs(60))
                .context("building gRPC reflection")?;
        health_reporter
            .set_serving::<MeetingServiceServer<grpc::MeetingGrpc>>()
            .await;
        let grpc_shutdown = shutdown.clone();
        let grpc = grpc_server
            .add_service(MeetingServiceServer::new(grpc::MeetingGrpc {
                core: core.clone(),
            }))
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(grpc_listener),
                async move { grpc_shutdown.cancelled().await },
            );

        let ops = switchboard_common::ops::router(
            core.metrics.registry.clone(),
            switchboard_common::ops::nats_and_db_readiness(None, core.store.pool().clone()),
        );
        let http_shutdown = shutdown.clone();
        let http = axum::serve(http_listener, ops)
            .with_graceful_shutdown(async move { http_shutdown.cancelled().await });

        let (grpc_result, http_result) =
            tokio::join!(async { grpc.await.context("gRPC server") }, async {
                http.await.context("HTTP server")
            },);
        grpc_result?;
        http_result?;
        Ok(())
    }
}
