//! What a client event means, independent of its framing: parse the data, check limits,
//! turn it into a command for the chat service, or answer it here.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    "user_typing",
    "user_stop_typing",
    "get_presence",
];

/// At most one `user_typing` is relayed per recipient this often; repeats in between are
/// acked and dropped (clients repeat it every 3 s while typing).
const TYPING_RELAY_INTERVAL: Duration = Duration::from_secs(1);

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
    /// Recipients this connection said it is typing to, and when it was last relayed; each
    /// gets a `user_stop_typing` if the connection goes away first.
    typing_to: HashMap<Uuid, Instant>,
    state: Arc<GatewayState>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TypingData {
    recipient_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetPresenceData {
    user_ids: Vec<String>,
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

/// A client event with its data parsed and checked, before anything is done with it.
/// Framing-independent and pure, so the decoders' fuzz targets and property tests reach it.
pub enum Request {
    SendMessage(SendMessageData),
    MarkMessageRead {
        message_id: String,
    },
    MarkConversationRead {
        peer_id: String,
        up_to_message_id: String,
    },
    Sync {
        after: Option<String>,
        limit: Option<u32>,
    },
    History {
        peer_id: String,
        before: Option<String>,
        limit: Option<u32>,
    },
    RefreshToken {
        token: String,
    },
    Typing {
        started: bool,
        recipient: Uuid,
    },
    GetPresence {
        user_ids: Vec<String>,
    },
}

impl Request {
    /// The request event `event` carrying `data` makes; every refusal is `invalid_request`.
    pub fn parse(event: &str, data: Option<&RawValue>) -> Result<Self, WireError> {
        Ok(match event {
            "send_message" => Self::SendMessage(parse(event, data)?),
            "mark_message_read" => {
                let d: MarkMessageReadData = parse(event, data)?;
                Self::MarkMessageRead {
                    message_id: d.message_id,
                }
            }
            "mark_conversation_read" => {
                let d: MarkConversationReadData = parse(event, data)?;
                Self::MarkConversationRead {
                    peer_id: d.peer_id,
                    up_to_message_id: d.up_to_message_id,
                }
            }
            "sync" => {
                let d: SyncData = parse_or_default(event, data)?;
                Self::Sync {
                    after: d.after,
                    limit: d.limit,
                }
            }
            "history" => {
                let d: HistoryData = parse(event, data)?;
                Self::History {
                    peer_id: d.peer_id,
                    before: d.before,
                    limit: d.limit,
                }
            }
            "refresh_token" => {
                let d: RefreshTokenData = parse(event, data)?;
                Self::RefreshToken { token: d.token }
            }
            "user_typing" | "user_stop_typing" => {
                let d: TypingData = parse(event, data)?;
                let recipient = Uuid::parse_str(&d.recipient_id).map_err(|_| {
                    WireError::new(ErrorCode::InvalidRequest, "recipientId must be a UUID")
                })?;
                Self::Typing {
                    started: event == "user_typing",
                    recipient,
                }
            }
            "get_presence" => {
                let d: GetPresenceData = parse(event, data)?;
                Self::GetPresence {
                    user_ids: d.user_ids,
                }
            }
            "auth" => {
                return Err(WireError::new(
                    ErrorCode::InvalidRequest,
                    "already authenticated",
                ));
            }
            other => {
                return Err(WireError::new(
                    ErrorCode::InvalidRequest,
                    format!("unknown event {other:?}"),
                ));
            }
        })
    }
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
            typing_to: HashMap::new(),
            state,
        }
    }

    /// What the connection leaves behind: a stop for every recipient still shown typing.
    pub async fn finish(self) {
        for recipient in self.typing_to.keys() {
            if self.state.presence.cached_contact(self.user_id, *recipient) == Some(true) {
                self.state
                    .presence
                    .relay("user_stop_typing", self.user_id, *recipient)
                    .await;
            }
        }
    }

    pub fn dispatch(&mut self, event: &str, data: Option<&RawValue>) -> Action {
        let request = match Request::parse(event, data) {
            Ok(r) => r,
            Err(e) => return Action::Reply(Err(e)),
        };
        let command = match request {
            Request::SendMessage(d) => {
                if let Err(e) = self.state.check_send_rate(self.user_id) {
                    return Action::Reply(Err(e));
                }
                send_command(self.user_id, d)
            }
            Request::MarkMessageRead { message_id } => {
                Cmd::MarkMessageRead(pb::MarkMessageReadRequest {
                    reader_id: self.user_id.to_string(),
                    message_id,
                })
            }
            Request::MarkConversationRead {
                peer_id,
                up_to_message_id,
            } => Cmd::MarkConversationRead(pb::MarkConversationReadRequest {
                reader_id: self.user_id.to_string(),
                peer_id,
                up_to_message_id,
            }),
            Request::Sync { after, limit } => Cmd::Sync(pb::SyncRequest {
                user_id: self.user_id.to_string(),
                after,
                limit,
            }),
            Request::History {
                peer_id,
                before,
                limit,
            } => Cmd::History(pb::GetHistoryRequest {
                user_id: self.user_id.to_string(),
                peer_id,
                before,
                limit,
            }),
            Request::RefreshToken { token } => return Action::Reply(self.refresh_token(&token)),
            Request::Typing { started, recipient } => return self.typing(started, recipient),
            Request::GetPresence { user_ids } => {
                let state = self.state.clone();
                let user = self.user_id;
                return Action::Pending(Box::pin(async move {
                    state.presence.get_presence(user, user_ids).await
                }));
            }
        };
        let state = self.state.clone();
        let connection = self.connection_id;
        Action::Pending(Box::pin(async move {
            state.chat.call(Some(connection), command).await
        }))
    }

    /// Typing goes only to contacts, is never stored, and is thinned out per recipient.
    fn typing(&mut self, started: bool, recipient: Uuid) -> Action {
        let event = if started {
            "user_typing"
        } else {
            "user_stop_typing"
        };
        if recipient == self.user_id {
            return Action::Reply(Err(WireError::new(
                ErrorCode::InvalidRequest,
                "recipientId must be another user",
            )));
        }
        if let Err(e) = self.state.check_typing_rate(self.user_id) {
            return Action::Reply(Err(e));
        }
        let relay = if started {
            let now = Instant::now();
            let recent = self
                .typing_to
                .get(&recipient)
                .is_some_and(|last| now.duration_since(*last) < TYPING_RELAY_INTERVAL);
            if !recent {
                self.typing_to.insert(recipient, now);
            }
            !recent
        } else {
            self.typing_to.remove(&recipient).is_some()
        };
        let state = self.state.clone();
        let user = self.user_id;
        Action::Pending(Box::pin(async move {
            if !state.presence.is_contact(user, recipient).await? {
                return Err(WireError::new(
                    ErrorCode::Forbidden,
                    "typing indicators go only to contacts",
                ));
            }
            if relay {
                state.presence.relay(event, user, recipient).await;
            }
            Ok(Bytes::from_static(b"{}"))
        }))
    }

    fn refresh_token(&mut self, raw: &str) -> Result<Bytes, WireError> {
        let token = self
            .state
            .verifier
            .verify(raw)
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
