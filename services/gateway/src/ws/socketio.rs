//! The Socket.IO framing (SPEC §2.2): Engine.IO v4 + Socket.IO v5 over the websocket
//! transport, so the official `socket.io-client` connects with `transports: ["websocket"]`.
//!
//! Engine.IO packets are one WebSocket text frame each: `0` open, `1` close, `2` ping,
//! `3` pong, `4` message, `6` noop. A message carries a Socket.IO packet:
//! `<type>[<namespace>,][<ack id>][JSON]` with types `0` CONNECT, `1` DISCONNECT, `2` EVENT,
//! `3` ACK, `4` CONNECT_ERROR, `5`/`6` binary (refused here). Only the main namespace `/`
//! exists. Events and acks map 1:1 onto the native event model.

use bytes::Bytes;
use serde_json::value::RawValue;
use switchboard_common::wire::{ErrorCode, WireError};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::ws::native::Inbound;

/// The Engine.IO open packet.
pub fn open_packet(
    sid: &str,
    ping_interval_ms: u128,
    ping_timeout_ms: u128,
    max_payload: usize,
) -> Utf8Bytes {
    let body = serde_json::json!({
        "sid": sid,
        "upgrades": [],
        "pingInterval": ping_interval_ms,
        "pingTimeout": ping_timeout_ms,
        "maxPayload": max_payload,
    });
    format!("0{body}").into()
}

/// What a client frame is, at the Engine.IO and Socket.IO level.
#[derive(Debug)]
pub enum Packet {
    /// Engine.IO `2`: answer `3`.
    Ping,
    /// Engine.IO `3`.
    Pong,
    /// Engine.IO `1` or Socket.IO DISCONNECT: the client is leaving.
    Close,
    /// Engine.IO `6`, or a client ACK (the server never asks for one).
    Noop,
    /// CONNECT to the main namespace, with its auth payload's token if any.
    Connect { token: Option<String> },
    /// CONNECT to a namespace that does not exist.
    ConnectElsewhere { namespace: String },
    /// EVENT (or a frame that should have been one).
    Message(Inbound),
}

pub fn decode(text: &str) -> Packet {
    let mut chars = text.chars();
    match chars.next() {
        Some('1') => return Packet::Close,
        Some('2') => return Packet::Ping,
        Some('3') => return Packet::Pong,
        Some('6') => return Packet::Noop,
        Some('4') => {}
        _ => {
            return Packet::Message(Inbound::Malformed {
                ack: None,
                message: "not an Engine.IO packet".into(),
            });
        }
    }
    let packet = &text[1..];
    let Some(kind) = packet.chars().next() else {
        return malformed(None, "empty Socket.IO packet");
    };
    // The type may be any character a client sends, not only an ASCII digit.
    let rest = &packet[kind.len_utf8()..];
    let (namespace, rest) = split_namespace(rest);
    match kind {
        '0' => {
            if namespace != "/" {
                return Packet::ConnectElsewhere {
                    namespace: namespace.to_owned(),
                };
            }
            #[derive(serde::Deserialize)]
            struct Auth {
                token: Option<String>,
            }
            let token = if rest.trim().is_empty() {
                None
            } else {
                serde_json::from_str::<Auth>(rest)
                    .ok()
                    .and_then(|a| a.token)
            };
            Packet::Connect { token }
        }
        '1' => Packet::Close,
        '2' => {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let ack = if digits > 0 {
                match rest[..digits].parse::<u64>() {
                    Ok(n) => Some(n),
                    Err(_) => return malformed(None, "ack id out of range"),
                }
            } else {
                None
            };
            if namespace != "/" {
                return malformed(ack, &format!("namespace {namespace:?} does not exist"));
            }
            let args: Vec<Box<RawValue>> = match serde_json::from_str(&rest[digits..]) {
                Ok(a) => a,
                Err(_) => return malformed(ack, "an EVENT carries a JSON array [name, data]"),
            };
            let Some(name) = args
                .first()
                .and_then(|n| serde_json::from_str::<String>(n.get()).ok())
            else {
                return malformed(ack, "the first element of an EVENT is its name");
            };
            let data = args.into_iter().nth(1).filter(|d| d.get() != "null");
            Packet::Message(Inbound::Event { name, data, ack })
        }
        '3' => Packet::Noop,
        '5' | '6' => malformed(None, "binary events are not supported; send JSON"),
        _ => malformed(None, "unknown Socket.IO packet type"),
    }
}

