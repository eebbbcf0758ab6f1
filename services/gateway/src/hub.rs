//! This replica's users and their connections.
//!
//! While a user has at least one connection here, the replica holds exactly one NATS
//! subscription on that user's delivery subject ([`crate::deliveries`]), which hands each
//! delivery to the user's connections here. Each event is encoded once per replica and the bytes are
//! shared by every connection. A connection whose queue is full is closed as a slow
//! consumer rather than buffered without bound.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use switchboard_common::subjects::Subjects;
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Utf8Bytes;
use uuid::Uuid;

use crate::deliveries::{Delivery, DeliveryBus};
use crate::metrics::GatewayMetrics;

/// A server → client event, encoded lazily once per framing and shared.
pub struct EncodedEvent {
    pub event: String,
    /// The event's `data` as JSON.
    pub data: Bytes,
    native: OnceLock<Utf8Bytes>,
    socketio: OnceLock<Utf8Bytes>,
}

impl EncodedEvent {
    pub fn new(event: impl Into<String>, data: Bytes) -> Self {
        Self {
            event: event.into(),
            data,
            native: OnceLock::new(),
            socketio: OnceLock::new(),
        }
    }

    /// `{"event":NAME,"data":DATA}`.
    pub fn native(&self) -> Utf8Bytes {
        self.native
            .get_or_init(|| crate::ws::native::encode_event(&self.event, &self.data))
            .clone()
    }

    /// `42["NAME",DATA]`.
    pub fn socketio(&self) -> Utf8Bytes {
        self.socketio
            .get_or_init(|| crate::ws::socketio::encode_event(&self.event, &self.data))
            .clone()
    }
}

/// Why the hub asks a connection to close.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseRequest {
    SlowConsumer,
}

/// The hub's side of one connection: its bounded queue of outbound events and the hub's
/// close requests. The queue allocates only while events wait, so an idle connection
/// holds a few words here rather than a channel's preallocated block.
pub struct Outbox {
    queue: Mutex<Queue>,
    capacity: usize,
    /// Signalled when the queue goes from empty to non-empty.
    queued: Notify,
    close: Notify,
    reason: OnceLock<CloseRequest>,
}

struct Queue {
    events: VecDeque<Arc<EncodedEvent>>,
    open: bool,
}

/// Why an event was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum Rejected {
    /// The connection is not keeping up: `capacity` events wait already.
    Full,
    /// The connection has ended.
    Closed,
}

/// A queue that grew past this many slots is given back once it drains.
const KEPT_QUEUE_SLOTS: usize = 8;

impl Outbox {
    pub fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Self {
            queue: Mutex::new(Queue {
                events: VecDeque::new(),
                open: true,
            }),
            capacity: capacity.max(1),
            queued: Notify::new(),
            close: Notify::new(),
            reason: OnceLock::new(),
        })
    }

    /// Queues an event; `Ok` carries how many were waiting before it.
    pub fn push(&self, event: Arc<EncodedEvent>) -> Result<usize, Rejected> {
        let waiting = {
            let mut queue = self.queue.lock().expect("outbox lock");
            if !queue.open {
                return Err(Rejected::Closed);
            }
            let waiting = queue.events.len();
            if waiting >= self.capacity {
                return Err(Rejected::Full);
            }
            queue.events.push_back(event);
            waiting
        };
        // `notify_one` stores a permit when nobody waits, so a push between the
        // connection's last look and its wait is not lost.
        if waiting == 0 {
            self.queued.notify_one();
        }
        Ok(waiting)
    }

    /// Waits for queued events and takes up to `max` of them, oldest first.
    pub async fn next_batch(&self, max: usize) -> Vec<Arc<EncodedEvent>> {
        loop {
            {
                let mut queue = self.queue.lock().expect("outbox lock");
                if !queue.events.is_empty() {
                    let n = queue.events.len().min(max);
                    let batch: Vec<_> = queue.events.drain(..n).collect();
                    if queue.events.is_empty() && queue.events.capacity() > KEPT_QUEUE_SLOTS {
                        queue.events = VecDeque::new();
                    }
                    return batch;
                }
            }
            // Taken only after a look at an empty queue, so every wait is for a new push.
            self.queued.notified().await;
        }
    }

    /// The connection has ended: later pushes are refused and what waits is dropped.
    pub fn shut(&self) {
        let mut queue = self.queue.lock().expect("outbox lock");
        queue.open = false;
        queue.events = VecDeque::new();
    }

    pub fn request_close(&self, reason: CloseRequest) {
        if self.reason.set(reason).is_ok() {
            // `notify_one` stores a permit, so a close asked before the wait is not lost.
            self.close.notify_one();
        }
    }

    pub async fn closed(&self) -> CloseRequest {
        self.close.notified().await;
        self.reason
            .get()
            .copied()
            .unwrap_or(CloseRequest::SlowConsumer)
    }
}

