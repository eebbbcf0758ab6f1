//! The chat service's operations, shared by the NATS command handler and gRPC: validate,
//! persist, then publish the deliveries.

use std::sync::Arc;

use async_nats::HeaderMap;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use switchboard_common::domain::{ClientMsgId, MessageContent};
use switchboard_common::subjects::{Subjects, headers};
use switchboard_common::wire::{self, MessageReadJson};
use tracing::Instrument as _;
use uuid::Uuid;

use crate::batcher::SendBatcher;
use crate::error::{ChatError, parse_id};
use crate::message::{StoredMessage, now_millis};
use crate::metrics::ChatMetrics;
use crate::store::{ReadOutcome, SendOutcome, Store};
use crate::unread::UnreadNotifier;

pub const SYNC_DEFAULT_LIMIT: u32 = 100;
pub const SYNC_MAX_LIMIT: u32 = 500;
pub const HISTORY_DEFAULT_LIMIT: u32 = 50;
pub const HISTORY_MAX_LIMIT: u32 = 200;

pub struct ChatCore {
    pub store: Store,
    batcher: SendBatcher,
    nats: async_nats::Client,
    subjects: Subjects,
    max_content_chars: usize,
    metrics: Arc<ChatMetrics>,
    unread: Option<UnreadNotifier>,
}

/// A send as it arrives, before validation.
pub struct SendInput {
    pub sender_id: String,
    pub recipient_id: String,
    pub content: String,
    pub client_msg_id: Option<String>,
    /// The gateway connection that sent it; its own echo is skipped.
    pub origin_connection: Option<String>,
    /// When set, the `message_sent` delivery carries it and serves as the ack.
    pub ack_token: Option<String>,
}

/// A send's result.
pub struct Sent {
    pub outcome: SendOutcome,
    /// The message object as JSON.
    pub json: Vec<u8>,
    /// The `message_sent` delivery carrying the ack token was published.
    pub acked_by_delivery: bool,
}

pub struct MarkedRead {
    pub message_id: Uuid,
    pub read_at: DateTime<Utc>,
}

impl ChatCore {
    pub fn new(
        store: Store,
        batcher: SendBatcher,
        nats: async_nats::Client,
        subjects: Subjects,
        max_content_chars: usize,
        metrics: Arc<ChatMetrics>,
        unread: Option<UnreadNotifier>,
    ) -> Self {
        Self {
            store,
            batcher,
            nats,
            subjects,
            max_content_chars,
            metrics,
            unread,
        }
    }

    pub async fn send(&self, input: SendInput) -> Result<Sent, ChatError> {
        let sender_id = parse_id("senderId", &input.sender_id)?;
        let recipient_id = parse_id("recipientId", &input.recipient_id)?;
        if sender_id == recipient_id {
            return Err(ChatError::Invalid(
                "cannot send a message to yourself".into(),
            ));
        }
        let content = MessageContent::parse(input.content, self.max_content_chars)
            .map_err(ChatError::Invalid)?;
        let client_msg_id = input
            .client_msg_id
            .map(ClientMsgId::parse)
            .transpose()
            .map_err(ChatError::Invalid)?;
        let started = std::time::Instant::now();
        // The wait for the group commit that carries this message (PostgreSQL).
        let outcome = self
            .batcher
            .send(crate::store::NewMessage {
                sender_id,
                recipient_id,
                content,
                client_msg_id,
            })
            .instrument(tracing::info_span!("chat.persist"))
            .await?;
        self.metrics
            .store_seconds
            .observe(started.elapsed().as_secs_f64());
        let message = outcome.message();
        let json = message.to_json();
        // Re-published on a retry too: delivery is at-least-once and clients dedupe by id,
        // so a delivery lost with a crashed replica is made good by the retry.
        let ack = input.ack_token.as_deref();
        let published = self
            .publish_message(message, &json, input.origin_connection.as_deref(), ack)
            .await;
        let acked_by_delivery = ack.is_some() && published;
        match &outcome {
            SendOutcome::Stored(m) => {
                self.metrics.messages_stored.inc();
                if let Some(unread) = &self.unread {
                    unread.message_stored(m);
                }
            }
            SendOutcome::Duplicate(_) => self.metrics.duplicates.inc(),
        }
        Ok(Sent {
            outcome,
            json,
            acked_by_delivery,
        })
    }

    pub fn metrics(&self) -> &ChatMetrics {
        &self.metrics
    }

