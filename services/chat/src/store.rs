//! Every SQL statement of the chat service, with bound parameters only.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{Connection as _, PgPool};
use switchboard_common::domain::{ClientMsgId, MessageContent};
use uuid::Uuid;

use crate::error::ChatError;
use crate::ids;
use crate::message::StoredMessage;

const MESSAGE_COLUMNS: &str =
    "id, sender_id, recipient_id, content, client_msg_id, created_at, read_at";

/// A validated message waiting to be stored.
#[derive(Clone, Debug)]
pub struct NewMessage {
    pub sender_id: Uuid,
    pub recipient_id: Uuid,
    pub content: MessageContent,
    pub client_msg_id: Option<ClientMsgId>,
}

/// What storing one message came to.
#[derive(Clone, Debug)]
pub enum SendOutcome {
    Stored(StoredMessage),
    /// A retry: the original, stored earlier.
    Duplicate(StoredMessage),
}

impl SendOutcome {
    pub fn message(&self) -> &StoredMessage {
        match self {
            Self::Stored(m) | Self::Duplicate(m) => m,
        }
    }
}

#[derive(Clone, Debug)]
pub enum ReadOutcome {
    Marked {
        sender_id: Uuid,
        read_at: DateTime<Utc>,
    },
    AlreadyRead {
        read_at: DateTime<Utc>,
    },
}

#[derive(Clone, Debug)]
pub struct UserUpsert {
    pub id: Uuid,
    pub email: Option<String>,
    pub display_name: Option<String>,
    /// `None` keeps the stored role.
    pub role: Option<String>,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub role: String,
    pub last_seen_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug)]
pub struct ConversationRow {
    pub peer_id: Uuid,
    pub last_message: StoredMessage,
    pub unread_count: u32,
}

#[derive(Clone, Debug)]
pub struct Store {
    pool: PgPool,
    /// (sender, recipient) pairs this process stored a message of (bounded): their contact
    /// rows exist, and so do both users (users are never deleted), so the hot path neither
    /// records the pair again nor looks the two users up.
    known_contacts: std::sync::Arc<std::sync::Mutex<HashSet<(Uuid, Uuid)>>>,
    /// The highest id this process committed: where the next batch's ids start.
    last_id: std::sync::Arc<std::sync::Mutex<Option<Uuid>>>,
}

/// The group commit's own connection, outside any pool: a pool pings a connection before
/// every acquire and again on every release, which tripled the writer's round trips to
/// PostgreSQL per batch (and its wake-ups). Its session uses generic plans: PostgreSQL
/// otherwise planned the group-commit statement afresh on every execution — its planning
/// took longer than running it (355 vs 223 µs a batch at 500 msg/s, `pg_stat_statements`).
pub struct WriterConnection {
    options: PgConnectOptions,
    conn: Option<PgConnection>,
}

/// The longest a connection attempt of the writer may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest one batch may take, connecting included.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

impl WriterConnection {
    /// Connects lazily, on the first batch.
    pub fn new(url: &str) -> Result<Self, sqlx::Error> {
        Ok(Self {
            options: switchboard_common::db::connect_options(
                url,
                &[("plan_cache_mode", "force_generic_plan")],
            )?,
            conn: None,
        })
    }

    async fn connection(&mut self) -> Result<&mut PgConnection, ChatError> {
        if self.conn.is_none() {
            let unavailable =
                || ChatError::Unavailable("the database is unavailable; retry".into());
            let conn =
                tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&self.options))
                    .await
                    .map_err(|_| unavailable())?
                    .map_err(|e| {
                        tracing::warn!(error = %e, "the message writer cannot connect");
                        unavailable()
                    })?;
            self.conn = Some(conn);
        }
        Ok(self.conn.as_mut().expect("connected above"))
    }
}

/// Contact pairs remembered before the cache starts over.
const KNOWN_CONTACTS_CAP: usize = 200_000;

