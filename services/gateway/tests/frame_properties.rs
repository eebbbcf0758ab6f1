//! Property tests of the frame decoders (SPEC §2.1, §2.2): whatever a client sends, a
//! frame decodes to a request or to an error with a protocol code, never a panic; text
//! that is not UTF-8 never reaches a decoder.

use futures_util::StreamExt as _;
use proptest::prelude::*;
use serde_json::{Value, json};
use switchboard_common::wire::ErrorCode;
use switchboard_gateway::ws::native::{self, Inbound};
use switchboard_gateway::ws::session::{CLIENT_EVENTS, Request};
use switchboard_gateway::ws::socketio::{self, Packet};
use tokio::io::AsyncWriteExt as _;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// Any JSON value, with the protocol's field names among the keys.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        any::<String>().prop_map(Value::from),
        Just(json!("0190a6f2-8b1c-7d3e-9f40-1a2b3c4d5e6f")),
    ];
    let key = prop_oneof![
        prop::sample::select(vec![
            "recipientId",
            "content",
            "clientMsgId",
            "messageId",
            "peerId",
            "upToMessageId",
            "after",
            "before",
            "limit",
            "userIds",
            "token",
            "senderId",
            "readerId",
            "userId",
        ])
        .prop_map(str::to_owned),
        any::<String>(),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::from),
            prop::collection::btree_map(key.clone(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn event_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(CLIENT_EVENTS.to_vec()).prop_map(str::to_owned),
        Just("auth".to_owned()),
        any::<String>(),
    ]
}

/// An event's outcome: a request, or `invalid_request` with a reason.
fn check_event(
    name: &str,
    data: Option<&serde_json::value::RawValue>,
) -> Result<(), TestCaseError> {
    if let Err(e) = Request::parse(name, data) {
        prop_assert_eq!(e.code, ErrorCode::InvalidRequest, "{}: {}", name, e);
        prop_assert!(!e.message.is_empty());
    }
    Ok(())
}

fn check_native(text: &str) -> Result<(), TestCaseError> {
    match native::decode(text) {
        Inbound::Event { name, data, .. } => check_event(&name, data.as_deref()),
        Inbound::Malformed { message, .. } => {
            prop_assert!(!message.is_empty());
            Ok(())
        }
    }
}

fn check_socketio(text: &str) -> Result<(), TestCaseError> {
    match socketio::decode(text) {
        Packet::Message(Inbound::Event { name, data, .. }) => check_event(&name, data.as_deref()),
        Packet::Message(Inbound::Malformed { message, .. }) => {
            prop_assert!(!message.is_empty());
            Ok(())
        }
        _ => Ok(()),
    }
}

/// A masked client text frame (or its first fragment) carrying `payload` as it is.
fn raw_frame(first: bool, fin: bool, payload: &[u8]) -> Vec<u8> {
    let opcode = if first { 0x1 } else { 0x0 };
    let mut out = vec![if fin { 0x80 | opcode } else { opcode }];
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    }
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// What the server side of a WebSocket reads from `wire`.
fn server_reads(wire: Vec<u8>) -> Option<Result<Message, WsError>> {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(async move {
            let (mut client, server) = tokio::io::duplex(1 << 17);
            client.write_all(&wire).await.expect("write");
            let mut ws = WebSocketStream::from_raw_socket(server, Role::Server, None).await;
            ws.next().await
        })
}

