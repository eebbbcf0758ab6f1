//! Every NATS subject, header and queue group name, in one place.
//!
//! All subjects live under a prefix (`NATS_SUBJECT_PREFIX`, default `sb`) so that several
//! deployments, or several tests, share one NATS server without hearing each other.

use uuid::Uuid;

/// The queue group of the chat service's command consumers: one replica answers each.
pub const CHAT_QUEUE_GROUP: &str = "chat";

/// The queue group of the presence service's consumers.
pub const PRESENCE_QUEUE_GROUP: &str = "presence";

/// Headers of a delivery on a user's subject.
pub mod headers {
    /// The server → client event name (`message_received`, `message_read`, ...).
    pub const EVENT: &str = "Sb-Event";
    /// A gateway connection id that must not receive this delivery (the one that caused it).
    pub const SKIP_CONNECTION: &str = "Sb-Skip-Connection";
    /// On a `message_sent`: the command's `ack_token`; this delivery is that command's ack.
    pub const ACK: &str = "Sb-Ack";
}

#[derive(Clone, Debug)]
pub struct Subjects {
    prefix: String,
}

impl Subjects {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Gateway → chat commands (request/reply, queue group [`CHAT_QUEUE_GROUP`]).
    pub fn chat_command(&self) -> String {
        format!("{}.chat.command", self.prefix)
    }

    /// Events for one user's connections: every gateway replica holding one of them
    /// subscribes while it does. Payload: the event's `data` JSON; headers: [`headers`].
    pub fn user_delivery(&self, user_id: Uuid) -> String {
        format!("{}.deliver.{}", self.prefix, user_id.as_simple())
    }

    /// Connection opened/closed events from gateways (presence).
    pub fn presence_connection(&self) -> String {
        format!("{}.presence.connection", self.prefix)
    }

    /// Gateway liveness heartbeats (presence).
    pub fn presence_heartbeat(&self) -> String {
        format!("{}.presence.heartbeat", self.prefix)
    }

    /// A gateway instance's snapshot of its live connections (request/reply, presence asks).
    pub fn presence_snapshot(&self, instance_id: &str) -> String {
        format!("{}.presence.snapshot.{instance_id}", self.prefix)
    }

    /// Presence queries from gateways (`GetPresenceRequest`, request/reply, queue group).
    pub fn presence_query(&self) -> String {
        format!("{}.presence.query", self.prefix)
    }

    /// Contact checks from gateways (`CheckContactsRequest`, request/reply, queue group).
    pub fn presence_contacts(&self) -> String {
        format!("{}.presence.contacts", self.prefix)
    }

    /// Notification events of one kind (`message_unread`, `consultation_scheduled`, ...).
    pub fn notification(&self, kind: &str) -> String {
        format!("{}.notification.{kind}", self.prefix)
    }

    /// Every notification subject: what the notification service's stream stores.
    pub fn notifications_all(&self) -> String {
        format!("{}.notification.>", self.prefix)
    }

    /// The JetStream stream over [`Subjects::notifications_all`] (stream names cannot
    /// contain dots).
    pub fn notification_stream(&self) -> String {
        format!(
            "{}_notifications",
            self.prefix.replace(['.', '*', '>'], "_")
        )
    }
}
