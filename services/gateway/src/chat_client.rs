//! Commands to the chat service over NATS, answered on this replica's reply subjects or,
//! for a stored send, by its `message_sent` delivery (see [`crate::replies`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use prost::Message as _;
use switchboard_common::auth::VerifiedToken;
use switchboard_common::wire::{self, ErrorCode, WireError};
use switchboard_proto::chat::v1::{
    self as pb, command::Command as Cmd, command_reply::Result as Reply,
};
use tracing::Instrument as _;
use uuid::Uuid;

use crate::deliveries::DeliveryBus;
use crate::metrics::GatewayMetrics;
use crate::replies::{Answer, Replies};

pub struct ChatClient {
    nats: async_nats::Client,
    subject: String,
    timeout: Duration,
    replies: Arc<Replies>,
    deliveries: Arc<DeliveryBus>,
    metrics: Arc<GatewayMetrics>,
}

impl ChatClient {
    pub fn new(
        nats: async_nats::Client,
        subject: String,
        timeout: Duration,
        replies: Arc<Replies>,
        deliveries: Arc<DeliveryBus>,
        metrics: Arc<GatewayMetrics>,
    ) -> Self {
        Self {
            nats,
            subject,
            timeout,
            replies,
            deliveries,
            metrics,
        }
    }

    /// Sends a command; the reply is the ack's `data` JSON.
    pub async fn call(
        &self,
        connection_id: Option<Uuid>,
        command: Cmd,
    ) -> Result<Bytes, WireError> {
        let span = tracing::info_span!("gateway.chat_command", command = command_name(&command));
        async move { self.call_inner(connection_id, command).await }
            .instrument(span)
            .await
    }

    async fn call_inner(
        &self,
        connection_id: Option<Uuid>,
        command: Cmd,
    ) -> Result<Bytes, WireError> {
        let mut pending = self.replies.expect();
        // The send's `message_sent` can be its ack only when it reaches this replica: the
        // sender has a connection here (so this replica holds the user's subscription) and
        // the delivery connection is up.
        let is_send = matches!(command, Cmd::SendMessage(_));
        let ack_by_delivery = is_send && connection_id.is_some() && self.deliveries.is_connected();
        let payload = pb::Command {
            connection_id: connection_id.map(|c| c.to_string()).unwrap_or_default(),
            ack_token: if ack_by_delivery {
                pending.subject().to_owned()
            } else {
                String::new()
            },
            command: Some(command),
        }
        .encode_to_vec();
        let started = Instant::now();
        let answer = async {
            crate::bus::publish_with_reply(
                &self.nats,
                self.subject.clone(),
                pending.subject().to_owned(),
                payload.into(),
                &self.metrics,
            )
            .await?;
            match tokio::time::timeout(self.timeout, pending.answer()).await {
                Ok(Some(answer)) => Ok(answer),
                _ => Err(self.unavailable("did not answer in time")),
            }
        }
        .await;
        self.metrics
            .command_seconds
            .observe(started.elapsed().as_secs_f64());
        match answer? {
            Answer::NoResponders => Err(self.unavailable("is unavailable")),
            Answer::Delivered(message) => {
                self.metrics
                    .send_acks
                    .with_label_values(&["delivery"])
                    .inc();
                Ok(wire::send_ack_json(&message).into())
            }
            Answer::Reply(reply) => match pb::CommandReply::decode(reply.as_ref()) {
                Ok(pb::CommandReply {
                    result: Some(Reply::Json(json)),
                }) => {
                    if is_send {
                        self.metrics.send_acks.with_label_values(&["reply"]).inc();
                    }
                    Ok(json.into())
                }
                Ok(pb::CommandReply {
                    result: Some(Reply::Error(e)),
                }) => Err(WireError::from_proto(&e)),
                _ => Err(WireError::new(
                    ErrorCode::Internal,
                    "undecodable reply from the chat service",
                )),
            },
        }
    }

    fn unavailable(&self, why: &str) -> WireError {
        crate::bus::unavailable("chat service", why, &self.metrics)
    }

    /// Records the user from the token's claims (SPEC §6).
    pub async fn upsert_user(&self, token: &VerifiedToken) -> Result<(), WireError> {
        let role = match token.role.as_deref() {
            Some("applicant") => pb::Role::Applicant,
            Some("lawyer") => pb::Role::Lawyer,
            Some("admin") => pb::Role::Admin,
            _ => pb::Role::Unspecified,
        };
        self.call(
            None,
            Cmd::UpsertUser(pb::UpsertUserRequest {
                id: token.user_id.to_string(),
                email: token.email.clone(),
                display_name: token.name.clone(),
                role: role as i32,
            }),
        )
        .await
        .map(|_| ())
    }
}

fn command_name(command: &Cmd) -> &'static str {
    match command {
        Cmd::SendMessage(_) => "send_message",
        Cmd::MarkMessageRead(_) => "mark_message_read",
        Cmd::MarkConversationRead(_) => "mark_conversation_read",
        Cmd::Sync(_) => "sync",
        Cmd::History(_) => "history",
        Cmd::UpsertUser(_) => "upsert_user",
    }
}
