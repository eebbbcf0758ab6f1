//! The durable queue: a JetStream work-queue stream over `<prefix>.notification.>` and one
//! durable pull consumer that every replica shares, so each event goes to one replica at a
//! time. An event is acknowledged only when everything it asks for is done: its e-mails
//! accepted by the SMTP server (or dead-lettered), or an unread message noted for the
//! recipient's digest. A failure is negatively acknowledged with the backoff delay, and
//! the event comes back.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer, stream};
use futures_util::StreamExt as _;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::deliver::{Deliverer, Outcome};

/// The durable consumer's name (one per stream, shared by all replicas).
pub const CONSUMER: &str = "notifier";

pub struct QueueSettings {
    pub stream_name: String,
    pub subjects: String,
    pub max_messages: i64,
    pub max_age: Duration,
    pub replicas: usize,
    pub ack_wait: Duration,
    pub concurrency: usize,
    pub drain_timeout: Duration,
}

/// Creates the stream and the consumer if they do not exist yet.
pub async fn ensure(
    js: &jetstream::Context,
    settings: &QueueSettings,
) -> anyhow::Result<consumer::PullConsumer> {
    use anyhow::Context as _;
    let stream = js
        .get_or_create_stream(stream::Config {
            name: settings.stream_name.clone(),
            subjects: vec![settings.subjects.clone()],
            retention: stream::RetentionPolicy::WorkQueue,
            storage: stream::StorageType::File,
            max_messages: settings.max_messages,
            max_age: settings.max_age,
            // Refuse new events rather than silently dropping old unsent ones; the
            // producers keep theirs and retry.
            discard: stream::DiscardPolicy::New,
            duplicate_window: Duration::from_secs(120),
            num_replicas: settings.replicas,
            ..Default::default()
        })
        .await
        .context("creating the notification stream")?;
    let consumer = stream
        .get_or_create_consumer(
            CONSUMER,
            consumer::pull::Config {
                durable_name: Some(CONSUMER.to_owned()),
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: settings.ack_wait,
                // Attempts are counted per e-mail in PostgreSQL; the queue keeps redelivering
                // until the event is acknowledged or terminated.
                max_deliver: -1,
                max_ack_pending: (settings.concurrency * 16) as i64,
                ..Default::default()
            },
        )
        .await
        .context("creating the notification consumer")?;
    Ok(consumer)
}

/// Consumes until `shutdown`, then lets the events in flight finish (up to the drain
/// limit; what is cut off comes back to another replica after the ack wait).
pub async fn run(
    js: jetstream::Context,
    settings: QueueSettings,
    deliverer: Arc<Deliverer>,
    shutdown: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(settings.concurrency));
    let mut tasks = JoinSet::new();
    'outer: while !shutdown.is_cancelled() {
        let consumer = match ensure(&js, &settings).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "notification queue not ready; retrying"
                );
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        let mut messages = match consumer
            .stream()
            .max_messages_per_batch(settings.concurrency.max(1))
            .heartbeat(Duration::from_secs(5))
            .expires(Duration::from_secs(30))
            .messages()
            .await
        {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "cannot pull notifications; retrying");
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        tracing::info!(stream = %settings.stream_name, "consuming notifications");
        loop {
            // Wait for capacity first, so no more is pulled than can be worked on.
            let permit = tokio::select! {
                () = shutdown.cancelled() => break 'outer,
                p = permits.clone().acquire_owned() => p.expect("semaphore never closed"),
            };
            let next = tokio::select! {
                () = shutdown.cancelled() => break 'outer,
                next = messages.next() => next,
            };
            match next {
                Some(Ok(message)) => {
                    let deliverer = deliverer.clone();
                    tasks.spawn(async move {
                        handle(&deliverer, message).await;
                        drop(permit);
                    });
                }
                Some(Err(e)) => {
                    // Missed heartbeats and the like: the pull stream recovers by itself.
                    tracing::debug!(error = %e, "notification pull");
                }
                None => {
                    tracing::warn!("notification pull ended; resubscribing");
                    break;
                }
            }
            while tasks.try_join_next().is_some() {}
        }
    }
    let drained = tokio::time::timeout(settings.drain_timeout, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            left = tasks.len(),
            "notifications still in flight at the drain limit"
        );
        tasks.abort_all();
    }
}

async fn handle(deliverer: &Deliverer, message: jetstream::Message) {
    deliverer.metrics.in_flight.inc();
    let outcome = deliverer.handle(&message.payload).await;
    let ack = match outcome {
        Outcome::Done => AckKind::Ack,
        Outcome::Malformed => AckKind::Term,
        Outcome::RetryIn(delay) => AckKind::Nak(Some(delay)),
    };
    if let Err(e) = message.ack_with(ack).await {
        // Not acknowledged: the event comes back after the ack wait and is recognised by
        // its dedupe key.
        tracing::warn!(error = %e, "acknowledging a notification failed");
    }
    deliverer.metrics.in_flight.dec();
}