/// The group commit's statement, in two forms: with and without recording new contact
/// pairs. Nearly every batch has none (the pairs are remembered), and the form without them
/// spares PostgreSQL setting up a second insert, a join and a sort on every execution.
/// It moves the id floor (`$7`, `$8`: the batch's lowest and highest id), inserts the rows
/// (`$1`–`$6`; `$9`: both users known to exist, else they are looked up) and answers whether
/// the floor moved and which ids were inserted.
macro_rules! group_commit_statement {
    ($new_contacts:literal) => {
        concat!(
            "WITH floor AS (
                 UPDATE message_id_floor SET last_id = $8
                 WHERE singleton AND last_id < $7
                 RETURNING last_id
             ), ins AS (
                 INSERT INTO messages (id, sender_id, recipient_id, content, client_msg_id, created_at)
                 SELECT m.id, m.sender_id, m.recipient_id, m.content, m.client_msg_id, m.created_at
                 FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::timestamptz[], $9::bool[])
                      AS m(id, sender_id, recipient_id, content, client_msg_id, created_at, users_known)
                 WHERE EXISTS (SELECT 1 FROM floor)
                   AND (m.users_known
                        OR (EXISTS (SELECT 1 FROM users u WHERE u.id = m.recipient_id)
                            AND EXISTS (SELECT 1 FROM users u WHERE u.id = m.sender_id)))
                 ORDER BY m.id
                 ON CONFLICT (sender_id, client_msg_id) DO NOTHING
                 RETURNING id, sender_id, recipient_id
             )",
            $new_contacts,
            "
             SELECT EXISTS (SELECT 1 FROM floor), COALESCE((SELECT array_agg(id) FROM ins), '{}')"
        )
    };
}

const GROUP_COMMIT: &str = group_commit_statement!("");

/// `$10`, `$11`: the (sender, recipient) pairs to record as contacts (both directions) if
/// their row was inserted.
const GROUP_COMMIT_WITH_CONTACTS: &str = group_commit_statement!(
    ", new_contacts AS (
         INSERT INTO contacts (user_id, contact_id)
         SELECT DISTINCT c.user_id, c.contact_id
         FROM ins, UNNEST($10::uuid[], $11::uuid[]) AS p(sender_id, recipient_id),
              LATERAL (VALUES (p.sender_id, p.recipient_id), (p.recipient_id, p.sender_id))
                  AS c(user_id, contact_id)
         WHERE ins.sender_id = p.sender_id AND ins.recipient_id = p.recipient_id
         ON CONFLICT DO NOTHING
     )"
);

impl Store {
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            known_contacts: Default::default(),
            last_id: Default::default(),
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Stores a batch in one statement (one round trip, one commit): it moves the id floor
    /// forward, inserts the messages and records new contacts. The result has one entry
    /// per input, in order.
    ///
    /// The writer's connection is dropped after any failure (a new one is made for the next
    /// batch), and a batch that takes longer than [`WRITE_TIMEOUT`] fails as unavailable.
    pub async fn insert_batch(
        &self,
        writer: &mut WriterConnection,
        batch: &[NewMessage],
    ) -> Result<Vec<Result<SendOutcome, ChatError>>, ChatError> {
        let written = tokio::time::timeout(WRITE_TIMEOUT, async {
            let conn = writer.connection().await?;
            self.write_batch(conn, batch).await
        })
        .await;
        match written {
            Ok(Ok(outcomes)) => Ok(outcomes),
            Ok(Err(e)) => {
                writer.conn = None;
                Err(e)
            }
            Err(_) => {
                writer.conn = None;
                Err(ChatError::Unavailable(
                    "the database did not answer in time; retry".into(),
                ))
            }
        }
    }

