//! The native framing (SPEC §2.1): one JSON object per text frame.
//!
//! Client → server `{"event":NAME,"data":{…},"ack":N}`; server → client
//! `{"event":NAME,"data":{…}}`, `{"ack":N,"data":{…}}`, `{"ack":N,"error":{code,message}}`.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;
use switchboard_common::wire::{ErrorCode, WireError};
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// One decoded client frame.
#[derive(Debug)]
pub enum Inbound {
    Event {
        name: String,
        data: Option<Box<RawValue>>,
        ack: Option<u64>,
    },
    /// Not a usable frame; answered with an error ack when it carried an ack id.
    Malformed { ack: Option<u64>, message: String },
}

#[derive(Deserialize)]
struct RawFrame {
    event: Option<Box<RawValue>>,
    data: Option<Box<RawValue>>,
    ack: Option<Box<RawValue>>,
}

pub fn decode(text: &str) -> Inbound {
    let frame: RawFrame = match serde_json::from_str(text) {
        Ok(f) => f,
        Err(e) => {
            return Inbound::Malformed {
                ack: None,
                message: format!("frame must be a JSON object {{\"event\",\"data\",\"ack\"}}: {e}"),
            };
        }
    };
    let ack = match frame.ack.as_deref().map(RawValue::get) {
        None | Some("null") => None,
        Some(raw) => match raw.parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => {
                return Inbound::Malformed {
                    ack: None,
                    message: "ack must be a non-negative integer".into(),
                };
            }
        },
    };
    let name = match frame
        .event
        .as_deref()
        .map(|r| serde_json::from_str::<String>(r.get()))
    {
        Some(Ok(name)) if !name.is_empty() => name,
        _ => {
            return Inbound::Malformed {
                ack,
                message: "event must be a non-empty string".into(),
            };
        }
    };
    let data = frame.data.filter(|d| d.get() != "null");
    Inbound::Event { name, data, ack }
}

/// `{"event":NAME,"data":DATA}`; `data` is already JSON.
pub fn encode_event(event: &str, data: &[u8]) -> Utf8Bytes {
    let name = serde_json::to_string(event).expect("a string serialises");
    let mut out = Vec::with_capacity(data.len() + name.len() + 20);
    out.extend_from_slice(b"{\"event\":");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b",\"data\":");
    out.extend_from_slice(data);
    out.push(b'}');
    text(out)
}

/// The answer to a client frame that carried `ack`.
pub fn encode_ack(ack: u64, result: &Result<Bytes, WireError>) -> Utf8Bytes {
    match result {
        Ok(data) => {
            let mut out = Vec::with_capacity(data.len() + 32);
            out.extend_from_slice(format!("{{\"ack\":{ack},\"data\":").as_bytes());
            out.extend_from_slice(data);
            out.push(b'}');
            text(out)
        }
        Err(e) => text(
            serde_json::to_vec(&serde_json::json!({ "ack": ack, "error": e })).expect("serialises"),
        ),
    }
}

/// An `error` event, for failures of frames without an ack.
pub fn encode_error(e: &WireError) -> Utf8Bytes {
    encode_event("error", &serde_json::to_vec(e).expect("serialises"))
}

/// Error for a frame the gateway cannot use at all.
pub fn invalid(message: impl Into<String>) -> WireError {
    WireError::new(ErrorCode::InvalidRequest, message)
}

fn text(bytes: Vec<u8>) -> Utf8Bytes {
    // Everything written here is built from valid UTF-8 pieces.
    Utf8Bytes::try_from(Bytes::from(bytes)).expect("frames are UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_events_with_and_without_ack() {
        match decode(r#"{"event":"sync","data":{"limit":5},"ack":7}"#) {
            Inbound::Event { name, data, ack } => {
                assert_eq!(name, "sync");
                assert_eq!(data.unwrap().get(), r#"{"limit":5}"#);
                assert_eq!(ack, Some(7));
            }
            other => panic!("unexpected {other:?}"),
        }
        match decode(r#"{"event":"sync"}"#) {
            Inbound::Event { data, ack, .. } => {
                assert!(data.is_none());
                assert!(ack.is_none());
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn malformed_frames_keep_a_usable_ack() {
        assert!(matches!(
            decode("not json"),
            Inbound::Malformed { ack: None, .. }
        ));
        assert!(matches!(
            decode("[1,2]"),
            Inbound::Malformed { ack: None, .. }
        ));
        assert!(matches!(
            decode(r#"{"event":"x","ack":-1}"#),
            Inbound::Malformed { ack: None, .. }
        ));
        assert!(matches!(
            decode(r#"{"event":"x","ack":1.5}"#),
            Inbound::Malformed { ack: None, .. }
        ));
        assert!(matches!(
            decode(r#"{"event":5,"ack":3}"#),
            Inbound::Malformed { ack: Some(3), .. }
        ));
        assert!(matches!(
            decode(r#"{"ack":4}"#),
            Inbound::Malformed { ack: Some(4), .. }
        ));
    }

    #[test]
    fn encodes_frames() {
        assert_eq!(
            encode_event("message_read", br#"{"a":1}"#).as_str(),
            r#"{"event":"message_read","data":{"a":1}}"#
        );
        assert_eq!(
            encode_ack(3, &Ok(Bytes::from_static(b"{}"))).as_str(),
            r#"{"ack":3,"data":{}}"#
        );
        let err = encode_ack(4, &Err(WireError::new(ErrorCode::NotFound, "gone")));
        let v: serde_json::Value = serde_json::from_str(err.as_str()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"ack":4,"error":{"code":"not_found","message":"gone"}})
        );
    }
}