#[derive(Clone)]
pub struct ConnectionHandle {
    pub id: Uuid,
    pub outbox: Arc<Outbox>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum SubscriptionState {
    Pending,
    Ready,
    Failed(String),
}

pub struct UserEntry {
    connections: Mutex<Vec<ConnectionHandle>>,
    /// The delivery subscription's progress; `subscribed` wakes those waiting for it.
    state: Mutex<SubscriptionState>,
    subscribed: Notify,
    /// The delivery subscription's sid, once subscribed.
    sid: Mutex<Option<u64>>,
}

impl UserEntry {
    /// Waits until the first connection's subscribe has succeeded or failed.
    async fn subscription_settled(&self) -> SubscriptionState {
        loop {
            let notified = self.subscribed.notified();
            tokio::pin!(notified);
            // Registered before the look, so a change right after it still wakes us.
            notified.as_mut().enable();
            let state = self.state.lock().expect("user lock").clone();
            if state != SubscriptionState::Pending {
                return state;
            }
            notified.await;
        }
    }

    /// Hands a delivery to every connection of the user here (but the one it skips).
    pub fn deliver(&self, delivery: Delivery, metrics: &GatewayMetrics) {
        // Only traced deliveries pay for a span.
        let span = delivery.traceparent.as_deref().map(|tp| {
            let span = tracing::info_span!("gateway.deliver", event = %delivery.event);
            switchboard_common::telemetry::set_parent(&span, tp);
            span
        });
        let _entered = span.as_ref().map(tracing::Span::enter);
        let encoded = Arc::new(EncodedEvent::new(delivery.event, delivery.data));
        let conns = self.connections.lock().expect("user lock");
        let mut delivered = 0u32;
        for conn in conns.iter() {
            if Some(conn.id) == delivery.skip {
                continue;
            }
            match conn.outbox.push(encoded.clone()) {
                Ok(waiting) => {
                    metrics.outbound_queue_depth.observe(waiting as f64);
                    delivered += 1;
                    metrics
                        .events_out
                        .with_label_values(&[encoded.event.as_str()])
                        .inc();
                }
                Err(Rejected::Full) => {
                    metrics
                        .outbound_queue_depth
                        .observe(conn.outbox.capacity as f64);
                    conn.outbox.request_close(CloseRequest::SlowConsumer);
                }
                // The connection is closing; it unregisters itself.
                Err(Rejected::Closed) => {}
            }
        }
        metrics.delivery_fanout.observe(f64::from(delivered));
    }
}

pub struct Hub {
    users: Mutex<HashMap<Uuid, Arc<UserEntry>>>,
    bus: Arc<DeliveryBus>,
    /// Connections here, and the XOR of their ids' low 64 bits: the heartbeat reports both
    /// so the presence service can tell when its view of this replica is off.
    count: AtomicU32,
    digest: AtomicU64,
    subjects: Subjects,
    metrics: Arc<GatewayMetrics>,
}

/// How long registering may wait for the user's subscription to be in place.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(5);

impl Hub {
    pub fn new(bus: Arc<DeliveryBus>, subjects: Subjects, metrics: Arc<GatewayMetrics>) -> Self {
        Self {
            users: Mutex::new(HashMap::new()),
            bus,
            count: AtomicU32::new(0),
            digest: AtomicU64::new(0),
            subjects,
            metrics,
        }
    }

