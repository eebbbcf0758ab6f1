//! SQL of the notification service. One `notifications` row per e-mail, keyed by its
//! dedupe key: a row marked `sent` is never sent again, and a short lease keeps two
//! replicas (or two copies of one event) from sending the same mail at the same time.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Row as _};
use uuid::Uuid;

/// What a claim found.
pub enum Claim {
    /// This worker may send it; `attempts` failed before.
    Acquired { id: Uuid, attempts: i32 },
    /// Sent or dead-lettered already: nothing to do.
    Done,
    /// Another worker holds the lease right now.
    Busy,
}

/// One e-mail to claim.
pub struct NewNotification<'a> {
    pub dedupe_key: &'a str,
    pub event_key: &'a str,
    pub kind: &'a str,
    pub recipient_id: Option<Uuid>,
    pub recipient_email: &'a str,
    pub payload: &'a [u8],
}

pub struct FailureOutcome {
    pub attempts: i32,
    pub dead: bool,
}

pub struct DeadLetterRow {
    pub id: Uuid,
    pub kind: String,
    pub payload: Vec<u8>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub dead_at: Option<DateTime<Utc>>,
}

/// A digest due now, locked by the transaction that claimed it.
pub struct DueDigest {
    pub recipient_id: Uuid,
    pub cursor_message_id: Option<Uuid>,
    pub attempts: i32,
    pub last_event: Option<Vec<u8>>,
}

pub struct UnreadMessage {
    pub id: Uuid,
    pub sender_id: Uuid,
    pub sender_name: String,
    pub content: String,
    pub created_at: DateTime<Utc>,
}

pub struct Recipient {
    pub email: Option<String>,
    pub display_name: Option<String>,
}

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Creates the row on first sight; takes a lease of `lease` on a pending row.
    pub async fn claim(
        &self,
        n: &NewNotification<'_>,
        lease: Duration,
    ) -> Result<Claim, sqlx::Error> {
        let lease_ms = lease.as_millis() as i64;
        let acquired = sqlx::query(
            "INSERT INTO notifications
                 (id, dedupe_key, event_key, kind, recipient_id, recipient_email, payload,
                  status, lease_until)
             VALUES ($1, $2, $3, $4, (SELECT id FROM users WHERE id = $5), $6, $7, 'pending',
                     now() + make_interval(secs => $8::double precision / 1000))
             ON CONFLICT (dedupe_key) DO UPDATE
                 SET lease_until = now() + make_interval(secs => $8::double precision / 1000),
                     updated_at = now()
                 WHERE notifications.status = 'pending'
                   AND (notifications.lease_until IS NULL OR notifications.lease_until < now())
             RETURNING id, attempts",
        )
        .bind(Uuid::now_v7())
        .bind(n.dedupe_key)
        .bind(n.event_key)
        .bind(n.kind)
        .bind(n.recipient_id)
        .bind(n.recipient_email)
        .bind(n.payload)
        .bind(lease_ms)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = acquired {
            return Ok(Claim::Acquired {
                id: row.get("id"),
                attempts: row.get("attempts"),
            });
        }
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM notifications WHERE dedupe_key = $1")
                .bind(n.dedupe_key)
                .fetch_optional(&self.pool)
                .await?;
        Ok(match status.as_deref() {
            Some("pending") => Claim::Busy,
            _ => Claim::Done,
        })
    }

    pub async fn mark_sent(&self, id: Uuid) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE notifications
             SET status = 'sent', sent_at = now(), attempts = attempts + 1, lease_until = NULL,
                 last_error = NULL, updated_at = now()
             WHERE id = $1",
        )
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Counts a failed try; dead-letters the row when `permanent` or out of attempts.
    pub async fn record_failure(
        &self,
        id: Uuid,
        error: &str,
        permanent: bool,
        max_attempts: u32,
    ) -> Result<FailureOutcome, sqlx::Error> {
        let row = sqlx::query(
            "UPDATE notifications
             SET attempts = attempts + 1,
                 last_error = $2,
                 lease_until = NULL,
                 status = CASE WHEN $3 OR attempts + 1 >= $4 THEN 'dead' ELSE status END,
                 dead_at = CASE WHEN $3 OR attempts + 1 >= $4 THEN now() ELSE dead_at END,
                 updated_at = now()
             WHERE id = $1
             RETURNING attempts, status",
        )
        .bind(id)
        .bind(truncate(error, 2000))
        .bind(permanent)
        .bind(max_attempts as i32)
        .fetch_one(&self.pool)
        .await?;
        Ok(FailureOutcome {
            attempts: row.get("attempts"),
            dead: row.get::<String, _>("status") == "dead",
        })
    }

    /// Gives up a leased row at once (e.g. the recipient has no address).
    pub async fn mark_dead(&self, id: Uuid, error: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE notifications
             SET status = 'dead', dead_at = now(), last_error = $2, lease_until = NULL,
                 updated_at = now()
             WHERE id = $1",
        )
        .bind(id)
        .bind(truncate(error, 2000))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn dead_letters(&self, limit: i64) -> Result<Vec<DeadLetterRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, kind, payload, attempts, last_error, dead_at
             FROM notifications WHERE status = 'dead'
             ORDER BY dead_at DESC, id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| DeadLetterRow {
                id: r.get("id"),
                kind: r.get("kind"),
                payload: r.get("payload"),
                attempts: r.get("attempts"),
                last_error: r.get("last_error"),
                dead_at: r.get("dead_at"),
            })
            .collect())
    }

    /// Puts a dead row back to pending with a clean count; returns its stored event, or
    /// `None` when there is no such dead row.
    pub async fn revive(&self, id: Uuid) -> Result<Option<(String, Vec<u8>)>, sqlx::Error> {
        let row = sqlx::query(
            "UPDATE notifications
             SET status = 'pending', attempts = 0, dead_at = NULL, lease_until = NULL,
                 updated_at = now()
             WHERE id = $1 AND status = 'dead'
             RETURNING kind, payload",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| (r.get("kind"), r.get("payload"))))
    }

    // Digests.

    /// Notes that `recipient` got a message while offline: opens a pending digest due at
    /// `due_at` (kept if one is pending already, so a steady stream still gets its mail),
    /// and never sooner than `quiet` after the previous digest. A message that an earlier
    /// digest covered already changes nothing.
    pub async fn note_unread(
        &self,
        recipient: Uuid,
        message_id: Uuid,
        due_at: DateTime<Utc>,
        quiet: Duration,
        event: &[u8],
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO notification_digests AS d (recipient_id, due_at, last_event)
             SELECT $1, $3, $5 WHERE EXISTS (SELECT 1 FROM users WHERE id = $1)
             ON CONFLICT (recipient_id) DO UPDATE SET
                 due_at = CASE WHEN d.pending THEN d.due_at
                          ELSE greatest(excluded.due_at,
                                        d.last_sent_at + make_interval(secs => $4)) END,
                 pending = true,
                 attempts = CASE WHEN d.pending THEN d.attempts ELSE 0 END,
                 last_event = excluded.last_event,
                 updated_at = now()
             WHERE d.cursor_message_id IS NULL OR d.cursor_message_id < $2",
        )
        .bind(recipient)
        .bind(message_id)
        .bind(due_at)
        .bind(quiet.as_secs_f64())
        .bind(event)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn pending_digests(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT count(*) FROM notification_digests WHERE pending")
            .fetch_one(&self.pool)
            .await
    }
}

