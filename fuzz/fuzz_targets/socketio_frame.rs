//! The Engine.IO / Socket.IO decoder (`/socket.io/`): any text frame is a known packet,
//! an event, or a malformed frame with a well-formed `invalid_request` reply, never a
//! panic; events, acks and CONNECTs re-encoded decode to the same packet.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_common::wire::{ErrorCode, WireError};
use switchboard_fuzz::{Framing, check_inbound};
use switchboard_gateway::ws::native::Inbound;
use switchboard_gateway::ws::socketio::{self, Packet};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let packet = socketio::decode(text);
    match &packet {
        Packet::Ping => assert!(text.starts_with('2')),
        Packet::Pong => assert!(text.starts_with('3')),
        Packet::Close => assert!(text.starts_with('1') || text.starts_with("41")),
        Packet::Noop => assert!(text.starts_with('6') || text.starts_with("43")),
        Packet::Connect { token } => {
            assert!(text.starts_with("40"));
            let again = match token {
                Some(t) => format!("40{}", serde_json::json!({ "token": t })),
                None => "40".to_owned(),
            };
            match socketio::decode(&again) {
                Packet::Connect { token: t2 } => assert_eq!(&t2, token),
                other => panic!("{again:?} decodes as {other:?}"),
            }
        }
        Packet::ConnectElsewhere { namespace } => {
            assert!(namespace.starts_with('/') && namespace != "/");
            let refusal =
                socketio::connect_error(namespace, &WireError::new(ErrorCode::NotFound, "x"));
            let body = refusal
                .as_str()
                .strip_prefix(&format!("44{namespace},"))
                .expect("CONNECT_ERROR names the namespace");
            let v: serde_json::Value = serde_json::from_str(body).expect("JSON");
            assert_eq!(v["data"]["code"], "not_found");
            let again = format!("40{namespace},");
            match socketio::decode(&again) {
                Packet::ConnectElsewhere { namespace: n2 } => assert_eq!(&n2, namespace),
                other => panic!("{again:?} decodes as {other:?}"),
            }
        }
        Packet::Message(inbound) => {
            check_inbound(inbound, Framing::SocketIo);
            if let Inbound::Event { name, data, ack } = inbound {
                round_trip(name, data.as_ref().map(|d| d.get()), *ack);
            }
        }
    }
});

/// `42[<id>]["name",data]` spelled anew decodes to the same event.
fn round_trip(name: &str, data: Option<&str>, ack: Option<u64>) {
    let name_json = serde_json::to_string(name).expect("a string serialises");
    let frame = match (ack, data) {
        (None, Some(d)) => socketio::encode_event(name, d.as_bytes())
            .as_str()
            .to_owned(),
        (None, None) => format!("42[{name_json}]"),
        (Some(a), Some(d)) => format!("42{a}[{name_json},{d}]"),
        (Some(a), None) => format!("42{a}[{name_json}]"),
    };
    match socketio::decode(&frame) {
        Packet::Message(Inbound::Event {
            name: n2,
            data: d2,
            ack: a2,
        }) => {
            assert_eq!(n2, name);
            assert_eq!(d2.as_ref().map(|d| d.get()), data);
            assert_eq!(a2, ack);
        }
        other => panic!("{frame:?} decodes as {other:?}"),
    }
}