    async fn write_batch(
        &self,
        conn: &mut PgConnection,
        batch: &[NewMessage],
    ) -> Result<Vec<Result<SendOutcome, ChatError>>, ChatError> {
        // Retries inside one batch share the first one's row.
        let mut first_of_key: HashMap<(Uuid, &str), usize> = HashMap::new();
        let mut same_as: Vec<Option<usize>> = vec![None; batch.len()];
        let mut rows: Vec<usize> = Vec::with_capacity(batch.len());
        for (i, m) in batch.iter().enumerate() {
            if let Some(key) = m.client_msg_id.as_ref().map(|c| (m.sender_id, c.as_str())) {
                if let Some(&first) = first_of_key.get(&key) {
                    same_as[i] = Some(first);
                    continue;
                }
                first_of_key.insert(key, i);
            }
            rows.push(i);
        }
        // Whoever exchanges a message becomes a contact; pairs known to be stored are skipped.
        let (pairs_known, new_pairs): (Vec<bool>, Vec<(Uuid, Uuid)>) = {
            let known = self.known_contacts.lock().expect("contacts cache lock");
            let pairs_known: Vec<bool> = rows
                .iter()
                .map(|&i| known.contains(&(batch[i].sender_id, batch[i].recipient_id)))
                .collect();
            let mut pairs: Vec<(Uuid, Uuid)> = rows
                .iter()
                .zip(&pairs_known)
                .filter(|&(_, &known)| !known)
                .map(|(&i, _)| (batch[i].sender_id, batch[i].recipient_id))
                .collect();
            pairs.sort_unstable();
            pairs.dedup();
            (pairs_known, pairs)
        };
        let (pair_senders, pair_recipients): (Vec<Uuid>, Vec<Uuid>) =
            new_pairs.iter().copied().unzip();
        let senders: Vec<Uuid> = rows.iter().map(|&i| batch[i].sender_id).collect();
        let recipients: Vec<Uuid> = rows.iter().map(|&i| batch[i].recipient_id).collect();
        let contents: Vec<&str> = rows.iter().map(|&i| batch[i].content.as_str()).collect();
        let cmids: Vec<Option<&str>> = rows
            .iter()
            .map(|&i| batch[i].client_msg_id.as_ref().map(ClientMsgId::as_str))
            .collect();

        let mut floor = *self.last_id.lock().expect("id floor lock");
        let (assigned, inserted) = loop {
            let mut ids = Vec::with_capacity(rows.len());
            let mut created = Vec::with_capacity(rows.len());
            let mut prev = floor;
            for _ in &rows {
                let id = ids::next_after(prev);
                prev = Some(id);
                ids.push(id);
                created.push(
                    DateTime::from_timestamp_millis(ids::timestamp_millis(id))
                        .unwrap_or_else(Utc::now),
                );
            }
            let (Some(&lowest), Some(&highest)) = (ids.first(), ids.last()) else {
                break ((Vec::new(), Vec::new()), HashSet::new());
            };
            // The floor row's lock makes concurrent batches take turns; a batch whose ids
            // are not above the committed floor (another replica was ahead) changes
            // nothing and tries again above it.
            let statement = if new_pairs.is_empty() {
                GROUP_COMMIT
            } else {
                GROUP_COMMIT_WITH_CONTACTS
            };
            let mut query = sqlx::query_as::<_, (bool, Vec<Uuid>)>(statement)
                .bind(&ids)
                .bind(&senders)
                .bind(&recipients)
                .bind(&contents)
                .bind(&cmids)
                .bind(&created)
                .bind(lowest)
                .bind(highest)
                .bind(&pairs_known);
            if !new_pairs.is_empty() {
                query = query.bind(&pair_senders).bind(&pair_recipients);
            }
            let (moved, inserted) = query.fetch_one(&mut *conn).await?;
            if moved {
                *self.last_id.lock().expect("id floor lock") = Some(highest);
                break (
                    (ids, created),
                    inserted.into_iter().collect::<HashSet<Uuid>>(),
                );
            }
            floor = sqlx::query_scalar("SELECT last_id FROM message_id_floor")
                .fetch_optional(&mut *conn)
                .await?;
        };
        let (ids, created) = assigned;

        // Only pairs of inserted rows: a row refused for an unknown user recorded nothing,
        // and that user may exist by the next send.
        let stored_pairs: Vec<(Uuid, Uuid)> = rows
            .iter()
            .zip(&ids)
            .filter(|&(_, id)| inserted.contains(id))
            .map(|(&i, _)| (batch[i].sender_id, batch[i].recipient_id))
            .filter(|pair| new_pairs.binary_search(pair).is_ok())
            .collect();
        if !stored_pairs.is_empty() {
            let mut known = self.known_contacts.lock().expect("contacts cache lock");
            if known.len() + stored_pairs.len() > KNOWN_CONTACTS_CAP {
                known.clear();
            }
            known.extend(stored_pairs);
        }

        let mut stored: Vec<Option<StoredMessage>> = vec![None; batch.len()];
        for (k, &i) in rows.iter().enumerate() {
            if inserted.contains(&ids[k]) {
                let m = &batch[i];
                stored[i] = Some(StoredMessage {
                    id: ids[k],
                    sender_id: m.sender_id,
                    recipient_id: m.recipient_id,
                    content: m.content.as_str().to_owned(),
                    client_msg_id: m.client_msg_id.as_ref().map(|c| c.as_str().to_owned()),
                    created_at: created[k],
                    read_at: None,
                });
            }
        }
        // Rows not inserted are retries of stored messages, or name an unknown user.
        let missing: Vec<usize> = rows
            .iter()
            .copied()
            .filter(|&i| stored[i].is_none())
            .collect();
        let originals = if missing.iter().any(|&i| batch[i].client_msg_id.is_some()) {
            self.load_originals(batch, &missing).await?
        } else {
            HashMap::new()
        };
        let unknown_users: HashSet<Uuid> = if missing.is_empty() {
            HashSet::new()
        } else {
            let wanted: Vec<Uuid> = missing
                .iter()
                .flat_map(|&i| [batch[i].sender_id, batch[i].recipient_id])
                .collect();
            let known: HashSet<Uuid> =
                sqlx::query_scalar::<_, Uuid>("SELECT id FROM users WHERE id = ANY($1)")
                    .bind(&wanted)
                    .fetch_all(&mut *conn)
                    .await?
                    .into_iter()
                    .collect();
            wanted
                .into_iter()
                .filter(|id| !known.contains(id))
                .collect()
        };

        let mut out: Vec<Result<SendOutcome, ChatError>> = Vec::with_capacity(batch.len());
        for (i, m) in batch.iter().enumerate() {
            let root = same_as[i].unwrap_or(i);
            let outcome = match stored[root].clone() {
                Some(msg) if same_as[i].is_none() => Ok(SendOutcome::Stored(msg)),
                Some(msg) => Ok(SendOutcome::Duplicate(msg)),
                None => match m
                    .client_msg_id
                    .as_ref()
                    .and_then(|c| originals.get(&(m.sender_id, c.as_str().to_owned())))
                {
                    Some(original) => Ok(SendOutcome::Duplicate(original.clone())),
                    None if unknown_users.contains(&m.recipient_id) => {
                        Err(ChatError::NotFound("recipient not found".into()))
                    }
                    None if unknown_users.contains(&m.sender_id) => {
                        Err(ChatError::NotFound("sender not found".into()))
                    }
                    None => Err(ChatError::Unexpected(anyhow::anyhow!(
                        "message neither inserted nor found as a duplicate"
                    ))),
                },
            };
            out.push(outcome);
        }
        Ok(out)
    }

