//! The notification service: e-mail from a durable JetStream queue.
//!
//! Producers publish `NotificationEvent`s on `<prefix>.notification.<kind>`; the stream
//! keeps them until a replica has done what they ask. Each e-mail has a dedupe key in
//! PostgreSQL (the event's key plus the recipient), so a redelivered or republished event
//! never sends a mail twice; failed tries back off exponentially and end as dead letters an
//! operator lists and replays over gRPC (`switchboard notifications …`). Unread-message
//! events open a digest per recipient that is mailed after the quiet period.
//!
//! - [`config`] — settings.
//! - [`queue`] — the stream, the shared durable consumer, acknowledgements.
//! - [`deliver`] — what one event asks for; consultation e-mails.
//! - [`digest`] — offline-message digests.
//! - [`mail`] — MIME building (iMIP invitations) and the pooled SMTP transport.
//! - [`templates`] — plain-text and HTML bodies.
//! - [`store`] — SQL.
//! - [`grpc`] — `NotificationService`.
//! - [`metrics`] — Prometheus metrics.

pub mod config;
pub mod deliver;
pub mod digest;
pub mod grpc;
pub mod mail;
pub mod metrics;
pub mod queue;
pub mod store;
pub mod templates;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use switchboard_common::subjects::Subjects;
use switchboard_proto::notification::v1::notification_service_server::NotificationServiceServer;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::Settings;

use crate::deliver::Deliverer;

pub struct Application {
    settings: Settings,
    grpc_listener: TcpListener,
    http_listener: TcpListener,
    grpc_addr: SocketAddr,
    http_addr: SocketAddr,
    nats: async_nats::Client,
    deliverer: Arc<Deliverer>,
}

impl Application {
    /// Binds the listeners, connects to PostgreSQL (applying migrations) and NATS.
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
        let nats = switchboard_common::nats::connect(
            &settings.nats_url,
            "switchboard-notification",
            Duration::from_secs(5),
        )
        .await
        .context("connecting to NATS")?;
        let mailer = mail::Mailer::new(&settings)?;
        let deliverer = Arc::new(Deliverer {
            store: store::Store::new(pool),
            mailer,
            templates: templates::Templates::new(),
            metrics: Arc::new(metrics::NotificationMetrics::new()),
            retry: settings.retry,
            quiet_period: settings.quiet_period,
            app_url: settings.app_url.clone(),
            lease: settings.smtp.timeout * 3 + Duration::from_secs(1),
        });
        Ok(Self {
            grpc_addr: grpc_listener.local_addr()?,
            http_addr: http_listener.local_addr()?,
            settings,
            grpc_listener,
            http_listener,
            nats,
            deliverer,
        })
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Consumes the queue, mails digests and serves gRPC and the ops endpoints until
    /// `shutdown`; mails in flight finish first (up to `SHUTDOWN_DRAIN_MS`).
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Self {
            settings,
            grpc_listener,
            http_listener,
            nats,
            deliverer,
            ..
        } = self;
        let subjects = Subjects::new(settings.subject_prefix.clone());
        let jetstream = async_nats::jetstream::new(nats.clone());

        let queue = tokio::spawn(queue::run(
            jetstream.clone(),
            queue::QueueSettings {
                stream_name: settings.stream_name(),
                subjects: subjects.notifications_all(),
                max_messages: settings.stream_max_messages,
                max_age: settings.stream_max_age,
                replicas: settings.stream_replicas,
                ack_wait: settings.ack_wait,
                concurrency: settings.concurrency,
                drain_timeout: settings.drain_timeout,
            },
            deliverer.clone(),
            shutdown.clone(),
        ));
        let tick =
            (settings.quiet_period / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
        let digests = tokio::spawn(digest::run(deliverer.clone(), tick, shutdown.clone()));

        let (grpc_server, health_reporter) =
            switchboard_common::grpc::server(Duration::from_secs(10))
                .context("building gRPC reflection")?;
        health_reporter
            .set_serving::<NotificationServiceServer<grpc::NotificationGrpc>>()
            .await;
        let grpc_shutdown = shutdown.clone();
        let grpc = grpc_server
            .add_service(NotificationServiceServer::new(grpc::NotificationGrpc {
                store: deliverer.store.clone(),
                jetstream,
                subjects,
            }))
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(grpc_listener),
                async move { grpc_shutdown.cancelled().await },
            );

        let ops = switchboard_common::ops::router(
            deliverer.metrics.registry.clone(),
            switchboard_common::ops::nats_and_db_readiness(
                Some(nats.clone()),
                deliverer.store.pool().clone(),
            ),
        );
        let http_shutdown = shutdown.clone();
        let http = axum::serve(http_listener, ops)
            .with_graceful_shutdown(async move { http_shutdown.cancelled().await });

        let (grpc_result, http_result) =
            tokio::join!(async { grpc.await.context("gRPC server") }, async {
                http.await.context("HTTP server")
            });
        let _ = queue.await;
        let _ = digests.await;
        if let Err(e) = nats.flush().await {
            tracing::debug!(error = %e, "flushing NATS at shutdown");
        }
        grpc_result?;
        http_result?;
        Ok(())
    }
}
