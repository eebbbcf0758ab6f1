//! The presence service's NATS side: connection events and heartbeats from gateways, the
//! dead-gateway sweep, snapshots, the gateways' queries, and the announcements.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::HeaderMap;
use bytes::Bytes;
use futures_util::StreamExt;
use prost::Message as _;
use switchboard_common::subjects::{PRESENCE_QUEUE_GROUP, Subjects, headers};
use switchboard_common::wire;
use switchboard_proto::presence::v1 as pb;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::metrics::PresenceMetrics;
use crate::store::{ConnectionChange, Store, Transitions};

/// How long a gateway has to answer a snapshot request.
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(5);
/// Consecutive disagreeing heartbeats (at this replica) with the same gateway digest
/// before a snapshot is asked for: while the gateway's connections are still changing, a
/// disagreement may just be events in flight.
const MISMATCHES_BEFORE_SNAPSHOT: u32 = 2;
/// How often the presence tables' planner statistics are refreshed.
const ANALYZE_EVERY: Duration = Duration::from_secs(30);
/// Most users one presence query may name.
pub const MAX_QUERY_USERS: usize = 500;

#[derive(Clone)]
pub struct Presence {
    pub store: Store,
    pub nats: async_nats::Client,
    pub subjects: Subjects,
    pub metrics: Arc<PresenceMetrics>,
    pub hearing: Hearing,
}

/// The last moment this replica may have missed heartbeats: its start, any time its NATS
/// connection was down, any heartbeat it could not record (PostgreSQL down). A gateway's
/// silence proves it dead only when this replica has been listening for the whole
/// dead-gateway timeout since; otherwise a presence restart, or an outage of NATS or
/// PostgreSQL longer than the timeout, would take every user offline at once.
#[derive(Clone)]
pub struct Hearing(Arc<std::sync::Mutex<tokio::time::Instant>>);

impl Hearing {
    /// Nothing heard yet.
    pub fn new() -> Self {
        Self(Arc::new(std::sync::Mutex::new(tokio::time::Instant::now())))
    }

    /// Heartbeats may be going unheard right now.
    pub fn missed(&self) {
        *self.0.lock().expect("hearing lock") = tokio::time::Instant::now();
    }

    /// How long this replica has heard every heartbeat.
    pub fn listening_for(&self) -> Duration {
        self.0.lock().expect("hearing lock").elapsed()
    }
}

impl Default for Hearing {
    fn default() -> Self {
        Self::new()
    }
}

impl Presence {
    /// Tells each online contact about each real transition.
    pub async fn announce(&self, t: Transitions) {
        if t.is_empty() {
            return;
        }
        let at = t.at.map(wire::format_time).unwrap_or_default();
        let online: std::collections::HashSet<Uuid> = t.online.iter().copied().collect();
        self.metrics
            .transitions
            .with_label_values(&["online"])
            .inc_by(t.online.len() as u64);
        self.metrics
            .transitions
            .with_label_values(&["offline"])
            .inc_by(t.offline.len() as u64);
        for (user, contact) in t.notify {
            let (event, data) = if online.contains(&user) {
                (
                    "user_online",
                    serde_json::json!({ "userId": user.to_string() }),
                )
            } else {
                (
                    "user_offline",
                    serde_json::json!({ "userId": user.to_string(), "lastSeenAt": at }),
                )
            };
            let mut h = HeaderMap::new();
            h.insert(headers::EVENT, event);
            let payload = Bytes::from(serde_json::to_vec(&data).expect("serialises"));
            if let Err(e) = self
                .nats
                .publish_with_headers(self.subjects.user_delivery(contact), h, payload)
                .await
            {
                tracing::warn!(error = %e, "presence announcement not published");
            }
        }
    }
}

/// The replicas' queue-group subscriptions, made before the service says it is ready so
/// that no event or query sent right after a start finds nobody listening.
pub struct Subscriptions {
    pub connection_events: async_nats::Subscriber,
    pub heartbeats: async_nats::Subscriber,
    pub queries: async_nats::Subscriber,
    pub contacts: async_nats::Subscriber,
}

impl Subscriptions {
    pub async fn subscribe(
        nats: &async_nats::Client,
        subjects: &Subjects,
    ) -> Result<Self, async_nats::SubscribeError> {
        let group = || PRESENCE_QUEUE_GROUP.to_owned();
        Ok(Self {
            connection_events: nats
                .queue_subscribe(subjects.presence_connection(), group())
                .await?,
            heartbeats: nats
                .queue_subscribe(subjects.presence_heartbeat(), group())
                .await?,
            queries: nats
                .queue_subscribe(subjects.presence_query(), group())
                .await?,
            contacts: nats
                .queue_subscribe(subjects.presence_contacts(), group())
                .await?,
        })
    }
}