fn malformed(ack: Option<u64>, message: &str) -> Packet {
    Packet::Message(Inbound::Malformed {
        ack,
        message: message.to_owned(),
    })
}

/// `/admin,rest` → (`/admin`, `rest`); no namespace means `/`.
fn split_namespace(rest: &str) -> (&str, &str) {
    if rest.starts_with('/') {
        match rest.find(',') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        }
    } else {
        ("/", rest)
    }
}

/// `40{"sid":…}`: the main namespace is joined.
pub fn connect_ok(socket_id: &str) -> Utf8Bytes {
    format!("40{}", serde_json::json!({ "sid": socket_id })).into()
}

/// `44[/ns,]{"message":…,"data":{"code":…}}`.
pub fn connect_error(namespace: &str, error: &WireError) -> Utf8Bytes {
    let body = serde_json::json!({ "message": error.message, "data": { "code": error.code } });
    if namespace == "/" {
        format!("44{body}").into()
    } else {
        format!("44{namespace},{body}").into()
    }
}

/// `42["event",data]`.
pub fn encode_event(event: &str, data: &[u8]) -> Utf8Bytes {
    let name = serde_json::to_string(event).expect("a string serialises");
    let mut out = Vec::with_capacity(data.len() + name.len() + 6);
    out.extend_from_slice(b"42[");
    out.extend_from_slice(name.as_bytes());
    out.push(b',');
    out.extend_from_slice(data);
    out.push(b']');
    text(out)
}

/// `43<id>[data]`, or `43<id>[{"error":{code,message}}]`.
pub fn encode_ack(ack: u64, result: &Result<Bytes, WireError>) -> Utf8Bytes {
    let mut out = format!("43{ack}[").into_bytes();
    match result {
        Ok(data) => out.extend_from_slice(data),
        Err(e) => out.extend_from_slice(
            &serde_json::to_vec(&serde_json::json!({ "error": e })).expect("serialises"),
        ),
    }
    out.push(b']');
    text(out)
}

/// `42["error",{code,message}]`.
pub fn encode_error(e: &WireError) -> Utf8Bytes {
    encode_event("error", &serde_json::to_vec(e).expect("serialises"))
}

/// Socket.IO DISCONNECT from the server: the client does not reconnect on its own.
pub const DISCONNECT: &str = "41";
/// Engine.IO ping, sent by the server in v4.
pub const PING: &str = "2";
/// Engine.IO pong, the answer to a client's ping.
pub const PONG: &str = "3";

/// The Engine.IO error answer to an HTTP request this gateway will not serve.
pub fn http_error(code: u8, message: &str) -> String {
    serde_json::json!({ "code": code, "message": message }).to_string()
}

/// Error for a CONNECT whose token is missing or bad.
pub fn unauthorized(message: impl Into<String>) -> WireError {
    WireError::new(ErrorCode::Unauthorized, message)
}

