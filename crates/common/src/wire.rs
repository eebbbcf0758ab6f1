//! The wire protocol's shared vocabulary (SPEC §2): error codes, the message object, and
//! the time format. The chat service renders these; the gateway forwards them.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use switchboard_proto::chat::v1 as pb;

/// Every error code a client can see.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    Unauthorized,
    Forbidden,
    InvalidRequest,
    NotFound,
    TooLarge,
    RateLimited,
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::InvalidRequest => "invalid_request",
            Self::NotFound => "not_found",
            Self::TooLarge => "too_large",
            Self::RateLimited => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }

    /// The HTTP status of the REST endpoints for this code (SPEC §3).
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidRequest => 400,
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::TooLarge => 413,
            Self::RateLimited => 429,
            Self::Unavailable => 503,
            Self::Internal => 500,
        }
    }

    pub fn to_proto(self) -> pb::ErrorCode {
        match self {
            Self::Unauthorized => pb::ErrorCode::Unauthorized,
            Self::Forbidden => pb::ErrorCode::Forbidden,
            Self::InvalidRequest => pb::ErrorCode::InvalidRequest,
            Self::NotFound => pb::ErrorCode::NotFound,
            Self::TooLarge => pb::ErrorCode::TooLarge,
            Self::RateLimited => pb::ErrorCode::RateLimited,
            Self::Unavailable => pb::ErrorCode::Unavailable,
            Self::Internal => pb::ErrorCode::Internal,
        }
    }

    pub fn from_proto(code: pb::ErrorCode) -> Self {
        match code {
            pb::ErrorCode::Unauthorized => Self::Unauthorized,
            pb::ErrorCode::Forbidden => Self::Forbidden,
            pb::ErrorCode::InvalidRequest => Self::InvalidRequest,
            pb::ErrorCode::NotFound => Self::NotFound,
            pb::ErrorCode::TooLarge => Self::TooLarge,
            pb::ErrorCode::RateLimited => Self::RateLimited,
            pb::ErrorCode::Unavailable => Self::Unavailable,
            pb::ErrorCode::Internal | pb::ErrorCode::Unspecified => Self::Internal,
        }
    }
}

/// `{code, message}`: the body of an error ack, an `error` event and a REST error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WireError {
    pub code: ErrorCode,
    pub message: String,
}

impl WireError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn to_proto(&self) -> pb::CommandError {
        pb::CommandError {
            code: self.code.to_proto() as i32,
            message: self.message.clone(),
        }
    }

    pub fn from_proto(err: &pb::CommandError) -> Self {
        let code = pb::ErrorCode::try_from(err.code).unwrap_or(pb::ErrorCode::Internal);
        Self::new(ErrorCode::from_proto(code), err.message.clone())
    }
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

/// RFC 3339, UTC, milliseconds: `2026-12-01T18:36:17.123Z`.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The message object of SPEC §2.3.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageJson<'a> {
    pub id: String,
    pub sender_id: String,
    pub recipient_id: String,
    pub content: &'a str,
    pub created_at: String,
    pub read_at: Option<String>,
    pub client_msg_id: Option<&'a str>,
}

/// The ack data of `send_message`, `{"message": <message object>}`, from the message
/// object's JSON (chat renders it once; the gateway may get it from the `message_sent`
/// delivery instead of a reply).
pub fn send_ack_json(message: &[u8]) -> Vec<u8> {
    let mut json = Vec::with_capacity(message.len() + 12);
    json.extend_from_slice(b"{\"message\":");
    json.extend_from_slice(message);
    json.push(b'}');
    json
}

/// The `message_read` event's data.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageReadJson {
    pub message_id: String,
    pub reader_id: String,
    pub read_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn times_have_milliseconds_and_z() {
        let t = Utc.with_ymd_and_hms(2026, 12, 1, 18, 36, 17).unwrap()
            + chrono::Duration::milliseconds(5);
        assert_eq!(format_time(t), "2026-12-01T18:36:17.005Z");
    }

    #[test]
    fn codes_round_trip_through_proto() {
        for code in [
            ErrorCode::Unauthorized,
            ErrorCode::Forbidden,
            ErrorCode::InvalidRequest,
            ErrorCode::NotFound,
            ErrorCode::TooLarge,
            ErrorCode::RateLimited,
            ErrorCode::Unavailable,
            ErrorCode::Internal,
        ] {
            assert_eq!(ErrorCode::from_proto(code.to_proto()), code);
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
    }
}