/// Connection events → batches → transactions → announcements.
pub async fn consume_connection_events(
    presence: Presence,
    mut sub: async_nats::Subscriber,
    max_batch: usize,
    shutdown: CancellationToken,
) -> Result<(), async_nats::SubscribeError> {
    let (tx, mut rx) = mpsc::channel::<ConnectionChange>(max_batch * 4);
    let applier = {
        let presence = presence.clone();
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(max_batch);
            while rx.recv_many(&mut batch, max_batch).await > 0 {
                // A failed batch is retried: the state is idempotent per connection.
                let mut delay = Duration::from_millis(100);
                loop {
                    match presence.store.apply(&batch).await {
                        Ok(t) => {
                            presence.announce(t).await;
                            break;
                        }
                        Err(e) => {
                            presence.metrics.db_errors.inc();
                            tracing::warn!(error = %e, size = batch.len(), "presence batch failed; retrying");
                            tokio::time::sleep(delay).await;
                            delay = (delay * 2).min(Duration::from_secs(5));
                        }
                    }
                }
                batch.clear();
            }
        })
    };
    loop {
        let msg = tokio::select! {
            _ = shutdown.cancelled() => break,
            m = sub.next() => match m { Some(m) => m, None => break },
        };
        let Ok(event) = pb::ConnectionEvent::decode(msg.payload.as_ref()) else {
            tracing::warn!("undecodable connection event");
            continue;
        };
        let (Ok(connection_id), Ok(user_id)) = (
            Uuid::parse_str(&event.connection_id),
            Uuid::parse_str(&event.user_id),
        ) else {
            continue;
        };
        let opened = match pb::connection_event::Kind::try_from(event.kind) {
            Ok(pb::connection_event::Kind::Opened) => true,
            Ok(pb::connection_event::Kind::Closed) => false,
            _ => continue,
        };
        presence.metrics.connection_events.inc();
        if tx
            .send(ConnectionChange {
                connection_id,
                user_id,
                instance_id: event.instance_id,
                gateway_id: event.gateway_id,
                opened,
            })
            .await
            .is_err()
        {
            break;
        }
    }
    let _ = sub.unsubscribe().await;
    drop(tx);
    let _ = applier.await;
    Ok(())
}

/// Heartbeats: liveness, and a check that the stored state matches the gateway's.
pub async fn consume_heartbeats(
    presence: Presence,
    mut sub: async_nats::Subscriber,
    shutdown: CancellationToken,
) -> Result<(), async_nats::SubscribeError> {
    // instance → (the gateway's digest, heartbeats in a row that disagreed with it)
    let mut mismatches: HashMap<String, (u64, u32)> = HashMap::new();
    loop {
        let msg = tokio::select! {
            _ = shutdown.cancelled() => break,
            m = sub.next() => match m { Some(m) => m, None => break },
        };
        let Ok(beat) = pb::GatewayHeartbeat::decode(msg.payload.as_ref()) else {
            continue;
        };
        let disagrees = match presence
            .store
            .heartbeat(
                &beat.instance_id,
                &beat.gateway_id,
                beat.connection_count,
                beat.connections_digest,
            )
            .await
        {
            Ok(d) => d,
            Err(e) => {
                presence.hearing.missed();
                presence.metrics.db_errors.inc();
                tracing::warn!(error = %e, "heartbeat not recorded");
                continue;
            }
        };
        let (digest, count) = mismatches.entry(beat.instance_id.clone()).or_default();
        *count = match (disagrees, *digest == beat.connections_digest) {
            (false, _) => 0,
            (true, true) => *count + 1,
            (true, false) => 1,
        };
        *digest = beat.connections_digest;
        if *count >= MISMATCHES_BEFORE_SNAPSHOT {
            *count = 0;
            let presence = presence.clone();
            tokio::spawn(
                async move { resync(&presence, &beat.instance_id, &beat.gateway_id).await },
            );
        }
        // Forget instances that stopped beating long ago.
        if mismatches.len() > 10_000 {
            mismatches.retain(|_, (_, c)| *c > 0);
        }
    }
    Ok(())
}

/// Asks a gateway instance for every live connection and makes the state match.
async fn resync(presence: &Presence, instance_id: &str, gateway_id: &str) {
    presence.metrics.snapshots.inc();
    tracing::info!(
        instance_id,
        "presence state disagrees with the gateway; asking for a snapshot"
    );
    let reply = tokio::time::timeout(
        SNAPSHOT_TIMEOUT,
        presence.nats.request(
            presence.subjects.presence_snapshot(instance_id),
            pb::SnapshotRequest {}.encode_to_vec().into(),
        ),
    )
    .await;
    let snapshot = match reply {
        Ok(Ok(msg)) => match pb::GatewaySnapshot::decode(msg.payload.as_ref()) {
            Ok(s) => s,
            Err(_) => return,
        },
        _ => {
            tracing::warn!(instance_id, "gateway did not answer the snapshot request");
            return;
        }
    };
    let live: Vec<(Uuid, Uuid)> = snapshot
        .connections
        .chunks_exact(32)
        .map(|pair| {
            (
                Uuid::from_slice(&pair[..16]).expect("16 bytes"),
                Uuid::from_slice(&pair[16..]).expect("16 bytes"),
            )
        })
        .collect();
    match presence
        .store
        .reconcile(instance_id, gateway_id, &live)
        .await
    {
        Ok(t) => presence.announce(t).await,
        Err(e) => {
            presence.metrics.db_errors.inc();
            tracing::warn!(error = %e, "snapshot not applied");
        }
    }
}

