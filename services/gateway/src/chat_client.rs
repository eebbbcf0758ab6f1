//! Commands to the chat service over NATS request/reply (see [`crate::bus`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use prost::Message as _;
use switchboard_common::auth::VerifiedToken;
use switchboard_common::wire::{ErrorCode, WireError};
use switchboard_proto::chat::v1::{
    self as pb, command::Command as Cmd, command_reply::Result as Reply,
};
use tracing::Instrument as _;
use uuid::Uuid;

use crate::metrics::GatewayMetrics;

pub struct ChatClient {
    nats: async_nats::Client,
    subject: String,
    timeout: Duration,
    metrics: Arc<GatewayMetrics>,
}

impl ChatClient {
    pub fn new(
        nats: async_nats::Client,
        subject: String,
        timeout: Duration,
        metrics: Arc<GatewayMetrics>,
    ) -> Self {
        Self {
            nats,
            subject,
            timeout,
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
        let payload = pb::Command {
            connection_id: connection_id.map(|c| c.to_string()).unwrap_or_default(),
            command: Some(command),
        }
        .encode_to_vec();
        let started = Instant::now();
        let reply = crate::bus::request(
            &self.nats,
            self.subject.clone(),
            payload.into(),
            self.timeout,
            "chat service",
            &self.metrics,
        )
        .await;
        self.metrics
            .command_seconds
            .observe(started.elapsed().as_secs_f64());
        let reply = reply?;
        match pb::CommandReply::decode(reply.as_ref()) {
            Ok(pb::CommandReply {
                result: Some(Reply::Json(json)),
            }) => Ok(json.into()),
            Ok(pb::CommandReply {
                result: Some(Reply::Error(e)),
            }) => Err(WireError::from_proto(&e)),
            _ => Err(WireError::new(
                ErrorCode::Internal,
                "undecodable reply from the chat service",
            )),
        }
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
