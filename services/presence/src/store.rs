//! The presence state in PostgreSQL, shared by every presence replica.
//!
//! A user is online while any of their connections is live (`closed_at IS NULL`). Every
//! change — connection events, a dead gateway's expiry, a gateway snapshot — runs in one
//! transaction under one advisory lock, reads who was online before and after, and
//! returns the real transitions: a second tab opening or one of two closing changes
//! nothing and announces nothing.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

/// Serialises presence changes across replicas.
const PRESENCE_LOCK: i64 = 0x5357_4244_5052_4531; // "SWBDPRE1"

/// Closed connections kept as tombstones this long.
const TOMBSTONE_TTL_SECS: i64 = 600;

#[derive(Clone, Debug)]
pub struct ConnectionChange {
    pub connection_id: Uuid,
    pub user_id: Uuid,
    pub instance_id: String,
    pub gateway_id: String,
    pub opened: bool,
}

/// Users who came online or went offline, and which online contacts to tell.
#[derive(Debug, Default)]
pub struct Transitions {
    pub online: Vec<Uuid>,
    pub offline: Vec<Uuid>,
    pub at: Option<DateTime<Utc>>,
    /// (user who changed, online contact to tell)
    pub notify: Vec<(Uuid, Uuid)>,
}

impl Transitions {
    pub fn is_empty(&self) -> bool {
        self.online.is_empty() && self.offline.is_empty()
    }
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PresenceRow {
    pub user_id: Uuid,
    pub online: bool,
    pub last_seen_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug)]
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

    /// Applies connection events. Order between them does not matter: a close leaves a
    /// tombstone that a late open of the same connection cannot undo.
    pub async fn apply(&self, changes: &[ConnectionChange]) -> Result<Transitions, sqlx::Error> {
        let mut tx = self.begin_locked().await?;
        let affected: Vec<Uuid> = unique(changes.iter().map(|c| c.user_id));
        let before = online_among(&mut tx, &affected).await?;

        let mut instances: HashMap<&str, &str> = HashMap::new();
        for c in changes {
            instances.insert(&c.instance_id, &c.gateway_id);
        }
        let (inst, gw): (Vec<String>, Vec<String>) = instances
            .iter()
            .map(|(i, g)| ((*i).to_owned(), (*g).to_owned()))
            .unzip();
        // A gateway is known from its first event, before its first heartbeat.
        sqlx::query(
            "INSERT INTO presence_gateways (instance_id, gateway_id)
             SELECT * FROM UNNEST($1::text[], $2::text[])
             ON CONFLICT (instance_id) DO NOTHING",
        )
        .bind(&inst)
        .bind(&gw)
        .execute(&mut *tx)
        .await?;

        let (opened, closed): (Vec<&ConnectionChange>, Vec<&ConnectionChange>) =
            changes.iter().partition(|c| c.opened);
        if !opened.is_empty() {
            sqlx::query(
                "INSERT INTO presence_connections (connection_id, user_id, instance_id)
                 SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[])
                 ON CONFLICT (connection_id) DO NOTHING",
            )
            .bind(opened.iter().map(|c| c.connection_id).collect::<Vec<_>>())
            .bind(opened.iter().map(|c| c.user_id).collect::<Vec<_>>())
            .bind(
                opened
                    .iter()
                    .map(|c| c.instance_id.clone())
                    .collect::<Vec<_>>(),
            )
            .execute(&mut *tx)
            .await?;
        }
        if !closed.is_empty() {
            sqlx::query(
                "INSERT INTO presence_connections (connection_id, user_id, instance_id, closed_at)
                 SELECT c.id, c.user_id, c.instance_id, now()
                 FROM UNNEST($1::uuid[], $2::uuid[], $3::text[]) AS c(id, user_id, instance_id)
                 ON CONFLICT (connection_id) DO UPDATE
                 SET closed_at = COALESCE(presence_connections.closed_at, EXCLUDED.closed_at)",
            )
            .bind(closed.iter().map(|c| c.connection_id).collect::<Vec<_>>())
            .bind(closed.iter().map(|c| c.user_id).collect::<Vec<_>>())
            .bind(
                closed
                    .iter()
                    .map(|c| c.instance_id.clone())
                    .collect::<Vec<_>>(),
            )
            .execute(&mut *tx)
            .await?;
        }
        let closing: Vec<Uuid> = unique(closed.iter().map(|c| c.user_id));
        finish(tx, &affected, before, &closing).await
    }

    /// Closes every connection of gateway instances silent for `dead_after`.
    pub async fn expire_dead_gateways(
        &self,
        dead_after: Duration,
    ) -> Result<Transitions, sqlx::Error> {
        let mut tx = self.begin_locked().await?;
        let dead: Vec<String> = sqlx::query_scalar(
            "UPDATE presence_gateways SET dead_at = now()
             WHERE dead_at IS NULL AND last_heartbeat < now() - make_interval(secs => $1)
             RETURNING instance_id",
        )
        .bind(dead_after.as_secs_f64())
        .fetch_all(&mut *tx)
        .await?;
        // Old tombstones and long-dead gateways are only history now.
        sqlx::query(
            "DELETE FROM presence_connections
             WHERE closed_at < now() - make_interval(secs => $1)",
        )
        .bind(TOMBSTONE_TTL_SECS as f64)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM presence_gateways WHERE dead_at < now() - interval '1 day'")
            .execute(&mut *tx)
            .await?;
        if dead.is_empty() {
            tx.commit().await?;
            return Ok(Transitions::default());
        }
        tracing::warn!(instances = ?dead, "gateway heartbeats stopped; expiring their connections");
        let affected: Vec<Uuid> = sqlx::query_scalar(
            "SELECT DISTINCT user_id FROM presence_connections
             WHERE instance_id = ANY($1) AND closed_at IS NULL",
        )
        .bind(&dead)
        .fetch_all(&mut *tx)
        .await?;
        let before = online_among(&mut tx, &affected).await?;
        sqlx::query(
            "UPDATE presence_connections SET closed_at = now()
             WHERE instance_id = ANY($1) AND closed_at IS NULL",
        )
        .bind(&dead)
        .execute(&mut *tx)
        .await?;
        finish(tx, &affected, before, &affected).await
    }

    /// Records a heartbeat; `true` when the stored state of that instance disagrees with
    /// the gateway's (or the instance was unknown or given up for dead).
    pub async fn heartbeat(
        &self,
        instance_id: &str,
        gateway_id: &str,
        count: u32,
        digest: u64,
    ) -> Result<bool, sqlx::Error> {
        let previous: Option<Option<DateTime<Utc>>> = sqlx::query_scalar(
            "WITH old AS (SELECT dead_at FROM presence_gateways WHERE instance_id = $1)
             INSERT INTO presence_gateways (instance_id, gateway_id, last_heartbeat, dead_at)
             VALUES ($1, $2, now(), NULL)
             ON CONFLICT (instance_id) DO UPDATE SET last_heartbeat = now(), dead_at = NULL
             RETURNING (SELECT dead_at FROM old)",
        )
        .bind(instance_id)
        .bind(gateway_id)
        .fetch_optional(&self.pool)
        .await?;
        let was_dead = matches!(previous, Some(Some(_)));
        let (stored_count, stored_digest): (i64, i64) = sqlx::query_as(
            "SELECT count(*), COALESCE(bit_xor(
                 ('x' || right(replace(connection_id::text, '-', ''), 16))::bit(64)::bigint), 0)
             FROM presence_connections WHERE instance_id = $1 AND closed_at IS NULL",
        )
        .bind(instance_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(was_dead || stored_count != i64::from(count) || stored_digest as u64 != digest)
    }

    /// Makes the stored state of one gateway instance equal to its snapshot.
    pub async fn reconcile(
        &self,
        instance_id: &str,
        gateway_id: &str,
        live: &[(Uuid, Uuid)],
    ) -> Result<Transitions, sqlx::Error> {
        let mut tx = self.begin_locked().await?;
        let stored_users: Vec<Uuid> = sqlx::query_scalar(
            "SELECT DISTINCT user_id FROM presence_connections
             WHERE instance_id = $1 AND closed_at IS NULL",
        )
        .bind(instance_id)
        .fetch_all(&mut *tx)
        .await?;
        let affected = unique(stored_users.into_iter().chain(live.iter().map(|(_, u)| *u)));
        let before = online_among(&mut tx, &affected).await?;
        let (conns, users): (Vec<Uuid>, Vec<Uuid>) = live.iter().copied().unzip();
        sqlx::query(
            // NOT IN over a subquery is hashed; `<> ALL(array)` would compare every live
            // row with every element.
            "UPDATE presence_connections SET closed_at = now()
             WHERE instance_id = $1 AND closed_at IS NULL
               AND connection_id NOT IN (SELECT * FROM UNNEST($2::uuid[]))",
        )
        .bind(instance_id)
        .bind(&conns)
        .execute(&mut *tx)
        .await?;
        // The snapshot is the gateway's own word: what it holds is live.
        sqlx::query(
            "INSERT INTO presence_connections (connection_id, user_id, instance_id)
             SELECT c.id, c.user_id, $3 FROM UNNEST($1::uuid[], $2::uuid[]) AS c(id, user_id)
             ON CONFLICT (connection_id) DO UPDATE SET closed_at = NULL",
        )
        .bind(&conns)
        .bind(&users)
        .bind(instance_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO presence_gateways (instance_id, gateway_id) VALUES ($1, $2)
             ON CONFLICT (instance_id) DO UPDATE SET dead_at = NULL, last_heartbeat = now()",
        )
        .bind(instance_id)
        .bind(gateway_id)
        .execute(&mut *tx)
        .await?;
        finish(tx, &affected, before, &affected).await
    }

    /// Presence of `users`; with a viewer, only the viewer's contacts are returned.
    pub async fn presence(
        &self,
        viewer: Option<Uuid>,
        users: &[Uuid],
    ) -> Result<Vec<PresenceRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT u.id AS user_id,
                    EXISTS (SELECT 1 FROM presence_connections p
                            WHERE p.user_id = u.id AND p.closed_at IS NULL) AS online,
                    u.last_seen_at
             FROM users u
             WHERE u.id = ANY($1)
               AND ($2::uuid IS NULL OR EXISTS (
                   SELECT 1 FROM contacts c WHERE c.user_id = $2 AND c.contact_id = u.id))
             ORDER BY u.id",
        )
        .bind(users)
        .bind(viewer)
        .fetch_all(&self.pool)
        .await
    }

    /// Which of `candidates` are contacts of `user`.
    pub async fn contacts_among(
        &self,
        user: Uuid,
        candidates: &[Uuid],
    ) -> Result<Vec<Uuid>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT contact_id FROM contacts WHERE user_id = $1 AND contact_id = ANY($2)",
        )
        .bind(user)
        .bind(candidates)
        .fetch_all(&self.pool)
        .await
    }

    /// Online users in id order, after a cursor.
    pub async fn list_online(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Uuid>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT DISTINCT user_id FROM presence_connections
             WHERE closed_at IS NULL AND user_id > $1 ORDER BY user_id LIMIT $2",
        )
        .bind(after.unwrap_or(Uuid::nil()))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
    }

    /// `ANALYZE` of the connection table; a role that may not is simply left to autovacuum.
    pub async fn refresh_statistics(&self) {
        if let Err(e) = sqlx::query("ANALYZE presence_connections")
            .execute(&self.pool)
            .await
        {
            tracing::debug!(error = %e, "cannot ANALYZE presence_connections");
        }
    }

    async fn begin_locked(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(PRESENCE_LOCK)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }
}