proptest! {
    #[test]
    fn any_text_is_a_request_or_an_error_in_both_framings(text in any::<String>()) {
        check_native(&text)?;
        check_socketio(&text)?;
        check_socketio(&format!("4{text}"))?;
        check_socketio(&format!("42{text}"))?;
    }

    #[test]
    fn any_json_frame_is_a_request_or_an_error(
        name in event_name(),
        data in json_value(),
        ack in prop_oneof![Just(None), any::<u64>().prop_map(|a| Some(json!(a))), json_value().prop_map(Some)],
        whole in json_value(),
    ) {
        let mut frame = json!({ "event": name, "data": data });
        if let Some(a) = &ack {
            frame["ack"] = a.clone();
        }
        check_native(&frame.to_string())?;
        check_native(&whole.to_string())?;
        let ack_digits = ack.as_ref().and_then(Value::as_u64).map(|a| a.to_string()).unwrap_or_default();
        check_socketio(&format!("42{ack_digits}{}", json!([name, data])))?;
        check_socketio(&format!("42{whole}"))?;
        check_socketio(&format!("40{whole}"))?;
    }

    #[test]
    fn well_typed_data_makes_the_request_it_names(
        id in any::<String>(),
        content in any::<String>(),
        client_msg_id in proptest::option::of(any::<String>()),
        limit in proptest::option::of(any::<u32>()),
        user_ids in prop::collection::vec(any::<String>(), 0..5),
    ) {
        let uuid = "0190a6f2-8b1c-7d3e-9f40-1a2b3c4d5e6f";
        let cases = [
            ("send_message", json!({"recipientId": id, "content": content, "clientMsgId": client_msg_id, "senderId": uuid})),
            ("mark_message_read", json!({"messageId": id})),
            ("mark_conversation_read", json!({"peerId": id, "upToMessageId": id})),
            ("sync", json!({"after": id, "limit": limit})),
            ("history", json!({"peerId": id, "before": id, "limit": limit})),
            ("refresh_token", json!({"token": id})),
            ("user_typing", json!({"recipientId": uuid})),
            ("user_stop_typing", json!({"recipientId": uuid})),
            ("get_presence", json!({"userIds": user_ids})),
        ];
        for (event, data) in cases {
            let frame = json!({"event": event, "data": data, "ack": 1}).to_string();
            let Inbound::Event { name, data, ack } = native::decode(&frame) else {
                return Err(TestCaseError::fail(format!("{frame} is not an event")));
            };
            prop_assert_eq!(ack, Some(1));
            match Request::parse(&name, data.as_deref()) {
                Ok(Request::SendMessage(d)) => {
                    // Strings pass through untouched; the chat service judges them.
                    prop_assert_eq!(&d.content, &content);
                    prop_assert_eq!(&d.client_msg_id, &client_msg_id);
                }
                Ok(_) => {}
                Err(e) => return Err(TestCaseError::fail(format!("{frame}: {e}"))),
            }
        }
    }

    #[test]
    fn text_frames_that_are_not_utf8_never_reach_a_decoder(payload in prop::collection::vec(any::<u8>(), 0..300)) {
        match server_reads(raw_frame(true, true, &payload)) {
            Some(Ok(Message::Text(text))) => {
                prop_assert_eq!(text.as_bytes(), &payload[..]);
                check_native(text.as_str())?;
                check_socketio(text.as_str())?;
            }
            Some(Err(WsError::Utf8(_))) => prop_assert!(std::str::from_utf8(&payload).is_err()),
            other => return Err(TestCaseError::fail(format!("unexpected {other:?}"))),
        }
    }

    #[test]
    fn a_character_split_across_fragments_is_still_one_text(text in any::<String>(), at in any::<prop::sample::Index>()) {
        let bytes = text.as_bytes();
        let cut = at.index(bytes.len() + 1);
        let mut wire = raw_frame(true, false, &bytes[..cut]);
        wire.extend(raw_frame(false, true, &bytes[cut..]));
        match server_reads(wire) {
            Some(Ok(Message::Text(t))) => prop_assert_eq!(t.as_str(), text.as_str()),
            other => return Err(TestCaseError::fail(format!("unexpected {other:?}"))),
        }
    }
}

#[test]
fn invalid_utf8_inside_otherwise_valid_json_is_refused_by_the_socket() {
    let mut payload = br#"{"event":"send_message","data":{"content":""#.to_vec();
    payload.extend_from_slice(&[0xC3, 0x28, 0xFF]);
    payload.extend_from_slice(br#""}}"#);
    assert!(matches!(
        server_reads(raw_frame(true, true, &payload)),
        Some(Err(WsError::Utf8(_)))
    ));
}