    /// Publishes `message_received` and `message_sent`; true when the latter, which
    /// carries `ack` when given, was handed to NATS.
    async fn publish_message(
        &self,
        message: &StoredMessage,
        json: &[u8],
        origin: Option<&str>,
        ack: Option<&str>,
    ) -> bool {
        let payload = Bytes::copy_from_slice(json);
        self.publish(
            message.recipient_id,
            "message_received",
            payload.clone(),
            None,
            None,
        )
        .await;
        self.publish(message.sender_id, "message_sent", payload, origin, ack)
            .await
    }

    async fn publish(
        &self,
        user: Uuid,
        event: &'static str,
        payload: Bytes,
        skip: Option<&str>,
        ack: Option<&str>,
    ) -> bool {
        let mut h = HeaderMap::new();
        h.insert(headers::EVENT, event);
        if let Some(conn) = skip {
            h.insert(headers::SKIP_CONNECTION, conn);
        }
        if let Some(token) = ack {
            h.insert(headers::ACK, token);
        }
        switchboard_common::telemetry::inject_nats(&mut h);
        if let Err(e) = self
            .nats
            .publish_with_headers(self.subjects.user_delivery(user), h, payload)
            .await
        {
            // Stored already; the recipient's next sync delivers it.
            self.metrics.publish_errors.inc();
            tracing::warn!(error = %e, event, "delivery publish failed");
            return false;
        }
        true
    }

    pub async fn history(
        &self,
        user_id: &str,
        peer_id: &str,
        before: Option<&str>,
        limit: Option<u32>,
    ) -> Result<(Vec<StoredMessage>, bool), ChatError> {
        let user = parse_id("userId", user_id)?;
        let peer = parse_id("peerId", peer_id)?;
        let before = before.map(|b| parse_id("before", b)).transpose()?;
        let limit = page_limit(limit, HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT)?;
        self.store.history(user, peer, before, limit).await
    }

    pub async fn sync(
        &self,
        user_id: &str,
        after: Option<&str>,
        limit: Option<u32>,
    ) -> Result<(Vec<StoredMessage>, bool), ChatError> {
        let user = parse_id("userId", user_id)?;
        let after = after.map(|a| parse_id("after", a)).transpose()?;
        let limit = page_limit(limit, SYNC_DEFAULT_LIMIT, SYNC_MAX_LIMIT)?;
        self.store.sync(user, after, limit).await
    }

    pub async fn mark_read(
        &self,
        reader_id: &str,
        message_id: &str,
        origin: Option<&str>,
    ) -> Result<MarkedRead, ChatError> {
        let reader = parse_id("readerId", reader_id)?;
        let message_id = parse_id("messageId", message_id)?;
        match self
            .store
            .mark_read(reader, message_id, now_millis())
            .await?
        {
            ReadOutcome::Marked { sender_id, read_at } => {
                self.publish_read(message_id, sender_id, reader, read_at, origin)
                    .await;
                Ok(MarkedRead {
                    message_id,
                    read_at,
                })
            }
            ReadOutcome::AlreadyRead { read_at } => Ok(MarkedRead {
                message_id,
                read_at,
            }),
        }
    }

    pub async fn mark_conversation_read(
        &self,
        reader_id: &str,
        peer_id: &str,
        up_to: &str,
        origin: Option<&str>,
    ) -> Result<(u32, DateTime<Utc>), ChatError> {
        let reader = parse_id("readerId", reader_id)?;
        let peer = parse_id("peerId", peer_id)?;
        let up_to = parse_id("upToMessageId", up_to)?;
        if reader == peer {
            return Err(ChatError::Invalid("peerId must be another user".into()));
        }
        let now = now_millis();
        let ids = self
            .store
            .mark_conversation_read(reader, peer, up_to, now)
            .await?;
        for id in &ids {
            self.publish_read(*id, peer, reader, now, origin).await;
        }
        Ok((ids.len() as u32, now))
    }

    async fn publish_read(
        &self,
        message_id: Uuid,
        sender: Uuid,
        reader: Uuid,
        read_at: DateTime<Utc>,
        origin: Option<&str>,
    ) {
        let payload: Bytes = serde_json::to_vec(&MessageReadJson {
            message_id: message_id.to_string(),
            reader_id: reader.to_string(),
            read_at: wire::format_time(read_at),
        })
        .expect("serialises")
        .into();
        self.publish(sender, "message_read", payload.clone(), None, None)
            .await;
        self.publish(reader, "message_read", payload, origin, None)
            .await;
    }
}

fn page_limit(requested: Option<u32>, default: u32, max: u32) -> Result<u32, ChatError> {
    match requested {
        None => Ok(default),
        Some(0) => Err(ChatError::Invalid(format!(
            "limit must be between 1 and {max}"
        ))),
        Some(n) => Ok(n.min(max)),
    }
}
