//! What a client event means, independent of its framing: parse the data, check limits,
//! turn it into a command for the chat service, or answer it here.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use switchboard_common::wire::{ErrorCode, WireError};
use switchboard_proto::chat::v1::{self as pb, command::Command as Cmd};
use uuid::Uuid;

use crate::state::GatewayState;

/// The events a client may send once connected.
pub const CLIENT_EVENTS: &[&str] = &[
    "send_message",
    "mark_message_read",
    "mark_conversation_read",
    "sync",
    "history",
    "refresh_token",
];

pub enum Action {
    /// Answered at once.
    Reply(Result<Bytes, WireError>),
    /// Answered when the chat service replies.
    Pending(BoxFuture<'static, Result<Bytes, WireError>>),
}

pub struct Session {
    pub user_id: Uuid,
    pub connection_id: Uuid,
    /// Token expiry, seconds since the epoch; moved by `refresh_token`.
    pub expires_at: u64,
    state: Arc<GatewayState>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendMessageData {
    pub recipient_id: String,
    pub content: String,
    #[serde(default)]
    pub client_msg_id: Option<String>,
    // Unknown fields, `senderId` among them, are ignored: identity comes from the token.
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MarkMessageReadData {
    message_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MarkConversationReadData {
    peer_id: String,
    up_to_message_id: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct SyncData {
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HistoryData {
    peer_id: String,
    #[serde(default)]
    before: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

#[derive(Deserialize)]
struct RefreshTokenData {
    token: String,
}

impl Session {
    pub fn new(
        state: Arc<GatewayState>,
        user_id: Uuid,
        connection_id: Uuid,
        expires_at: u64,
    ) -> Self {
        Self {
            user_id,
            connection_id,
            expires_at,
            state,
        }
    }

    pub fn dispatch(&mut self, event: &str, data: Option<&RawValue>) -> Action {
        let command = match event {
            "send_message" => self.send_message(data),
            "mark_message_read" => parse::<MarkMessageReadData>(event, data).map(|d| {
                Cmd::MarkMessageRead(pb::MarkMessageReadRequest {
                    reader_id: self.user_id.to_string(),
                    message_id: d.message_id,
                })
            }),
            "mark_conversation_read" => parse::<MarkConversationReadData>(event, data).map(|d| {
                Cmd::MarkConversationRead(pb::MarkConversationReadRequest {
                    reader_id: self.user_id.to_string(),
                    peer_id: d.peer_id,
                    up_to_message_id: d.up_to_message_id,
                })
            }),
            "sync" => parse_or_default::<SyncData>(event, data).map(|d| {
                Cmd::Sync(pb::SyncRequest {
                    user_id: self.user_id.to_string(),
                    after: d.after,
                    limit: d.limit,
                })
            }),
            "history" => parse::<HistoryData>(event, data).map(|d| {
                Cmd::History(pb::GetHistoryRequest {
                    user_id: self.user_id.to_string(),
                    peer_id: d.peer_id,
                    before: d.before,
                    limit: d.limit,
                })
            }),
            "refresh_token" => return Action::Reply(self.refresh_token(data)),
            "auth" => {
                return Action::Reply(Err(WireError::new(
                    ErrorCode::InvalidRequest,
                    "already authenticated",
                )));
            }
            other => {
                return Action::Reply(Err(WireError::new(
                    ErrorCode::InvalidRequest,
                    format!("unknown event {other:?}"),
                )));
            }
        };
        match command {
            Err(e) => Action::Reply(Err(e)),
            Ok(cmd) => {
                let state = self.state.clone();
                let connection = self.connection_id;
                Action::Pending(Box::pin(async move {
                    state.chat.call(Some(connection), cmd).await
                }))
            }
        }
    }

    fn send_message(&self, data: Option<&RawValue>) -> Result<Cmd, WireError> {
        let d = parse::<SendMessageData>("send_message", data)?;
        self.state.check_send_rate(self.user_id)?;
        Ok(send_command(self.user_id, d))
    }

    fn refresh_token(&mut self, data: Option<&RawValue>) -> Result<Bytes, WireError> {
        let d = parse::<RefreshTokenData>("refresh_token", data)?;
        let token = self
            .state
            .verifier
            .verify(&d.token)
            .map_err(|e| WireError::new(ErrorCode::Unauthorized, e.to_string()))?;
        if token.user_id != self.user_id {
            return Err(WireError::new(
                ErrorCode::Forbidden,
                "the new token names another user",
            ));
        }
        self.expires_at = token.expires_at;
        let expires_at = chrono::DateTime::from_timestamp(token.expires_at as i64, 0)
            .map(switchboard_common::wire::format_time)
            .unwrap_or_default();
        Ok(
            serde_json::to_vec(&serde_json::json!({ "expiresAt": expires_at }))
                .expect("serialises")
                .into(),
        )
    }
}

/// The send command for a user; shared with the REST fallback.
pub fn send_command(user_id: Uuid, d: SendMessageData) -> Cmd {
    Cmd::SendMessage(pb::SendMessageRequest {
        sender_id: user_id.to_string(),
        recipient_id: d.recipient_id,
        content: d.content,
        client_msg_id: d.client_msg_id,
    })
}

pub fn parse<T: DeserializeOwned>(event: &str, data: Option<&RawValue>) -> Result<T, WireError> {
    let Some(raw) = data else {
        return Err(WireError::new(
            ErrorCode::InvalidRequest,
            format!("{event} needs a data object"),
        ));
    };
    serde_json::from_str(raw.get()).map_err(|e| {
        WireError::new(
            ErrorCode::InvalidRequest,
            format!("invalid data for {event}: {}", strip_position(&e)),
        )
    })
}

fn parse_or_default<T: DeserializeOwned + Default>(
    event: &str,
    data: Option<&RawValue>,
) -> Result<T, WireError> {
    match data {
        None => Ok(T::default()),
        some => parse(event, some),
    }
}

/// serde's message without " at line 1 column 17", which means nothing to a client.
fn strip_position(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.find(" at line ") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}