/// Expires the connections of gateways whose heartbeats stopped, once this replica has
/// been listening long enough to know (see [`Hearing`]).
pub async fn sweep_dead_gateways(
    presence: Presence,
    dead_after: Duration,
    every: Duration,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_analyze = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        // The connection table changes faster than autovacuum refreshes its statistics.
        if last_analyze.elapsed() >= ANALYZE_EVERY {
            last_analyze = tokio::time::Instant::now();
            presence.store.refresh_statistics().await;
        }
        if !switchboard_common::nats::is_connected(&presence.nats) {
            presence.hearing.missed();
        }
        if presence.hearing.listening_for() < dead_after {
            continue;
        }
        match presence.store.expire_dead_gateways(dead_after).await {
            Ok(t) => presence.announce(t).await,
            Err(e) => {
                presence.metrics.db_errors.inc();
                tracing::warn!(error = %e, "dead-gateway sweep failed");
            }
        }
    }
}

/// The gateways' questions: presence of contacts, and which users are contacts.
pub async fn answer_queries(
    presence: Presence,
    mut queries: async_nats::Subscriber,
    mut contacts: async_nats::Subscriber,
    shutdown: CancellationToken,
) -> Result<(), async_nats::SubscribeError> {
    loop {
        let (msg, is_query) = tokio::select! {
            _ = shutdown.cancelled() => break,
            m = queries.next() => match m { Some(m) => (m, true), None => break },
            m = contacts.next() => match m { Some(m) => (m, false), None => break },
        };
        let Some(reply_to) = msg.reply.clone() else {
            continue;
        };
        let presence = presence.clone();
        tokio::spawn(async move {
            let answer = if is_query {
                get_presence(&presence, &msg.payload)
                    .await
                    .map(|r| r.encode_to_vec())
            } else {
                check_contacts(&presence, &msg.payload)
                    .await
                    .map(|r| r.encode_to_vec())
            };
            match answer {
                Ok(bytes) => {
                    let _ = presence.nats.publish(reply_to, bytes.into()).await;
                }
                // No reply: the gateway's deadline turns it into `unavailable`.
                Err(e) => tracing::warn!(error = %e, "presence query failed"),
            }
        });
    }
    Ok(())
}

pub fn parse_ids(raw: &[String]) -> Result<Vec<Uuid>, String> {
    if raw.len() > MAX_QUERY_USERS {
        return Err(format!("at most {MAX_QUERY_USERS} users per query"));
    }
    raw.iter()
        .map(|s| Uuid::parse_str(s).map_err(|_| format!("{s:?} is not a user id")))
        .collect()
}

pub async fn get_presence(
    presence: &Presence,
    payload: &[u8],
) -> Result<pb::GetPresenceResponse, String> {
    let req = pb::GetPresenceRequest::decode(payload).map_err(|e| e.to_string())?;
    let viewer = req
        .viewer_id
        .as_deref()
        .map(Uuid::parse_str)
        .transpose()
        .map_err(|_| "viewer is not a user id".to_owned())?;
    let ids = parse_ids(&req.user_ids)?;
    let rows = presence
        .store
        .presence(viewer, &ids)
        .await
        .map_err(|e| e.to_string())?;
    Ok(pb::GetPresenceResponse {
        presence: rows
            .into_iter()
            .map(|r| pb::Presence {
                user_id: r.user_id.to_string(),
                online: r.online,
                last_seen_at: r.last_seen_at.map(|t| prost_types::Timestamp {
                    seconds: t.timestamp(),
                    nanos: t.timestamp_subsec_nanos() as i32,
                }),
            })
            .collect(),
    })
}

async fn check_contacts(
    presence: &Presence,
    payload: &[u8],
) -> Result<pb::CheckContactsResponse, String> {
    let req = pb::CheckContactsRequest::decode(payload).map_err(|e| e.to_string())?;
    let user = Uuid::parse_str(&req.user_id).map_err(|e| e.to_string())?;
    let candidates = parse_ids(&req.candidate_ids)?;
    let found = presence
        .store
        .contacts_among(user, &candidates)
        .await
        .map_err(|e| e.to_string())?;
    Ok(pb::CheckContactsResponse {
        contact_ids: found.into_iter().map(|u| u.to_string()).collect(),
    })
}
