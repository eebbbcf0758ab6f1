//! The gateway's side of presence: it reports each connection's open and close, beats so
//! that its death is noticed, answers snapshot requests, and asks the presence service
//! for contacts' presence and for contact checks before relaying typing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use prost::Message as _;
use switchboard_common::subjects::Subjects;
use switchboard_common::wire::{self, ErrorCode, WireError};
use switchboard_proto::presence::v1 as pb;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::metrics::GatewayMetrics;
use crate::state::GatewayState;

/// How long a contact check is believed.
const CONTACT_TTL: Duration = Duration::from_secs(60);
/// How long a "not a contact" answer is believed (a first message makes them contacts).
const NOT_CONTACT_TTL: Duration = Duration::from_secs(2);
const CONTACT_CACHE_CAP: usize = 100_000;
/// Most users one `get_presence` may name.
pub const MAX_PRESENCE_USERS: usize = 200;

pub struct PresenceClient {
    nats: async_nats::Client,
    subjects: Subjects,
    pub gateway_id: String,
    /// New for every process start, so a restarted gateway never revives old connections.
    pub instance_id: String,
    timeout: Duration,
    metrics: Arc<GatewayMetrics>,
    contacts: Mutex<HashMap<(Uuid, Uuid), (bool, Instant)>>,
}

impl PresenceClient {
    pub fn new(
        nats: async_nats::Client,
        subjects: Subjects,
        gateway_id: String,
        timeout: Duration,
        metrics: Arc<GatewayMetrics>,
    ) -> Self {
        Self {
            nats,
            subjects,
            gateway_id,
            instance_id: Uuid::new_v4().simple().to_string(),
            timeout,
            metrics,
            contacts: Mutex::new(HashMap::new()),
        }
    }

    pub async fn connection_opened(&self, user: Uuid, connection: Uuid) {
        self.connection_event(pb::connection_event::Kind::Opened, user, connection)
            .await;
    }

    pub async fn connection_closed(&self, user: Uuid, connection: Uuid) {
        self.connection_event(pb::connection_event::Kind::Closed, user, connection)
            .await;
    }

    async fn connection_event(
        &self,
        kind: pb::connection_event::Kind,
        user: Uuid,
        connection: Uuid,
    ) {
        let now = chrono::Utc::now();
        let event = pb::ConnectionEvent {
            kind: kind as i32,
            gateway_id: self.gateway_id.clone(),
            instance_id: self.instance_id.clone(),
            connection_id: connection.to_string(),
            user_id: user.to_string(),
            at: Some(prost_types::Timestamp {
                seconds: now.timestamp(),
                nanos: now.timestamp_subsec_nanos() as i32,
            }),
        };
        // Lost events are repaired: heartbeats carry a digest, and a disagreement makes
        // the presence service ask for a snapshot.
        if let Err(e) = self
            .nats
            .publish(
                self.subjects.presence_connection(),
                event.encode_to_vec().into(),
            )
            .await
        {
            self.metrics.nats_errors.inc();
            tracing::debug!(error = %e, "connection event not published");
        }
    }

