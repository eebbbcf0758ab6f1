//! Offline recipients: after a commit, the recipients of the new messages who have no live
//! connection (the presence state in PostgreSQL) get a `message_unread` notification event,
//! from which the notification service mails a digest after its quiet period.
//!
//! This runs beside the send path, never in it: sends put their messages on a bounded
//! queue and are acknowledged without waiting; the worker coalesces each recipient's
//! messages into one event (the digest reads the messages themselves) and asks PostgreSQL
//! once per round who is online.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use sqlx::PgPool;
use switchboard_common::subjects::Subjects;
use switchboard_proto::notification::v1::notification_event::Kind;
use switchboard_proto::notification::v1::{MessageUnread, NotificationEvent};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::message::{StoredMessage, timestamp};
use crate::metrics::ChatMetrics;

/// Messages waiting for the worker; beyond this a notification is dropped (counted), never
/// the send.
const QUEUE: usize = 65_536;
/// Messages the worker takes per round.
const ROUND: usize = 16_384;
/// The least time between two rounds: one presence lookup covers everything stored in it
/// (per message it cost PostgreSQL a third of the chat path's throughput), and a digest
/// waits minutes anyway.
const ROUND_INTERVAL: Duration = Duration::from_millis(100);
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);
const PUBLISH_TRIES: u32 = 3;

struct Unread {
    recipient: Uuid,
    sender: Uuid,
    message_id: Uuid,
    created_at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct UnreadNotifier {
    tx: mpsc::Sender<Unread>,
    metrics: Arc<ChatMetrics>,
}

impl UnreadNotifier {
    pub fn start(
        pool: PgPool,
        nats: async_nats::Client,
        subjects: Subjects,
        metrics: Arc<ChatMetrics>,
        shutdown: CancellationToken,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let worker = Worker {
            pool,
            jetstream: async_nats::jetstream::new(nats),
            subjects,
            metrics: metrics.clone(),
            last_warning: None,
        };
        let handle = tokio::spawn(worker.run(rx, shutdown));
        (Self { tx, metrics }, handle)
    }

    /// Queues a newly stored message for the offline check.
    pub fn message_stored(&self, m: &StoredMessage) {
        let unread = Unread {
            recipient: m.recipient_id,
            sender: m.sender_id,
            message_id: m.id,
            created_at: m.created_at,
        };
        if self.tx.try_send(unread).is_err() {
            self.metrics
                .unread_notifications
                .with_label_values(&["dropped"])
                .inc();
        }
    }
}

struct Worker {
    pool: PgPool,
    jetstream: async_nats::jetstream::Context,
    subjects: Subjects,
    metrics: Arc<ChatMetrics>,
    last_warning: Option<Instant>,
}

impl Worker {
    async fn run(mut self, mut rx: mpsc::Receiver<Unread>, shutdown: CancellationToken) {
        let mut buf = Vec::with_capacity(ROUND);
        loop {
            let n = tokio::select! {
                n = rx.recv_many(&mut buf, ROUND) => n,
                () = shutdown.cancelled() => {
                    // What is queued still goes out, within a bound.
                    while let Ok(u) = rx.try_recv() {
                        buf.push(u);
                    }
                    if !buf.is_empty() {
                        let round = std::mem::take(&mut buf);
                        let _ = tokio::time::timeout(Duration::from_secs(3), self.round(round)).await;
                    }
                    return;
                }
            };
            if n == 0 {
                return;
            }
            let round = std::mem::take(&mut buf);
            let started = tokio::time::Instant::now();
            self.round(round).await;
            tokio::select! {
                () = tokio::time::sleep_until(started + ROUND_INTERVAL) => {}
                () = shutdown.cancelled() => {}
            }
        }
    }

    async fn round(&mut self, messages: Vec<Unread>) {
        // The latest message per recipient stands for all of them.
        let mut latest: HashMap<Uuid, Unread> = HashMap::new();
        for m in messages {
            match latest.get(&m.recipient) {
                Some(seen) if seen.message_id >= m.message_id => {}
                _ => {
                    latest.insert(m.recipient, m);
                }
            }
        }
        let recipients: Vec<Uuid> = latest.keys().copied().collect();
        let online: Vec<Uuid> = match sqlx::query_scalar(
            "SELECT DISTINCT c.user_id FROM presence_connections c
             JOIN presence_gateways g ON g.instance_id = c.instance_id
             WHERE c.user_id = ANY($1) AND c.closed_at IS NULL AND g.dead_at IS NULL",
        )
        .bind(&recipients)
        .fetch_all(&self.pool)
        .await
        {
            Ok(online) => online,
            Err(e) => {
                // Unknown: better an e-mail too many (the digest checks again) than none.
                self.warn(&format!("presence lookup failed: {e}"));
                Vec::new()
            }
        };
        for user in online {
            latest.remove(&user);
        }
        if latest.is_empty() {
            return;
        }
        let results = join_all(latest.into_values().map(|u| self.publish(u))).await;
        let mut failed = 0;
        for ok in results {
            let outcome = if ok { "published" } else { "failed" };
            if !ok {
                failed += 1;
            }
            self.metrics
                .unread_notifications
                .with_label_values(&[outcome])
                .inc();
        }
        if failed > 0 {
            self.warn(&format!(
                "{failed} unread-message notifications could not be queued (is the notification service running?)"
            ));
        }
    }

    async fn publish(&self, u: Unread) -> bool {
        let event = NotificationEvent {
            dedupe_key: format!("message_unread:{}", u.message_id),
            occurred_at: Some(timestamp(u.created_at)),
            kind: Some(Kind::MessageUnread(MessageUnread {
                recipient_id: u.recipient.to_string(),
                sender_id: u.sender.to_string(),
                message_id: u.message_id.to_string(),
            })),
        };
        for attempt in 0..PUBLISH_TRIES {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
            }
            match switchboard_common::notifications::publish(
                &self.jetstream,
                &self.subjects,
                &event,
                &event.dedupe_key,
                PUBLISH_TIMEOUT,
            )
            .await
            {
                Ok(()) => return true,
                Err(e) => tracing::debug!(error = %e, attempt, "unread notification publish"),
            }
        }
        false
    }

    /// One warning per half minute at most: a missing notification service must not flood
    /// the log.
    fn warn(&mut self, what: &str) {
        let now = Instant::now();
        if self
            .last_warning
            .is_none_or(|t| now.duration_since(t) > Duration::from_secs(30))
        {
            self.last_warning = Some(now);
            tracing::warn!("{what}");
        }
    }
}
