//! Hostile input against a real gateway, for what the fuzzers and property tests found:
//! each case leaves the connection usable (or closes only it, with a code), and the
//! user's presence right afterwards, so nothing was left half-registered.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use switchboard_test_support::stack::{Stack, StackOptions};
use switchboard_test_support::ws::WsClient;
use switchboard_test_support::{token, token_with};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

async fn stack() -> Stack {
    Stack::start_with(StackOptions {
        chat_replicas: 1,
        gateway_replicas: 1,
        ..StackOptions::default()
    })
    .await
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text frame other than an Engine.IO ping.
async fn read(ws: &mut Socket) -> String {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) if t.as_str() != "2" => return t.to_string(),
            Ok(Some(Ok(Message::Text(_)))) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// Bob writes to Alice (a known user), so Bob hears of Alice going offline.
async fn contacts(stack: &Stack, alice: Uuid, bob: Uuid) -> WsClient {
    let mut b = WsClient::connect(&stack.ws_url(0), &token(bob)).await;
    b.ok(
        "send_message",
        json!({"recipientId": alice, "content": "hi"}),
    )
    .await;
    b
}

#[tokio::test]
async fn a_socket_io_packet_type_beyond_ascii_gets_an_error_and_the_connection_lives_on() {
    let stack = stack().await;
    let (alice, bob) = (stack.create_user("applicant").await, Uuid::now_v7());
    let mut bob_ws = contacts(&stack, alice, bob).await;
    let url = format!(
        "ws://{}/socket.io/?EIO=4&transport=websocket",
        stack.gateways[0].addr("http")
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("upgrade");
    assert!(
        read(&mut ws).await.starts_with('0'),
        "the Engine.IO open packet"
    );
    ws.send(Message::Text(
        format!("40{}", json!({"token": token(alice)})).into(),
    ))
    .await
    .unwrap();
    assert!(read(&mut ws).await.starts_with("40{"), "CONNECT accepted");
    assert!(read(&mut ws).await.starts_with(r#"42["connected""#));

    // The packet type is the byte after the Engine.IO `4`; a multi-byte one used to panic
    // the connection's task (after it had registered the user).
    for hostile in ["4é", "4😀[\"sync\",{}]", "4\u{80}"] {
        ws.send(Message::Text(hostile.into())).await.unwrap();
        let reply = read(&mut ws).await;
        let body = reply
            .strip_prefix("42")
            .unwrap_or_else(|| panic!("{hostile:?}: {reply}"));
        let v: Value = serde_json::from_str(body).unwrap();
        assert_eq!(v[0], "error", "{hostile:?}: {reply}");
        assert_eq!(v[1]["code"], "invalid_request", "{hostile:?}: {reply}");
    }
    ws.send(Message::Text(r#"421["sync",{}]"#.into()))
        .await
        .unwrap();
    let ack = read(&mut ws).await;
    assert!(
        ack.starts_with("431["),
        "the connection still answers: {ack}"
    );

    // Leaving takes Alice offline: the connection was cleaned up, not abandoned.
    ws.close(None).await.unwrap();
    let offline = bob_ws.expect_event("user_offline").await;
    assert_eq!(offline["userId"], alice.to_string());
}

#[tokio::test]
async fn a_token_that_never_expires_is_served_and_cleaned_up() {
    let stack = stack().await;
    let (alice, bob) = (stack.create_user("applicant").await, Uuid::now_v7());
    let mut bob_ws = contacts(&stack, alice, bob).await;
    // Validly signed, `exp` = u64::MAX: the connection's expiry timer used to panic.
    let forever = token_with(alice, 0, json!({ "exp": u64::MAX }));
    let mut a = WsClient::connect(&stack.ws_url(0), &forever).await;
    let sent = a
        .ok(
            "send_message",
            json!({"recipientId": bob, "content": "still here"}),
        )
        .await;
    assert_eq!(sent["message"]["content"], "still here");
    a.close().await;
    let offline = bob_ws.expect_event("user_offline").await;
    assert_eq!(offline["userId"], alice.to_string());
}

#[tokio::test]
async fn text_that_is_not_utf8_closes_that_connection_with_1007() {
    let stack = stack().await;
    let (alice, bob) = (stack.create_user("applicant").await, Uuid::now_v7());
    let mut bob_ws = contacts(&stack, alice, bob).await;
    let mut a = WsClient::connect(&stack.ws_url(0), &token(alice)).await;

    // A raw socket: no client library sends such a frame.
    let addr = stack.gateways[0].addr("http");
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let request = format!(
        "GET /ws?token={} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        token(alice)
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let mut seen = Vec::new();
    // The 101 and the `connected` event.
    while !String::from_utf8_lossy(&seen).contains("connectionId") {
        let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf))
            .await
            .expect("the upgrade answers")
            .unwrap();
        assert!(n > 0, "closed during the upgrade");
        seen.extend_from_slice(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 101"));
    let payload = [b'{', 0xC3, 0x28, 0xFF, b'}'];
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x81, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    tcp.write_all(&frame).await.unwrap();
    // A close frame: 0x88, length, code 1007, reason.
    let mut reply = Vec::new();
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf))
            .await
            .expect("the gateway answers")
            .unwrap();
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&buf[..n]);
        if let Some(i) = reply.iter().position(|b| *b == 0x88)
            && reply.len() >= i + 4
        {
            break;
        }
    }
    let i = reply
        .iter()
        .position(|b| *b == 0x88)
        .unwrap_or_else(|| panic!("no close frame in {reply:?}"));
    assert_eq!(u16::from_be_bytes([reply[i + 2], reply[i + 3]]), 1007);

    // Only that connection: Alice's other one and Bob's still work.
    bob_ws
        .ok(
            "send_message",
            json!({"recipientId": alice, "content": "you there?"}),
        )
        .await;
    assert_eq!(
        a.expect_event("message_received").await["content"],
        "you there?"
    );
}

#[tokio::test]
async fn a_path_that_is_not_utf8_gets_a_json_error_after_authentication() {
    let stack = stack().await;
    let http = reqwest::Client::new();
    let base = stack.http_url(0);
    let alice = Uuid::now_v7();
    for path in ["/v1/conversations/%FF/messages", "/v1/messages/%C3%28/read"] {
        let method = if path.ends_with("read") {
            reqwest::Method::POST
        } else {
            reqwest::Method::GET
        };
        let anonymous = http
            .request(method.clone(), format!("{base}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 401, "{path} without a token");
        let r = http
            .request(method, format!("{base}{path}"))
            .bearer_auth(token(alice))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{path}");
        let body: Value = r.json().await.expect("a JSON error body");
        assert_eq!(body["error"]["code"], "invalid_request", "{path}: {body}");
    }
}