    /// The stored messages that retries in `missing` refer to, by (sender, clientMsgId).
    async fn load_originals(
        &self,
        batch: &[NewMessage],
        missing: &[usize],
    ) -> Result<HashMap<(Uuid, String), StoredMessage>, ChatError> {
        let (senders, cmids): (Vec<Uuid>, Vec<String>) = missing
            .iter()
            .filter_map(|&i| {
                batch[i]
                    .client_msg_id
                    .as_ref()
                    .map(|c| (batch[i].sender_id, c.as_str().to_owned()))
            })
            .unzip();
        let rows: Vec<StoredMessage> = sqlx::query_as(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages
             WHERE (sender_id, client_msg_id) IN (SELECT * FROM UNNEST($1::uuid[], $2::text[]))"
        ))
        .bind(&senders)
        .bind(&cmids)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|m| m.client_msg_id.clone().map(|c| ((m.sender_id, c), m)))
            .collect())
    }

    /// One conversation, newest first, before an optional cursor; one extra row tells
    /// whether more exist.
    pub async fn history(
        &self,
        user: Uuid,
        peer: Uuid,
        before: Option<Uuid>,
        limit: u32,
    ) -> Result<(Vec<StoredMessage>, bool), ChatError> {
        let (lo, hi) = if user < peer {
            (user, peer)
        } else {
            (peer, user)
        };
        let mut rows: Vec<StoredMessage> = sqlx::query_as(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages
             WHERE user_lo = $1 AND user_hi = $2 AND id < $3
             ORDER BY id DESC LIMIT $4"
        ))
        .bind(lo)
        .bind(hi)
        .bind(before.unwrap_or(Uuid::max()))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        let has_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        Ok((rows, has_more))
    }

    /// Everything to or from `user` after a cursor, oldest first.
    pub async fn sync(
        &self,
        user: Uuid,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<(Vec<StoredMessage>, bool), ChatError> {
        let mut rows: Vec<StoredMessage> = sqlx::query_as(&format!(
            "(SELECT {MESSAGE_COLUMNS} FROM messages WHERE sender_id = $1 AND id > $2
              ORDER BY id LIMIT $3)
             UNION ALL
             (SELECT {MESSAGE_COLUMNS} FROM messages WHERE recipient_id = $1 AND id > $2
              ORDER BY id LIMIT $3)
             ORDER BY id LIMIT $3"
        ))
        .bind(user)
        .bind(after.unwrap_or(Uuid::nil()))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        let has_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        Ok((rows, has_more))
    }

    /// Marks one message read by its recipient.
    pub async fn mark_read(
        &self,
        reader: Uuid,
        message_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<ReadOutcome, ChatError> {
        let updated: Option<(Uuid,)> = sqlx::query_as(
            "UPDATE messages SET read_at = $3
             WHERE id = $1 AND recipient_id = $2 AND read_at IS NULL
             RETURNING sender_id",
        )
        .bind(message_id)
        .bind(reader)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        if let Some((sender_id,)) = updated {
            return Ok(ReadOutcome::Marked {
                sender_id,
                read_at: now,
            });
        }
        let existing: Option<(Uuid, Uuid, Option<DateTime<Utc>>)> =
            sqlx::query_as("SELECT sender_id, recipient_id, read_at FROM messages WHERE id = $1")
                .bind(message_id)
                .fetch_optional(&self.pool)
                .await?;
        match existing {
            Some((_, recipient, Some(read_at))) if recipient == reader => {
                Ok(ReadOutcome::AlreadyRead { read_at })
            }
            Some((sender, _, _)) if sender == reader => Err(ChatError::Forbidden(
                "only the recipient may mark a message read".into(),
            )),
            // Another pair's message is reported exactly like a missing one.
            _ => Err(ChatError::NotFound("message not found".into())),
        }
    }

    /// Marks every unread message from `peer` to `reader` up to and including `up_to`;
    /// returns the ids marked.
    pub async fn mark_conversation_read(
        &self,
        reader: Uuid,
        peer: Uuid,
        up_to: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Vec<Uuid>, ChatError> {
        let (lo, hi) = if reader < peer {
            (reader, peer)
        } else {
            (peer, reader)
        };
        let ids = sqlx::query_scalar(
            "UPDATE messages SET read_at = $5
             WHERE user_lo = $1 AND user_hi = $2 AND recipient_id = $3 AND id <= $4
               AND read_at IS NULL
             RETURNING id",
        )
        .bind(lo)
        .bind(hi)
        .bind(reader)
        .bind(up_to)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        Ok(ids)
    }

    /// Inserts or updates users; absent fields keep their stored values, and rows whose
    /// values are unchanged are not rewritten.
    pub async fn upsert_users(&self, users: &[UserUpsert]) -> Result<u64, ChatError> {
        if users.is_empty() {
            return Ok(0);
        }
        // A bulk import may name one user twice; the last entry wins.
        let mut latest: HashMap<Uuid, &UserUpsert> = HashMap::new();
        for u in users {
            latest.insert(u.id, u);
        }
        let ids: Vec<Uuid> = latest.keys().copied().collect();
        let emails: Vec<Option<String>> = ids.iter().map(|id| latest[id].email.clone()).collect();
        let names: Vec<Option<String>> = ids
            .iter()
            .map(|id| latest[id].display_name.clone())
            .collect();
        let roles: Vec<Option<String>> = ids.iter().map(|id| latest[id].role.clone()).collect();
        let result = sqlx::query(
            "WITH input AS (
                 SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[])
                          AS u(id, email, display_name, role)
             )
             INSERT INTO users (id, email, display_name, role)
             SELECT id, email, display_name, COALESCE(role, 'applicant') FROM input
             ON CONFLICT (id) DO UPDATE SET
                 email = COALESCE(EXCLUDED.email, users.email),
                 display_name = COALESCE(EXCLUDED.display_name, users.display_name),
                 role = COALESCE((SELECT i.role FROM input i WHERE i.id = EXCLUDED.id), users.role),
                 updated_at = now()
             WHERE (users.email, users.display_name, users.role) IS DISTINCT FROM (
                 COALESCE(EXCLUDED.email, users.email),
                 COALESCE(EXCLUDED.display_name, users.display_name),
                 COALESCE((SELECT i.role FROM input i WHERE i.id = EXCLUDED.id), users.role)
             )",
        )
        .bind(&ids)
        .bind(&emails)
        .bind(&names)
        .bind(&roles)
        .execute(&self.pool)
        .await;
        match result {
            Ok(r) => Ok(r.rows_affected()),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => Err(ChatError::Invalid(
                "a user with that e-mail address already exists".into(),
            )),
            Err(sqlx::Error::Database(db)) if db.is_check_violation() => Err(ChatError::Invalid(
                "role must be applicant, lawyer or admin".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get_user(&self, id: Uuid) -> Result<Option<UserRow>, ChatError> {
        Ok(sqlx::query_as(
            "SELECT id, email, display_name, role, last_seen_at FROM users WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The user's conversations, most recent first, with unread counts.
    pub async fn list_conversations(
        &self,
        user: Uuid,
        limit: u32,
    ) -> Result<Vec<ConversationRow>, ChatError> {
        let last: Vec<StoredMessage> = sqlx::query_as(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM (
                 SELECT DISTINCT ON (user_lo, user_hi) {MESSAGE_COLUMNS}
                 FROM messages WHERE sender_id = $1 OR recipient_id = $1
                 ORDER BY user_lo, user_hi, id DESC
             ) last ORDER BY id DESC LIMIT $2"
        ))
        .bind(user)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let unread: HashMap<Uuid, i64> = sqlx::query_as::<_, (Uuid, i64)>(
            "SELECT sender_id, count(*) FROM messages
             WHERE recipient_id = $1 AND read_at IS NULL GROUP BY sender_id",
        )
        .bind(user)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .collect();
        Ok(last
            .into_iter()
            .map(|m| {
                let peer_id = if m.sender_id == user {
                    m.recipient_id
                } else {
                    m.sender_id
                };
                ConversationRow {
                    peer_id,
                    unread_count: unread.get(&peer_id).copied().unwrap_or(0) as u32,
                    last_message: m,
                }
            })
            .collect())
    }
}
