//! A stored message and its two renderings: the wire protocol's JSON and protobuf.

use chrono::{DateTime, Utc};
use switchboard_common::wire::{self, MessageJson};
use switchboard_proto::chat::v1 as pb;
use uuid::Uuid;

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredMessage {
    pub id: Uuid,
    pub sender_id: Uuid,
    pub recipient_id: Uuid,
    pub content: String,
    pub client_msg_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

impl StoredMessage {
    pub fn json_view(&self) -> MessageJson<'_> {
        MessageJson {
            id: self.id.to_string(),
            sender_id: self.sender_id.to_string(),
            recipient_id: self.recipient_id.to_string(),
            content: &self.content,
            created_at: wire::format_time(self.created_at),
            read_at: self.read_at.map(wire::format_time),
            client_msg_id: self.client_msg_id.as_deref(),
        }
    }

    /// The message object as JSON bytes.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(&self.json_view()).expect("a message always serialises")
    }

    pub fn to_proto(&self) -> pb::Message {
        pb::Message {
            id: self.id.to_string(),
            sender_id: self.sender_id.to_string(),
            recipient_id: self.recipient_id.to_string(),
            content: self.content.clone(),
            created_at: Some(timestamp(self.created_at)),
            read_at: self.read_at.map(timestamp),
            client_msg_id: self.client_msg_id.clone(),
        }
    }
}

pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

/// `{"messages":[…],"hasMore":…}`, the ack data of `sync` and `history`.
pub fn page_json(messages: &[StoredMessage], has_more: bool) -> Vec<u8> {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Page<'a> {
        messages: Vec<MessageJson<'a>>,
        has_more: bool,
    }
    serde_json::to_vec(&Page {
        messages: messages.iter().map(StoredMessage::json_view).collect(),
        has_more,
    })
    .expect("a page always serialises")
}

/// Now, truncated to the millisecond the wire protocol shows, so what is stored and what
/// is acked are the same instant.
pub fn now_millis() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}