/// Digest queries run inside the transaction that holds the digest's row lock.
pub mod digest {
    use super::*;

    /// Locks one due digest that no other replica holds.
    pub async fn claim_due(conn: &mut PgConnection) -> Result<Option<DueDigest>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT recipient_id, cursor_message_id, attempts, last_event
             FROM notification_digests
             WHERE pending AND due_at <= now()
             ORDER BY due_at
             LIMIT 1
             FOR UPDATE SKIP LOCKED",
        )
        .fetch_optional(&mut *conn)
        .await?;
        Ok(row.map(|r| DueDigest {
            recipient_id: r.get("recipient_id"),
            cursor_message_id: r.get("cursor_message_id"),
            attempts: r.get("attempts"),
            last_event: r.get("last_event"),
        }))
    }

    pub async fn recipient(
        conn: &mut PgConnection,
        id: Uuid,
    ) -> Result<Option<Recipient>, sqlx::Error> {
        let row = sqlx::query("SELECT email, display_name FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
        Ok(row.map(|r| Recipient {
            email: r.get("email"),
            display_name: r.get("display_name"),
        }))
    }

    /// Whether any live gateway holds a connection of `user`.
    pub async fn is_online(conn: &mut PgConnection, user: Uuid) -> Result<bool, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT EXISTS (
                 SELECT 1 FROM presence_connections c
                 JOIN presence_gateways g ON g.instance_id = c.instance_id
                 WHERE c.user_id = $1 AND c.closed_at IS NULL AND g.dead_at IS NULL)",
        )
        .bind(user)
        .fetch_one(&mut *conn)
        .await
    }

    /// Unread messages newer than `after`, oldest first, at most `limit`, and how many there
    /// are in all.
    pub async fn unread(
        conn: &mut PgConnection,
        recipient: Uuid,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<(Vec<UnreadMessage>, i64), sqlx::Error> {
        let total: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM messages
             WHERE recipient_id = $1 AND read_at IS NULL AND ($2::uuid IS NULL OR id > $2)",
        )
        .bind(recipient)
        .bind(after)
        .fetch_one(&mut *conn)
        .await?;
        if total == 0 {
            return Ok((Vec::new(), 0));
        }
        let rows = sqlx::query(
            "SELECT m.id, m.sender_id, m.content, m.created_at,
                    COALESCE(u.display_name, u.email, 'Someone') AS sender_name
             FROM messages m JOIN users u ON u.id = m.sender_id
             WHERE m.recipient_id = $1 AND m.read_at IS NULL AND ($2::uuid IS NULL OR m.id > $2)
             ORDER BY m.id
             LIMIT $3",
        )
        .bind(recipient)
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
        let messages = rows
            .into_iter()
            .map(|r| UnreadMessage {
                id: r.get("id"),
                sender_id: r.get("sender_id"),
                sender_name: r.get("sender_name"),
                content: r.get("content"),
                created_at: r.get("created_at"),
            })
            .collect();
        Ok((messages, total))
    }

    /// The newest unread message after `after` (the digest's new cursor covers all of them,
    /// also those beyond the listed ones).
    pub async fn last_unread_id(
        conn: &mut PgConnection,
        recipient: Uuid,
        after: Option<Uuid>,
    ) -> Result<Option<Uuid>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT id FROM messages
             WHERE recipient_id = $1 AND read_at IS NULL AND ($2::uuid IS NULL OR id > $2)
             ORDER BY id DESC LIMIT 1",
        )
        .bind(recipient)
        .bind(after)
        .fetch_optional(&mut *conn)
        .await
    }

    /// Closes the digest with nothing sent (all read, or the recipient is online).
    pub async fn close_without_mail(
        conn: &mut PgConnection,
        recipient: Uuid,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE notification_digests
             SET pending = false, attempts = 0, last_error = NULL, updated_at = now()
             WHERE recipient_id = $1",
        )
        .bind(recipient)
        .execute(&mut *conn)
        .await?;
        // A replayed digest whose messages were read meanwhile has nothing left to send.
        sqlx::query(
            "DELETE FROM notifications
             WHERE kind = 'message_digest' AND recipient_id = $1 AND status = 'pending'",
        )
        .bind(recipient)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Records the sent digest: the cursor moves past every message it covered.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_sent(
        conn: &mut PgConnection,
        recipient: Uuid,
        email: &str,
        cursor: Uuid,
        dedupe_key: &str,
        payload: &[u8],
        attempts: i32,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE notification_digests
             SET pending = false, cursor_message_id = $2, last_sent_at = now(), attempts = 0,
                 last_error = NULL, updated_at = now()
             WHERE recipient_id = $1",
        )
        .bind(recipient)
        .bind(cursor)
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "DELETE FROM notifications
             WHERE kind = 'message_digest' AND recipient_id = $1 AND status = 'pending'
               AND dedupe_key <> $2",
        )
        .bind(recipient)
        .bind(dedupe_key)
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "INSERT INTO notifications
                 (id, dedupe_key, event_key, kind, recipient_id, recipient_email, payload,
                  status, attempts, sent_at)
             VALUES ($1, $2, $2, 'message_digest', $3, $4, $5, 'sent', $6, now())
             ON CONFLICT (dedupe_key) DO UPDATE
                 SET status = 'sent', sent_at = now(), attempts = excluded.attempts,
                     dead_at = NULL, last_error = NULL, updated_at = now()",
        )
        .bind(Uuid::now_v7())
        .bind(dedupe_key)
        .bind(recipient)
        .bind(email)
        .bind(payload)
        .bind(attempts)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Counts a failed try and moves the digest's due time to the next try.
    pub async fn record_failure(
        conn: &mut PgConnection,
        recipient: Uuid,
        error: &str,
        retry_in: Duration,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE notification_digests
             SET attempts = attempts + 1, last_error = $2,
                 due_at = now() + make_interval(secs => $3), updated_at = now()
             WHERE recipient_id = $1",
        )
        .bind(recipient)
        .bind(truncate(error, 2000))
        .bind(retry_in.as_secs_f64())
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Gives the digest up: it becomes a dead letter that replays as its latest trigger.
    pub async fn record_dead(
        conn: &mut PgConnection,
        recipient: Uuid,
        email: Option<&str>,
        dedupe_key: &str,
        payload: &[u8],
        attempts: i32,
        error: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE notification_digests
             SET pending = false, attempts = 0, last_error = $2, updated_at = now()
             WHERE recipient_id = $1",
        )
        .bind(recipient)
        .bind(truncate(error, 2000))
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "INSERT INTO notifications
                 (id, dedupe_key, event_key, kind, recipient_id, recipient_email, payload,
                  status, attempts, last_error, dead_at)
             VALUES ($1, $2, $2, 'message_digest', $3, $4, $5, 'dead', $6, $7, now())
             ON CONFLICT (dedupe_key) DO UPDATE
                 SET status = 'dead', attempts = excluded.attempts, payload = excluded.payload,
                     last_error = excluded.last_error, dead_at = now(), updated_at = now()",
        )
        .bind(Uuid::now_v7())
        .bind(dedupe_key)
        .bind(recipient)
        .bind(email)
        .bind(payload)
        .bind(attempts)
        .bind(truncate(error, 2000))
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

fn truncate(s: &str, max_chars: usize) -> &str {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