fn text(bytes: Vec<u8>) -> Utf8Bytes {
    Utf8Bytes::try_from(Bytes::from(bytes)).expect("frames are UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(text: &str) -> (String, Option<String>, Option<u64>) {
        match decode(text) {
            Packet::Message(Inbound::Event { name, data, ack }) => {
                (name, data.map(|d| d.get().to_owned()), ack)
            }
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn engine_io_packets() {
        assert!(matches!(decode("2"), Packet::Ping));
        assert!(matches!(decode("3"), Packet::Pong));
        assert!(matches!(decode("1"), Packet::Close));
        assert!(matches!(decode("6"), Packet::Noop));
        let open = open_packet("lv_VI97HAXpY6yYWAAAC", 25000, 20000, 1000000);
        assert_eq!(
            open.as_str(),
            r#"0{"maxPayload":1000000,"pingInterval":25000,"pingTimeout":20000,"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":[]}"#
        );
    }

    #[test]
    fn connect_packets_from_the_protocol_documents() {
        assert!(matches!(decode("40"), Packet::Connect { token: None }));
        match decode(r#"40{"token":"123"}"#) {
            Packet::Connect { token } => assert_eq!(token.as_deref(), Some("123")),
            other => panic!("{other:?}"),
        }
        match decode("40/admin,") {
            Packet::ConnectElsewhere { namespace } => assert_eq!(namespace, "/admin"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            connect_ok("wZX3oN0bSVIhsaknAAAI").as_str(),
            r#"40{"sid":"wZX3oN0bSVIhsaknAAAI"}"#
        );
        let err = connect_error("/", &unauthorized("Not authorized"));
        assert_eq!(
            err.as_str(),
            r#"44{"data":{"code":"unauthorized"},"message":"Not authorized"}"#
        );
        assert!(
            connect_error("/admin", &unauthorized("x"))
                .as_str()
                .starts_with("44/admin,{")
        );
    }

    #[test]
    fn events_and_acks_from_the_protocol_documents() {
        assert_eq!(
            event(r#"42["hey","Jude"]"#),
            ("hey".into(), Some(r#""Jude""#.into()), None)
        );
        assert_eq!(event(r#"4212["foo"]"#), ("foo".into(), None, Some(12)));
        assert_eq!(
            event(r#"421["send_message",{"recipientId":"x","content":"hi"}]"#),
            (
                "send_message".into(),
                Some(r#"{"recipientId":"x","content":"hi"}"#.into()),
                Some(1)
            )
        );
        assert!(matches!(
            decode(r#"42/admin,1["tellme"]"#),
            Packet::Message(Inbound::Malformed { ack: Some(1), .. })
        ));
        assert!(matches!(decode("43/admin,13[\"bar\"]"), Packet::Noop));
        assert!(matches!(
            decode(r#"451-["baz",{"_placeholder":true,"num":0}]"#),
            Packet::Message(Inbound::Malformed { .. })
        ));
        assert!(matches!(decode("41"), Packet::Close));
        assert!(matches!(
            decode("4"),
            Packet::Message(Inbound::Malformed { .. })
        ));
        assert!(matches!(
            decode("42nonsense"),
            Packet::Message(Inbound::Malformed { .. })
        ));
        assert!(matches!(
            decode("x"),
            Packet::Message(Inbound::Malformed { .. })
        ));
        // A multi-byte packet type used to panic on a char boundary.
        assert!(matches!(
            decode("4é"),
            Packet::Message(Inbound::Malformed { .. })
        ));
        assert!(matches!(
            decode("4😀[\"x\"]"),
            Packet::Message(Inbound::Malformed { .. })
        ));

        assert_eq!(
            encode_event("message_read", br#"{"a":1}"#).as_str(),
            r#"42["message_read",{"a":1}]"#
        );
        assert_eq!(
            encode_ack(12, &Ok(Bytes::from_static(b"{}"))).as_str(),
            "4312[{}]"
        );
        let e = encode_ack(13, &Err(WireError::new(ErrorCode::NotFound, "gone")));
        assert_eq!(
            e.as_str(),
            r#"4313[{"error":{"code":"not_found","message":"gone"}}]"#
        );
        assert_eq!(
            encode_error(&WireError::new(ErrorCode::InvalidRequest, "bad")).as_str(),
            r#"42["error",{"code":"invalid_request","message":"bad"}]"#
        );
    }
}