    /// `{"presence":[{userId, online, lastSeenAt}]}` for the viewer's contacts among `ids`.
    pub async fn get_presence(&self, viewer: Uuid, ids: Vec<String>) -> Result<Bytes, WireError> {
        if ids.len() > MAX_PRESENCE_USERS {
            return Err(WireError::new(
                ErrorCode::InvalidRequest,
                format!("at most {MAX_PRESENCE_USERS} userIds per request"),
            ));
        }
        if let Some(bad) = ids.iter().find(|id| Uuid::parse_str(id).is_err()) {
            return Err(WireError::new(
                ErrorCode::InvalidRequest,
                format!("userIds must be UUIDs ({bad:?} is not)"),
            ));
        }
        let request = pb::GetPresenceRequest {
            viewer_id: Some(viewer.to_string()),
            user_ids: ids,
        };
        let reply = crate::bus::request(
            &self.nats,
            self.subjects.presence_query(),
            request.encode_to_vec().into(),
            self.timeout,
            "presence service",
            &self.metrics,
        )
        .await?;
        let response = pb::GetPresenceResponse::decode(reply.as_ref())
            .map_err(|_| WireError::new(ErrorCode::Internal, "undecodable presence reply"))?;
        let presence: Vec<serde_json::Value> = response
            .presence
            .into_iter()
            .map(|p| {
                let last_seen = p
                    .last_seen_at
                    .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos as u32))
                    .map(wire::format_time);
                serde_json::json!({ "userId": p.user_id, "online": p.online, "lastSeenAt": last_seen })
            })
            .collect();
        Ok(
            serde_json::to_vec(&serde_json::json!({ "presence": presence }))
                .expect("serialises")
                .into(),
        )
    }

    /// Whether `other` is a contact of `user`, from the cache when it is fresh.
    pub async fn is_contact(&self, user: Uuid, other: Uuid) -> Result<bool, WireError> {
        if let Some(known) = self.cached_contact(user, other) {
            return Ok(known);
        }
        let request = pb::CheckContactsRequest {
            user_id: user.to_string(),
            candidate_ids: vec![other.to_string()],
        };
        let reply = crate::bus::request(
            &self.nats,
            self.subjects.presence_contacts(),
            request.encode_to_vec().into(),
            self.timeout,
            "presence service",
            &self.metrics,
        )
        .await?;
        let response = pb::CheckContactsResponse::decode(reply.as_ref())
            .map_err(|_| WireError::new(ErrorCode::Internal, "undecodable presence reply"))?;
        let is_contact = response.contact_ids.iter().any(|c| *c == other.to_string());
        let mut cache = self.contacts.lock().expect("contact cache lock");
        if cache.len() >= CONTACT_CACHE_CAP {
            cache.clear();
        }
        let ttl = if is_contact {
            CONTACT_TTL
        } else {
            NOT_CONTACT_TTL
        };
        cache.insert((user, other), (is_contact, Instant::now() + ttl));
        Ok(is_contact)
    }

    /// The cached answer, if still fresh.
    pub fn cached_contact(&self, user: Uuid, other: Uuid) -> Option<bool> {
        let cache = self.contacts.lock().expect("contact cache lock");
        cache
            .get(&(user, other))
            .filter(|(_, until)| *until > Instant::now())
            .map(|(known, _)| *known)
    }

    /// Publishes `event` (`user_typing`, `user_stop_typing`) from `from` to `to`'s connections.
    pub async fn relay(&self, event: &'static str, from: Uuid, to: Uuid) {
        let mut h = async_nats::HeaderMap::new();
        h.insert(switchboard_common::subjects::headers::EVENT, event);
        let data = serde_json::to_vec(&serde_json::json!({ "userId": from.to_string() }))
            .expect("serialises");
        if let Err(e) = self
            .nats
            .publish_with_headers(self.subjects.user_delivery(to), h, data.into())
            .await
        {
            self.metrics.nats_errors.inc();
            tracing::debug!(error = %e, "typing relay not published");
        }
    }
}

/// Beats every `interval` with the count and digest of this replica's connections.
pub async fn heartbeat(state: Arc<GatewayState>, interval: Duration, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let (count, digest) = state.hub.digest();
        let now = chrono::Utc::now();
        let beat = pb::GatewayHeartbeat {
            gateway_id: state.presence.gateway_id.clone(),
            instance_id: state.presence.instance_id.clone(),
            connection_count: count,
            at: Some(prost_types::Timestamp {
                seconds: now.timestamp(),
                nanos: now.timestamp_subsec_nanos() as i32,
            }),
            connections_digest: digest,
        };
        if let Err(e) = state
            .nats
            .publish(
                state.subjects.presence_heartbeat(),
                beat.encode_to_vec().into(),
            )
            .await
        {
            state.metrics.nats_errors.inc();
            tracing::debug!(error = %e, "heartbeat not published");
        }
    }
}

/// Answers the presence service's snapshot requests for this instance.
pub async fn answer_snapshots(state: Arc<GatewayState>, shutdown: CancellationToken) {
    let subject = state
        .subjects
        .presence_snapshot(&state.presence.instance_id);
    let mut requests = match state.nats.subscribe(subject).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot answer presence snapshots");
            return;
        }
    };
    loop {
        let msg = tokio::select! {
            _ = shutdown.cancelled() => return,
            m = requests.next() => match m { Some(m) => m, None => return },
        };
        let Some(reply_to) = msg.reply else { continue };
        let mut connections = Vec::new();
        for (conn, user) in state.hub.snapshot() {
            connections.extend_from_slice(conn.as_bytes());
            connections.extend_from_slice(user.as_bytes());
        }
        let snapshot = pb::GatewaySnapshot {
            gateway_id: state.presence.gateway_id.clone(),
            instance_id: state.presence.instance_id.clone(),
            connections,
        };
        let _ = state
            .nats
            .publish(reply_to, snapshot.encode_to_vec().into())
            .await;
    }
}