    /// Adds a connection; returns once the user's deliveries flow to this replica.
    pub async fn register(&self, user: Uuid, conn: ConnectionHandle) -> Result<(), String> {
        let (entry, first) = {
            let mut users = self.users.lock().expect("hub lock");
            self.count.fetch_add(1, Ordering::AcqRel);
            self.digest
                .fetch_xor(digest_part(conn.id), Ordering::AcqRel);
            match users.get(&user) {
                Some(entry) => {
                    entry
                        .connections
                        .lock()
                        .expect("user lock")
                        .push(conn.clone());
                    (entry.clone(), false)
                }
                None => {
                    let entry = Arc::new(UserEntry {
                        connections: Mutex::new(vec![conn.clone()]),
                        state: Mutex::new(SubscriptionState::Pending),
                        subscribed: Notify::new(),
                        sid: Mutex::new(None),
                    });
                    users.insert(user, entry.clone());
                    self.metrics.users.inc();
                    (entry, true)
                }
            }
        };
        if first {
            let outcome = self.subscribe(user, &entry).await;
            let state = match &outcome {
                Ok(()) => SubscriptionState::Ready,
                Err(e) => SubscriptionState::Failed(e.clone()),
            };
            *entry.state.lock().expect("user lock") = state;
            entry.subscribed.notify_waiters();
            if let Err(e) = outcome {
                self.unregister(user, conn.id);
                return Err(e);
            }
            return Ok(());
        }
        let outcome =
            match tokio::time::timeout(SUBSCRIBE_TIMEOUT, entry.subscription_settled()).await {
                Ok(SubscriptionState::Ready) => Ok(()),
                Ok(SubscriptionState::Failed(e)) => Err(e),
                _ => Err("timed out waiting for the delivery subscription".into()),
            };
        if outcome.is_err() {
            self.unregister(user, conn.id);
        }
        outcome
    }

    async fn subscribe(&self, user: Uuid, entry: &Arc<UserEntry>) -> Result<(), String> {
        let subject = self.subjects.user_delivery(user);
        let sid = match self.bus.subscribe(subject, Arc::downgrade(entry)).await {
            Ok(sid) => sid,
            Err(e) => {
                self.metrics.nats_errors.inc();
                return Err(format!("cannot subscribe to deliveries: {e}"));
            }
        };
        let users = self.users.lock().expect("hub lock");
        // The user may have left while we subscribed; then the subscription goes too.
        match users.get(&user) {
            Some(current) if Arc::ptr_eq(current, entry) => {
                *entry.sid.lock().expect("user lock") = Some(sid);
            }
            _ => self.bus.unsubscribe(sid),
        }
        Ok(())
    }

    /// Removes a connection; the last one of a user drops the user's subscription.
    pub fn unregister(&self, user: Uuid, connection: Uuid) {
        let mut users = self.users.lock().expect("hub lock");
        let Some(entry) = users.get(&user).cloned() else {
            return;
        };
        let empty = {
            let mut conns = entry.connections.lock().expect("user lock");
            let before = conns.len();
            conns.retain(|c| c.id != connection);
            if conns.len() < before {
                self.count.fetch_sub(1, Ordering::AcqRel);
                self.digest
                    .fetch_xor(digest_part(connection), Ordering::AcqRel);
            }
            conns.is_empty()
        };
        if empty {
            users.remove(&user);
            self.metrics.users.dec();
            if let Some(sid) = entry.sid.lock().expect("user lock").take() {
                self.bus.unsubscribe(sid);
            }
        }
    }

    /// Connections on this replica.
    pub fn connection_count(&self) -> usize {
        self.count.load(Ordering::Acquire) as usize
    }

    /// The count and digest of this replica's connections (see [`Hub::snapshot`]).
    pub fn digest(&self) -> (u32, u64) {
        // Read under the lock so both describe the same moment.
        let _users = self.users.lock().expect("hub lock");
        (
            self.count.load(Ordering::Acquire),
            self.digest.load(Ordering::Acquire),
        )
    }

    /// Every (connection, user) here.
    pub fn snapshot(&self) -> Vec<(Uuid, Uuid)> {
        let users = self.users.lock().expect("hub lock");
        users
            .iter()
            .flat_map(|(user, entry)| {
                entry
                    .connections
                    .lock()
                    .expect("user lock")
                    .iter()
                    .map(|c| (c.id, *user))
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

/// A connection's share of the digest: the low 64 bits of its id.
pub fn digest_part(connection: Uuid) -> u64 {
    connection.as_u128() as u64
}