fn unique(ids: impl Iterator<Item = Uuid>) -> Vec<Uuid> {
    let mut v: Vec<Uuid> = ids.collect();
    v.sort_unstable();
    v.dedup();
    v
}

async fn online_among(
    tx: &mut Transaction<'static, Postgres>,
    users: &[Uuid],
) -> Result<HashSet<Uuid>, sqlx::Error> {
    if users.is_empty() {
        return Ok(HashSet::new());
    }
    Ok(sqlx::query_scalar::<_, Uuid>(
        "SELECT DISTINCT user_id FROM presence_connections
         WHERE user_id = ANY($1) AND closed_at IS NULL",
    )
    .bind(users)
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .collect())
}

/// Compares before and after, records last-seen times, finds whom to tell, commits.
/// `closing` are users a connection of whom closed here: those now offline were last seen
/// now, even when they connected and left within one batch and nobody is told.
async fn finish(
    mut tx: Transaction<'static, Postgres>,
    affected: &[Uuid],
    before: HashSet<Uuid>,
    closing: &[Uuid],
) -> Result<Transitions, sqlx::Error> {
    let after = online_among(&mut tx, affected).await?;
    let online: Vec<Uuid> = after.difference(&before).copied().collect();
    let offline: Vec<Uuid> = before.difference(&after).copied().collect();
    let now = now_millis();
    let last_seen: Vec<Uuid> = closing
        .iter()
        .filter(|u| !after.contains(u))
        .copied()
        .collect();
    if !last_seen.is_empty() {
        sqlx::query("UPDATE users SET last_seen_at = $2 WHERE id = ANY($1)")
            .bind(&last_seen)
            .bind(now)
            .execute(&mut *tx)
            .await?;
    }
    if online.is_empty() && offline.is_empty() {
        tx.commit().await?;
        return Ok(Transitions::default());
    }
    let changed: Vec<Uuid> = online.iter().chain(&offline).copied().collect();
    // A correlated scalar subquery: one probe of the live-connection index per contact,
    // whatever the planner believes about the table's size.
    let notify: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT c.user_id, c.contact_id FROM contacts c
         WHERE c.user_id = ANY($1)
           AND (SELECT true FROM presence_connections p
                WHERE p.user_id = c.contact_id AND p.closed_at IS NULL
                LIMIT 1)",
    )
    .bind(&changed)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Transitions {
        online,
        offline,
        at: Some(now),
        notify,
    })
}

/// Now, at the millisecond the wire shows.
pub fn now_millis() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}
