//! What the fuzz targets share: the checks every decoded client frame must pass, whatever
//! its framing, and the rules of the domain values restated independently so a target can
//! compare the real validation against them.
//!
//! - [`jwt`] — the verifiers of the JWT targets.

pub mod jwt;

use switchboard_common::domain::{
    ClientMsgId, MAX_CLIENT_MSG_ID_CHARS, MAX_CONTENT_CHARS, MessageContent,
};
use switchboard_common::wire::{ErrorCode, WireError};
use switchboard_gateway::ws::native::{self, Inbound};
use switchboard_gateway::ws::session::Request;
use switchboard_gateway::ws::socketio::{self, Packet};

/// The framing a frame arrived in, for checking the error reply it gets.
#[derive(Clone, Copy, Debug)]
pub enum Framing {
    Native,
    SocketIo,
}

/// A decoded client frame either is an event whose data makes a request or an
/// `invalid_request`, or is malformed and gets a well-formed `invalid_request` reply.
pub fn check_inbound(inbound: &Inbound, framing: Framing) {
    match inbound {
        Inbound::Malformed { ack, message } => {
            assert!(!message.is_empty(), "a refusal says why");
            check_error_reply(*ack, &native::invalid(message.clone()), framing);
        }
        Inbound::Event { name, data, ack } => match Request::parse(name, data.as_deref()) {
            Ok(request) => check_request(&request),
            Err(e) => {
                assert_eq!(e.code, ErrorCode::InvalidRequest, "{name}: {e}");
                check_error_reply(*ack, &e, framing);
            }
        },
    }
}

/// What a parsed request carries passes or fails the domain rules exactly as restated here.
fn check_request(request: &Request) {
    if let Request::SendMessage(d) = request {
        let content = MessageContent::parse(d.content.clone(), MAX_CONTENT_CHARS);
        assert_eq!(
            content.is_ok(),
            content_allowed(&d.content, MAX_CONTENT_CHARS),
            "content {:?}",
            d.content
        );
        if let Ok(c) = content {
            assert_eq!(c.as_str(), d.content, "content is stored as sent");
        }
        if let Some(id) = &d.client_msg_id {
            assert_eq!(
                ClientMsgId::parse(id.clone()).is_ok(),
                client_msg_id_allowed(id),
                "clientMsgId {id:?}"
            );
        }
    }
}

/// The error a client gets is valid JSON in its framing and carries the code.
pub fn check_error_reply(ack: Option<u64>, e: &WireError, framing: Framing) {
    let code = e.code.as_str();
    match (framing, ack) {
        (Framing::Native, Some(ack)) => {
            let v: serde_json::Value =
                serde_json::from_str(native::encode_ack(ack, &Err(e.clone())).as_str())
                    .expect("an error ack is JSON");
            assert_eq!(v["ack"], ack);
            assert_eq!(v["error"]["code"], code);
        }
        (Framing::Native, None) => {
            let v: serde_json::Value =
                serde_json::from_str(native::encode_error(e).as_str()).expect("JSON");
            assert_eq!(v["event"], "error");
            assert_eq!(v["data"]["code"], code);
        }
        (Framing::SocketIo, Some(ack)) => {
            let frame = socketio::encode_ack(ack, &Err(e.clone()));
            let body = frame
                .as_str()
                .strip_prefix(&format!("43{ack}"))
                .expect("an ACK packet");
            let v: serde_json::Value = serde_json::from_str(body).expect("JSON");
            assert_eq!(v[0]["error"]["code"], code);
            // A client's decoder would read it as an ACK, which the server ignores too.
            assert!(matches!(socketio::decode(frame.as_str()), Packet::Noop));
        }
        (Framing::SocketIo, None) => {
            let frame = socketio::encode_error(e);
            match socketio::decode(frame.as_str()) {
                Packet::Message(Inbound::Event { name, data, ack }) => {
                    assert_eq!(name, "error");
                    assert_eq!(ack, None);
                    let v: serde_json::Value =
                        serde_json::from_str(data.expect("data").get()).expect("JSON");
                    assert_eq!(v["code"], code);
                }
                other => panic!("error event decoded as {other:?}"),
            }
        }
    }
}

/// SPEC §2.4, restated: 1 to `max` characters (not bytes), not only whitespace, no
/// control characters other than tab, newline and carriage return.
pub fn content_allowed(s: &str, max: usize) -> bool {
    s.chars().any(|c| !c.is_whitespace())
        && s.chars().count() <= max
        && s.chars()
            .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
}

/// SPEC §2.3, restated: 1 to 64 characters the client chose, none of them a control.
pub fn client_msg_id_allowed(s: &str) -> bool {
    let n = s.chars().count();
    (1..=MAX_CLIENT_MSG_ID_CHARS).contains(&n) && !s.chars().any(char::is_control)
}
