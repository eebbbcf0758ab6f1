//! The chat service: the record of every message.
//!
//! It answers the gateway's commands from NATS (queue group, any number of replicas),
//! validates them, stores messages with group commit, acks only after the commit, and
//! publishes each delivery to the users' subjects. Internal callers use gRPC.
//!
//! - [`config`] — settings.
//! - [`error`] — errors and their mappings.
//! - [`ids`] — UUIDv7 message ids in commit order.
//! - [`message`] — the stored message and its renderings.
//! - [`store`] — SQL.
//! - [`batcher`] — group commit.
//! - [`service`] — the operations, shared by both entry points.
//! - [`commands`] — the NATS command consumer.
//! - [`grpc`] — `ChatService` and `UserService`.
//! - [`metrics`] — Prometheus metrics.

pub mod batcher;
pub mod commands;
pub mod config;
pub mod error;
pub mod grpc;
pub mod ids;
pub mod message;
pub mod metrics;
pub mod service;
pub mod store;
pub mod unread;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use switchboard_common::subjects::Subjects;
use switchboard_proto::chat::v1::chat_service_server::ChatServiceServer;
use switchboard_proto::chat::v1::user_service_server::UserServiceServer;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::Settings;

pub struct Application {
    settings: Settings,
    grpc_listener: TcpListener,
    http_listener: TcpListener,
    grpc_addr: SocketAddr,
    http_addr: SocketAddr,
    core: Arc<ChatCore>,
    nats: async_nats::Client,
    /// The command subscription, made in `build` so the ready line is true.
    command_subscription: async_nats::Subscriber,
    writer: tokio::task::JoinHandle<()>,
    unread_shutdown: CancellationToken,
    unread_worker: Option<tokio::task::JoinHandle<()>>,
}

use service::ChatCore;

impl Application {
    /// Binds the listeners, connects to PostgreSQL and NATS and applies migrations.
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
            "switchboard-chat",
            std::time::Duration::from_secs(5),
        )
        .await
        .context("connecting to NATS")?;
        let command_subscription =
            commands::subscribe(&nats, &Subjects::new(settings.subject_prefix.clone()))
                .await
                .context("subscribing to commands")?;
        // The server has the subscription once it answers a flush; without NATS yet, the
        // service starts anyway and serves commands once connected.
        if tokio::time::timeout(std::time::Duration::from_secs(5), nats.flush())
            .await
            .is_err()
        {
            tracing::warn!("NATS does not answer yet; commands are served once it does");
        }
        let writer =
            store::WriterConnection::new(&settings.database_url).context("DATABASE_URL")?;
        let store = store::Store::new(pool);
        let (batcher, writer) =
            batcher::SendBatcher::start(store.clone(), writer, settings.max_batch);
        let metrics = Arc::new(metrics::ChatMetrics::new());
        let unread_shutdown = CancellationToken::new();
        let (unread, unread_worker) = if settings.notify_unread {
            let (notifier, worker) = unread::UnreadNotifier::start(
                store.pool().clone(),
                nats.clone(),
                Subjects::new(settings.subject_prefix.clone()),
                metrics.clone(),
                unread_shutdown.clone(),
            );
            (Some(notifier), Some(worker))
        } else {
            (None, None)
        };
        let core = Arc::new(ChatCore::new(
            store,
            batcher,
            nats.clone(),
            Subjects::new(settings.subject_prefix.clone()),
            settings.max_content_chars,
            metrics,
            unread,
        ));
        Ok(Self {
            grpc_addr: grpc_listener.local_addr()?,
            http_addr: http_listener.local_addr()?,
            settings,
            grpc_listener,
            http_listener,
            core,
            nats,
            command_subscription,
            writer,
            unread_shutdown,
            unread_worker,
        })
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Serves commands, gRPC and the ops endpoints until `shutdown`, then drains.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Self {
            settings,
            grpc_listener,
            http_listener,
            core,
            nats,
            command_subscription,
            writer,
            unread_shutdown,
            unread_worker,
            ..
        } = self;

        let (grpc_server, health_reporter) =
            switchboard_common::grpc::server(std::time::Duration::from_secs(30))
                .context("building gRPC reflection")?;
        health_reporter
            .set_serving::<ChatServiceServer<grpc::ChatGrpc>>()
            .await;
        health_reporter
            .set_serving::<UserServiceServer<grpc::UserGrpc>>()
            .await;
        let grpc_shutdown = shutdown.clone();
        let grpc = grpc_server
            .add_service(ChatServiceServer::new(grpc::ChatGrpc {
                core: core.clone(),
            }))
            .add_service(UserServiceServer::new(grpc::UserGrpc {
                core: core.clone(),
            }))
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(grpc_listener),
                async move { grpc_shutdown.cancelled().await },
            );

        let ops = switchboard_common::ops::router(
            core.metrics().registry.clone(),
            switchboard_common::ops::nats_and_db_readiness(
                Some(nats.clone()),
                core.store.pool().clone(),
            ),
        );
        let http_shutdown = shutdown.clone();
        let http = axum::serve(http_listener, ops)
            .with_graceful_shutdown(async move { http_shutdown.cancelled().await });

        // A task of its own: a branch of the `join!` below, every command's wake-up would
        // also poll the gRPC and HTTP servers.
        let commands = tokio::spawn(commands::serve(
            core.clone(),
            nats.clone(),
            command_subscription,
            settings.max_concurrent_commands,
            settings.drain_timeout,
            shutdown.clone(),
        ));

        let (grpc_result, http_result, commands_result) = tokio::join!(
            async { grpc.await.context("gRPC server") },
            async { http.await.context("HTTP server") },
            async {
                commands
                    .await
                    .context("NATS command consumer task")?
                    .context("NATS command consumer")
            },
        );
        // Every sender of the writer is gone once the servers stop: it finishes the
        // batches it holds and ends.
        drop(core);
        let _ = tokio::time::timeout(settings.drain_timeout, writer).await;
        // After the last commit: the offline notifications it produced still go out.
        unread_shutdown.cancel();
        if let Some(worker) = unread_worker {
            let _ = tokio::time::timeout(settings.drain_timeout, worker).await;
        }
        let _ = nats.flush().await;
        grpc_result?;
        http_result?;
        commands_result?;
        Ok(())
    }
}
