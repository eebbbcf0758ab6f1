//! Offline digests: when a recipient's quiet period is over, one e-mail lists the messages
//! still unread that no earlier digest mentioned, grouped by sender. Nothing is sent when
//! they were all read meanwhile or when the recipient is online again (the app shows them).
//! Each digest is worked on inside the transaction that locks its row, so replicas never
//! send the same digest twice, and a crash rolls it back to be tried again.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::deliver::Deliverer;
use crate::mail::{Outgoing, SendError};
use crate::store::{UnreadMessage, digest};

/// Messages listed in one e-mail (the rest are counted).
const LISTED: i64 = 20;
/// Messages listed per sender.
const LISTED_PER_SENDER: usize = 5;
/// Longest preview of one message, in characters.
const PREVIEW_CHARS: usize = 200;
/// Digests one replica works through before sleeping again.
const PER_ROUND: usize = 32;

/// Checks for due digests every `tick` until `shutdown`.
pub async fn run(deliverer: Arc<Deliverer>, tick: Duration, shutdown: CancellationToken) {
    let mut gauge_refresh = tokio::time::interval(Duration::from_secs(10));
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = gauge_refresh.tick() => {
                if let Ok(n) = deliverer.store.pending_digests().await {
                    deliverer.metrics.digests_pending.set(n);
                }
                continue;
            }
            () = tokio::time::sleep(tick) => {}
        }
        for _ in 0..PER_ROUND {
            if shutdown.is_cancelled() {
                return;
            }
            match one(&deliverer).await {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "digest round failed");
                    break;
                }
            }
        }
    }
}

/// Works on one due digest; `false` when none is due.
async fn one(d: &Deliverer) -> Result<bool, sqlx::Error> {
    let mut tx = d.store.pool().begin().await?;
    let Some(due) = digest::claim_due(&mut tx).await? else {
        tx.commit().await?;
        return Ok(false);
    };
    let r = due.recipient_id;
    if digest::is_online(&mut tx, r).await? {
        d.metrics.digests_skipped.inc();
        digest::close_without_mail(&mut tx, r).await?;
        tx.commit().await?;
        return Ok(true);
    }
    let (messages, total) = digest::unread(&mut tx, r, due.cursor_message_id, LISTED).await?;
    let Some(cursor) = digest::last_unread_id(&mut tx, r, due.cursor_message_id).await? else {
        d.metrics.digests_skipped.inc();
        digest::close_without_mail(&mut tx, r).await?;
        tx.commit().await?;
        return Ok(true);
    };
    let recipient = digest::recipient(&mut tx, r).await?;
    let key = format!("digest:{r}:{cursor}");
    let payload = due.last_event.clone().unwrap_or_default();
    let attempts = due.attempts + 1;
    let email = recipient.as_ref().and_then(|u| u.email.clone());
    let result = match &email {
        None => Err(SendError::Permanent(
            "the recipient has no e-mail address".to_owned(),
        )),
        Some(email) => {
            let name = recipient
                .as_ref()
                .and_then(|u| u.display_name.clone())
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| email.clone());
            match render(d, &name, email, &messages, total, &key) {
                Ok(mail) => send(d, mail).await,
                Err(e) => Err(SendError::Permanent(format!("{e:#}"))),
            }
        }
    };
    match result {
        Ok(()) => {
            d.metrics.sent.with_label_values(&["message_digest"]).inc();
            let email = email.as_deref().unwrap_or_default();
            digest::record_sent(&mut tx, r, email, cursor, &key, &payload, attempts).await?;
        }
        Err(e) => {
            d.metrics
                .failed
                .with_label_values(&["message_digest"])
                .inc();
            let permanent = matches!(e, SendError::Permanent(_));
            if permanent || attempts as u32 >= d.retry.max_attempts {
                d.metrics
                    .dead_lettered
                    .with_label_values(&["message_digest"])
                    .inc();
                tracing::warn!(recipient = %r, attempts, error = %e, "digest dead-lettered");
                digest::record_dead(
                    &mut tx,
                    r,
                    email.as_deref(),
                    &key,
                    &payload,
                    attempts,
                    &e.to_string(),
                )
                .await?;
            } else {
                tracing::info!(recipient = %r, attempts, error = %e, "digest failed; will retry");
                digest::record_failure(&mut tx, r, &e.to_string(), d.retry.delay(attempts as u32))
                    .await?;
            }
        }
    }
    tx.commit().await?;
    Ok(true)
}

