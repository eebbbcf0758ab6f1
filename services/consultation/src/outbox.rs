//! The notification outbox relay: events written in the same transaction as the
//! consultation change are published to `<prefix>.notification.<kind>` afterwards, and
//! deleted once the notification stream confirms it stored them. A crash between commit and publish only delays them; any
//! replica may publish (rows are claimed with `FOR UPDATE SKIP LOCKED`). The notification
//! service drops duplicates by `dedupe_key`, which also goes out as `Nats-Msg-Id` for a
//! JetStream stream's own de-duplication.

use std::sync::Arc;
use std::time::Duration;

use switchboard_common::subjects::Subjects;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::metrics::ConsultationMetrics;
use crate::store::OutboxRow;

/// Rows published per round.
const BATCH: i64 = 100;
/// How long the stream may take to confirm one event.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct Outbox {
    pool: sqlx::PgPool,
    nats: async_nats::Client,
    subjects: Subjects,
    // Wakes the relay right after a commit instead of at the next tick.
    wake: Arc<Notify>,
    metrics: Arc<ConsultationMetrics>,
}

impl Outbox {
    pub fn new(
        pool: sqlx::PgPool,
        nats: async_nats::Client,
        subjects: Subjects,
        metrics: Arc<ConsultationMetrics>,
    ) -> Self {
        Self {
            pool,
            nats,
            subjects,
            wake: Arc::new(Notify::new()),
            metrics,
        }
    }

    /// Something was queued: publish soon.
    pub fn kick(&self) {
        self.wake.notify_one();
    }

    /// Publishes until `shutdown`, then makes one last round.
    pub async fn run(self, interval: Duration, shutdown: CancellationToken) {
        loop {
            if let Err(e) = self.publish_pending().await {
                self.metrics.outbox_errors.inc();
                tracing::warn!(
                    error = format!("{e:#}"),
                    "notification outbox round failed; retrying"
                );
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(interval) => {}
            }
        }
        if let Err(e) = self.publish_pending().await {
            tracing::warn!(
                error = format!("{e:#}"),
                "notifications left in the outbox at shutdown"
            );
        }
    }

    /// One round: claim a batch, publish it, delete what NATS took. Returns how many went out.
    pub async fn publish_pending(&self) -> anyhow::Result<usize> {
        use anyhow::Context as _;
        let mut published = 0;
        loop {
            let mut tx = self.pool.begin().await.context("outbox transaction")?;
            let rows: Vec<OutboxRow> = sqlx::query_as(
                "SELECT id, kind, dedupe_key, payload FROM consultation_outbox
                 ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
            )
            .bind(BATCH)
            .fetch_all(&mut *tx)
            .await
            .context("reading the outbox")?;
            if rows.is_empty() {
                return Ok(published);
            }
            let result = self.publish(&rows).await;
            let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
            match result {
                Ok(()) => {
                    sqlx::query("DELETE FROM consultation_outbox WHERE id = ANY($1)")
                        .bind(&ids)
                        .execute(&mut *tx)
                        .await
                        .context("deleting published notifications")?;
                    tx.commit().await.context("outbox commit")?;
                    published += rows.len();
                    self.metrics.outbox_published.inc_by(rows.len() as u64);
                    if rows.len() < BATCH as usize {
                        return Ok(published);
                    }
                }
                Err(e) => {
                    drop(tx);
                    let _ = sqlx::query(
                        "UPDATE consultation_outbox SET attempts = attempts + 1, last_error = $2
                         WHERE id = ANY($1)",
                    )
                    .bind(&ids)
                    .bind(format!("{e:#}"))
                    .execute(&self.pool)
                    .await;
                    return Err(e);
                }
            }
        }
    }

    async fn publish(&self, rows: &[OutboxRow]) -> anyhow::Result<()> {
        use anyhow::Context as _;
        let jetstream = async_nats::jetstream::new(self.nats.clone());
        let mut confirmations = Vec::with_capacity(rows.len());
        for row in rows {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Nats-Msg-Id", row.dedupe_key.as_str());
            let ack = jetstream
                .publish_with_headers(
                    self.subjects.notification(&row.kind),
                    headers,
                    row.payload.clone().into(),
                )
                .await
                .with_context(|| format!("publishing {}", row.dedupe_key))?;
            confirmations.push((row.dedupe_key.as_str(), ack));
        }
        // Only what the stream has stored counts as published (no stream, e.g. the
        // notification service never ran, is an error and the rows stay).
        for (key, ack) in confirmations {
            tokio::time::timeout(PUBLISH_TIMEOUT, ack)
                .await
                .with_context(|| format!("no confirmation for {key}"))?
                .with_context(|| format!("the stream did not store {key}"))?;
        }
        Ok(())
    }
}