async fn send(d: &Deliverer, mail: Outgoing) -> Result<(), SendError> {
    let message = d
        .mailer
        .build(mail)
        .map_err(|e| SendError::Permanent(format!("cannot build the digest: {e}")))?;
    let started = std::time::Instant::now();
    let result = d.mailer.send(message).await;
    d.metrics
        .smtp_seconds
        .observe(started.elapsed().as_secs_f64());
    result
}

#[derive(Serialize)]
struct DigestValues {
    recipient_name: String,
    total: i64,
    senders: Vec<SenderValues>,
    app_url: String,
}

#[derive(Serialize)]
struct SenderValues {
    name: String,
    count: usize,
    more: usize,
    link: String,
    messages: Vec<MessageValues>,
}

#[derive(Serialize)]
struct MessageValues {
    at: String,
    preview: String,
}

fn render(
    d: &Deliverer,
    name: &str,
    email: &str,
    messages: &[UnreadMessage],
    total: i64,
    key: &str,
) -> anyhow::Result<Outgoing> {
    let address: lettre::Address = email
        .parse()
        .map_err(|e| anyhow::anyhow!("recipient address {email:?}: {e}"))?;
    // Senders in the order their first unread message arrived.
    let mut order: Vec<Uuid> = Vec::new();
    let mut by_sender: BTreeMap<Uuid, Vec<&UnreadMessage>> = BTreeMap::new();
    for m in messages {
        if !by_sender.contains_key(&m.sender_id) {
            order.push(m.sender_id);
        }
        by_sender.entry(m.sender_id).or_default().push(m);
    }
    let senders: Vec<SenderValues> = order
        .iter()
        .map(|id| {
            let list = &by_sender[id];
            SenderValues {
                name: list[0].sender_name.clone(),
                count: list.len(),
                more: list.len().saturating_sub(LISTED_PER_SENDER),
                link: format!("{}/?with={id}", d.app_url),
                messages: list
                    .iter()
                    .take(LISTED_PER_SENDER)
                    .map(|m| MessageValues {
                        at: m.created_at.format("%-d %b %H:%M UTC").to_string(),
                        preview: preview(&m.content),
                    })
                    .collect(),
            }
        })
        .collect();
    let names: Vec<&str> = senders.iter().map(|s| s.name.as_str()).collect();
    let subject = match (total, names.as_slice()) {
        (1, [one]) => format!("New message from {one}"),
        (n, [one]) => format!("{n} new messages from {one}"),
        (n, [a, b]) => format!("{n} new messages from {a} and {b}"),
        (n, [a, rest @ ..]) => format!("{n} new messages from {a} and {} others", rest.len()),
        (n, []) => format!("{n} new messages"),
    };
    let bodies = d.templates.render(
        "digest",
        DigestValues {
            recipient_name: name.to_owned(),
            total,
            senders,
            app_url: d.app_url.clone(),
        },
    )?;
    Ok(Outgoing {
        to: lettre::message::Mailbox::new(Some(name.to_owned()), address),
        subject,
        bodies,
        invitation: None,
        key: key.to_owned(),
    })
}

/// The first line-ish of a message, cut at a character boundary.
fn preview(content: &str) -> String {
    let mut out: String = content.chars().take(PREVIEW_CHARS).collect();
    if content.chars().count() > PREVIEW_CHARS {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_cut_at_characters() {
        let long = "é".repeat(300);
        let p = preview(&long);
        assert_eq!(p.chars().count(), PREVIEW_CHARS + 1);
        assert!(p.ends_with('…'));
        assert_eq!(preview("short"), "short");
    }
}
