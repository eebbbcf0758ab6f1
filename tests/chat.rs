//! Messages across two gateways and two chat replicas.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_test_support::stack::{Stack, StackOptions, metric_with_label};
use switchboard_test_support::token;
use switchboard_test_support::ws::WsClient;
use uuid::Uuid;

async fn connect(stack: &Stack, gateway: usize, user: Uuid) -> WsClient {
    WsClient::connect(&stack.ws_url(gateway), &token(user)).await
}

async fn send(client: &mut WsClient, to: Uuid, content: &str) -> Value {
    client
        .ok(
            "send_message",
            json!({"recipientId": to, "content": content}),
        )
        .await["message"]
        .clone()
}

#[tokio::test]
async fn message_crosses_replicas_and_reaches_every_device() {
    let stack = Stack::start().await;
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let mut bob_phone = connect(&stack, 1, bob).await;
    let mut alice_laptop = connect(&stack, 0, alice).await;
    let mut alice_phone = connect(&stack, 1, alice).await;

    let acked = alice_laptop
        .ok(
            "send_message",
            json!({"recipientId": bob, "content": "hello bob", "clientMsgId": "c-1"}),
        )
        .await["message"]
        .clone();
    assert_eq!(acked["senderId"], alice.to_string());
    assert_eq!(acked["recipientId"], bob.to_string());
    assert_eq!(acked["content"], "hello bob");
    assert_eq!(acked["clientMsgId"], "c-1");
    assert!(acked["readAt"].is_null());
    let id = Uuid::parse_str(acked["id"].as_str().unwrap()).unwrap();
    assert_eq!(id.get_version_num(), 7);
    let created = acked["createdAt"].as_str().unwrap();
    assert!(created.ends_with('Z') && created.len() == 24, "{created}");

    // The recipient on the other gateway gets it, and so does the sender's other device.
    assert_eq!(bob_phone.expect_event("message_received").await, acked);
    assert_eq!(alice_phone.expect_event("message_sent").await, acked);
    // Not echoed to the connection that sent it.
    alice_laptop
        .expect_no_event("message_sent", Duration::from_millis(500))
        .await;
    assert_eq!(stack.message_count().await, 1);
}

#[tokio::test]
async fn read_receipts_go_to_the_sender_and_the_readers_other_connections() {
    let stack = Stack::start().await;
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let mut alice_c = connect(&stack, 0, alice).await;
    let mut bob_a = connect(&stack, 1, bob).await;
    let mut bob_b = connect(&stack, 0, bob).await;

    let m = send(&mut alice_c, bob, "read me").await;
    let id = m["id"].as_str().unwrap();
    // Only the recipient may mark it read.
    assert_eq!(
        alice_c
            .error_code("mark_message_read", json!({"messageId": id}))
            .await,
        "forbidden"
    );
    let ack = bob_a
        .ok("mark_message_read", json!({"messageId": id}))
        .await;
    assert_eq!(ack["messageId"], id);
    let read_at = ack["readAt"].as_str().unwrap().to_owned();
    let receipt = alice_c.expect_event("message_read").await;
    assert_eq!(
        receipt,
        json!({"messageId": id, "readerId": bob, "readAt": read_at})
    );
    assert_eq!(bob_b.expect_event("message_read").await, receipt);
    bob_a
        .expect_no_event("message_read", Duration::from_millis(300))
        .await;
    // Marking again is harmless and keeps the first time.
    let again = bob_b
        .ok("mark_message_read", json!({"messageId": id}))
        .await;
    assert_eq!(again["readAt"], read_at.as_str());

    // The other way round, and a whole conversation at once.
    let r1 = send(&mut bob_a, alice, "one").await;
    let r2 = send(&mut bob_a, alice, "two").await;
    let r3 = send(&mut bob_a, alice, "three").await;
    let ack = alice_c
        .ok(
            "mark_conversation_read",
            json!({"peerId": bob, "upToMessageId": r2["id"]}),
        )
        .await;
    assert_eq!(ack["count"], 2);
    let mut read_ids = Vec::new();
    for _ in 0..2 {
        read_ids.push(bob_a.expect_event("message_read").await["messageId"].clone());
    }
    read_ids.sort_by_key(|v| v.as_str().unwrap().to_owned());
    assert_eq!(read_ids, vec![r1["id"].clone(), r2["id"].clone()]);
    let history = alice_c
        .ok("history", json!({"peerId": bob, "limit": 1}))
        .await;
    assert_eq!(history["messages"][0]["id"], r3["id"]);
    assert!(history["messages"][0]["readAt"].is_null());
}

#[tokio::test]
async fn a_retry_with_the_same_client_msg_id_returns_the_original() {
    let stack = Stack::start().await;
    let (alice, bob) = (Uuid::now_v7(), stack.create_user("lawyer").await);
    let mut c = connect(&stack, 0, alice).await;
    let first = c
        .ok(
            "send_message",
            json!({"recipientId": bob, "content": "once", "clientMsgId": "retry-me"}),
        )
        .await;
    let second = c
        .ok(
            "send_message",
            json!({"recipientId": bob, "content": "once", "clientMsgId": "retry-me"}),
        )
        .await;
    assert_eq!(first, second);
    // Concurrent retries (in one group commit or not) still store one row.
    let mut other = connect(&stack, 1, alice).await;
    for i in 0..5 {
        let frame = json!({"event": "send_message", "ack": 100 + i,
            "data": {"recipientId": bob, "content": "burst", "clientMsgId": "burst-1"}});
        other.send_text(frame.to_string()).await;
    }
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(other.expect_ack(100 + i).await["data"]["message"]["id"].clone());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(stack.message_count().await, 2);
}

#[tokio::test]
async fn sync_returns_exactly_what_was_missed_oldest_first() {
    let stack = Stack::start().await;
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let mut a = connect(&stack, 0, alice).await;
    let mut b = connect(&stack, 1, bob).await;
    let seen = send(&mut a, bob, "before the disconnect").await;
    b.expect_event("message_received").await;
    b.close().await;

    let mut missed = Vec::new();
    for i in 0..7 {
        missed.push(send(&mut a, bob, &format!("missed {i}")).await["id"].clone());
    }
    let reply = send(&mut a, bob, "and one more").await;
    missed.push(reply["id"].clone());

    let mut b = connect(&stack, 0, bob).await;
    let page = b.ok("sync", json!({"after": seen["id"], "limit": 5})).await;
    assert_eq!(page["hasMore"], true);
    let mut got: Vec<Value> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].clone())
        .collect();
    let cursor = got.last().unwrap().clone();
    let page = b.ok("sync", json!({"after": cursor})).await;
    assert_eq!(page["hasMore"], false);
    got.extend(
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].clone()),
    );
    assert_eq!(got, missed);
    // Without a cursor: everything, oldest first.
    let all = b.ok("sync", json!({})).await;
    assert_eq!(all["messages"].as_array().unwrap().len(), 9);
    assert_eq!(all["messages"][0]["id"], seen["id"]);
}

#[tokio::test]
async fn history_pages_newest_first_without_duplicates() {
    let stack = Stack::start().await;
    let (alice, bob, carol) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let mut a = connect(&stack, 0, alice).await;
    let mut b = connect(&stack, 1, bob).await;
    let mut c = connect(&stack, 1, carol).await;
    let mut sent = Vec::new();
    for i in 0..12 {
        let m = if i % 2 == 0 {
            send(&mut a, bob, &format!("a{i}")).await
        } else {
            send(&mut b, alice, &format!("b{i}")).await
        };
        sent.push(m["id"].clone());
    }
    // Another conversation of Alice's does not leak into this one.
    send(&mut c, alice, "unrelated").await;

    let mut pages = Vec::new();
    let mut before: Option<Value> = None;
    loop {
        let mut q = json!({"peerId": bob, "limit": 5});
        if let Some(b) = &before {
            q["before"] = b.clone();
        }
        let page = a.ok("history", q).await;
        let ids: Vec<Value> = page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].clone())
            .collect();
        before = ids.last().cloned();
        let more = page["hasMore"].as_bool().unwrap();
        pages.push(ids);
        if !more {
            break;
        }
    }
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![5, 5, 2]
    );
    let flat: Vec<Value> = pages.concat();
    let mut expected = sent.clone();
    expected.reverse();
    assert_eq!(flat, expected);
    // Bob sees the same conversation.
    let bobs = b
        .ok("history", json!({"peerId": alice, "limit": 200}))
        .await;
    assert_eq!(bobs["messages"].as_array().unwrap().len(), 12);
}

#[tokio::test]
async fn invalid_requests_get_clear_errors_and_the_connection_stays_usable() {
    let stack = Stack::start().await;
    let (alice, bob) = (Uuid::now_v7(), stack.create_user("applicant").await);
    let mut a = connect(&stack, 0, alice).await;
    let cases = [
        json!({"recipientId": bob, "content": ""}),
        json!({"recipientId": bob, "content": "   \n\t"}),
        json!({"recipientId": bob, "content": "x".repeat(5001)}),
        json!({"recipientId": bob, "content": "nul\u{0}byte"}),
        json!({"recipientId": "not-a-uuid", "content": "hi"}),
        json!({"recipientId": alice, "content": "to myself"}),
        json!({"recipientId": bob, "content": "hi", "clientMsgId": ""}),
        json!({"recipientId": bob, "content": "hi", "clientMsgId": "x".repeat(65)}),
        json!({"recipientId": bob}),
        json!({"content": 5}),
    ];
    for data in cases {
        assert_eq!(
            a.error_code("send_message", data.clone()).await,
            "invalid_request",
            "{data}"
        );
    }
    assert_eq!(
        a.error_code(
            "send_message",
            json!({"recipientId": Uuid::now_v7(), "content": "nobody"})
        )
        .await,
        "not_found"
    );
    assert_eq!(
        a.error_code("no_such_event", json!({})).await,
        "invalid_request"
    );
    assert_eq!(
        a.error_code("sync", json!({"after": "nope"})).await,
        "invalid_request"
    );
    assert_eq!(
        a.error_code("history", json!({"peerId": bob, "limit": 0}))
            .await,
        "invalid_request"
    );
    assert_eq!(
        a.error_code("mark_message_read", json!({"messageId": 12}))
            .await,
        "invalid_request"
    );

    // Malformed frames without an ack get an `error` event.
    a.send_text("this is not json").await;
    assert_eq!(a.expect_event("error").await["code"], "invalid_request");
    a.send_text(r#"{"event":"send_message","ack":"one"}"#).await;
    assert_eq!(a.expect_event("error").await["code"], "invalid_request");
    a.send_message(tokio_tungstenite::tungstenite::Message::Binary(
        vec![1, 2, 3].into(),
    ))
    .await;
    assert_eq!(a.expect_event("error").await["code"], "invalid_request");
    // A malformed frame with a usable ack gets an error ack.
    a.send_text(r#"{"ack":77}"#).await;
    assert_eq!(a.expect_ack(77).await["error"]["code"], "invalid_request");

    // Exactly 5000 characters is fine, and the connection still works.
    let long = "é".repeat(5000);
    let m = send(&mut a, bob, &long).await;
    assert_eq!(m["content"].as_str().unwrap().chars().count(), 5000);
    assert_eq!(stack.message_count().await, 1);
}

/// The chat service remembers the pairs it stored a message of (to skip recording the
/// contact and looking the users up again); a send refused because the recipient did not
/// exist yet must not count, or the pair would never become contacts once they do.
#[tokio::test]
async fn a_recipient_who_appears_after_a_refused_send_becomes_a_contact() {
    let stack = Stack::start_with(StackOptions {
        chat_replicas: 1,
        gateway_replicas: 1,
        ..StackOptions::default()
    })
    .await;
    let (alice, carol) = (Uuid::now_v7(), Uuid::now_v7());
    let mut a = connect(&stack, 0, alice).await;
    assert_eq!(
        a.error_code(
            "send_message",
            json!({"recipientId": carol, "content": "early"})
        )
        .await,
        "not_found"
    );
    let mut c = connect(&stack, 0, carol).await;
    let sent = send(&mut a, carol, "now you exist").await;
    assert_eq!(c.expect_event("message_received").await["id"], sent["id"]);
    let contacts: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM contacts WHERE (user_id, contact_id) IN (($1, $2), ($2, $1))",
    )
    .bind(alice)
    .bind(carol)
    .fetch_one(&stack.db.pool)
    .await
    .expect("count contacts");
    assert_eq!(contacts, 2);
}

#[tokio::test]
async fn the_sender_comes_from_the_token_not_the_payload() {
    let stack = Stack::start().await;
    let (alice, bob, mallory) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let mut b = connect(&stack, 1, bob).await;
    let mut m = connect(&stack, 0, mallory).await;
    let sent = m
        .ok(
            "send_message",
            json!({"recipientId": bob, "content": "it's alice, honest", "senderId": alice}),
        )
        .await["message"]
        .clone();
    assert_eq!(sent["senderId"], mallory.to_string());
    assert_eq!(
        b.expect_event("message_received").await["senderId"],
        mallory.to_string()
    );
}

#[tokio::test]
async fn a_third_user_can_neither_read_nor_mark_another_pairs_messages() {
    let stack = Stack::start().await;
    let (alice, bob, eve) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let mut a = connect(&stack, 0, alice).await;
    let mut b = connect(&stack, 1, bob).await;
    let mut e = connect(&stack, 1, eve).await;
    let m = send(&mut a, bob, "private").await;
    b.expect_event("message_received").await;

    assert_eq!(
        e.error_code("mark_message_read", json!({"messageId": m["id"]}))
            .await,
        "not_found"
    );
    let sync = e.ok("sync", json!({})).await;
    assert_eq!(sync["messages"], json!([]));
    let history = e.ok("history", json!({"peerId": alice})).await;
    assert_eq!(history["messages"], json!([]));
    let marked = e
        .ok(
            "mark_conversation_read",
            json!({"peerId": alice, "upToMessageId": m["id"]}),
        )
        .await;
    assert_eq!(marked["count"], 0);
    e.expect_no_event("message_received", Duration::from_millis(300))
        .await;
    // Still unread for Bob.
    let h = b.ok("history", json!({"peerId": alice})).await;
    assert!(h["messages"][0]["readAt"].is_null());
}

#[tokio::test]
async fn an_oversized_frame_closes_that_connection_only() {
    let stack = Stack::start().await;
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let mut a = connect(&stack, 0, alice).await;
    let mut b = connect(&stack, 0, bob).await;
    let huge = json!({"event": "send_message", "data": {"recipientId": bob, "content": "x".repeat(70 * 1024)}});
    a.send_text(huge.to_string()).await;
    let (code, reason) = a.expect_close().await;
    assert_eq!(code, 1009, "{reason}");
    assert!(reason.contains("too large"), "{reason}");
    // The gateway goes on serving everyone else.
    let mut a2 = connect(&stack, 0, alice).await;
    send(&mut b, alice, "still here").await;
    assert_eq!(
        a2.expect_event("message_received").await["content"],
        "still here"
    );
    assert_eq!(stack.message_count().await, 1);
}

#[tokio::test]
async fn without_a_chat_service_commands_fail_fast_with_unavailable() {
    let mut stack = Stack::start_with(StackOptions {
        chat_replicas: 1,
        gateway_replicas: 1,
        ..StackOptions::default()
    })
    .await;
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let mut a = connect(&stack, 0, alice).await;
    let _b = connect(&stack, 0, bob).await;
    send(&mut a, bob, "while it runs").await;
    stack.chats[0].kill().await;

    let started = std::time::Instant::now();
    let reply = a
        .request(
            "send_message",
            json!({"recipientId": bob, "content": "lost?", "clientMsgId": "k1"}),
        )
        .await;
    assert_eq!(reply["error"]["code"], "unavailable", "{reply}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    // The connection survives; once the service is back, the retry is stored once.
    stack.chats[0].restart().await;
    let mut stored = None;
    for _ in 0..50 {
        let reply = a
            .request(
                "send_message",
                json!({"recipientId": bob, "content": "lost?", "clientMsgId": "k1"}),
            )
            .await;
        if reply.get("error").is_none() {
            stored = Some(reply);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(stored.is_some(), "the chat service did not come back");
    assert_eq!(stack.message_count().await, 2);
}

#[tokio::test]
async fn many_concurrent_senders_share_group_commits_and_lose_nothing() {
    let stack = Stack::start().await;
    let recipient = Uuid::now_v7();
    let mut r = connect(&stack, 1, recipient).await;
    let senders: Vec<Uuid> = (0..8).map(|_| Uuid::now_v7()).collect();
    let mut tasks = Vec::new();
    for (i, s) in senders.iter().enumerate() {
        let url = stack.ws_url(i % 2);
        let s = *s;
        tasks.push(tokio::spawn(async move {
            let mut c = WsClient::connect(&url, &token(s)).await;
            // Pipelined: all 25 in flight before reading any ack.
            for n in 0..25u64 {
                let frame = json!({"event": "send_message", "ack": n + 1,
                    "data": {"recipientId": recipient, "content": format!("{s} #{n}"), "clientMsgId": format!("m{n}")}});
                c.send_text(frame.to_string()).await;
            }
            let mut ids = Vec::new();
            for n in 0..25u64 {
                let ack = c.expect_ack(n + 1).await;
                assert!(ack.get("error").is_none(), "{ack}");
                ids.push(ack["data"]["message"]["id"].as_str().unwrap().to_owned());
            }
            ids
        }));
    }
    let mut acked = std::collections::BTreeSet::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    assert_eq!(acked.len(), 200);
    let mut delivered = std::collections::BTreeSet::new();
    while delivered.len() < 200 {
        let m = r.expect_event("message_received").await;
        delivered.insert(m["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(delivered, acked);
    assert_eq!(stack.message_count().await, 200);
    // Sync from scratch lists them in id order, which is commit order.
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut q = json!({"limit": 500});
        if let Some(a) = &after {
            q["after"] = json!(a);
        }
        let page = r.ok("sync", q).await;
        let ids: Vec<String> = page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect();
        after = ids.last().cloned();
        all.extend(ids);
        if page["hasMore"] == false {
            break;
        }
    }
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted);
    assert_eq!(all.len(), 200);
}

#[tokio::test]
async fn a_peer_that_never_answers_pings_is_dropped() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stack = Stack::start_with(StackOptions {
        chat_replicas: 1,
        gateway_replicas: 1,
        gateway_env: vec![
            ("PING_INTERVAL_MS".into(), "300".into()),
            ("PONG_TIMEOUT_MS".into(), "300".into()),
        ],
        ..StackOptions::default()
    })
    .await;
    // A raw socket: it upgrades, then never reads a frame nor answers a ping.
    let addr = stack.gateways[0].addr("http");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET /ws?token={} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        token(Uuid::now_v7())
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let started = std::time::Instant::now();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    // The gateway writes the 101, `connected`, pings, then a close, then hangs up.
    loop {
        match tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the dead peer was not dropped"),
        }
    }
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
    assert!(String::from_utf8_lossy(&received).starts_with("HTTP/1.1 101"));
    assert!(
        received.windows(12).any(|w| w == b"ping timeout"),
        "no close reason in {:?}",
        String::from_utf8_lossy(&received)
    );
}

/// The value of `switchboard_gateway_send_acks_total{via=…}` at a gateway.
async fn send_acks(stack: &Stack, gateway: usize, via: &str) -> f64 {
    let label = format!("via=\"{via}\"");
    metric_with_label(
        &stack.http_url(gateway),
        "switchboard_gateway_send_acks_total",
        &label,
    )
    .await
}

#[tokio::test]
async fn a_socket_send_is_acked_by_its_own_delivery_and_a_rest_send_by_a_reply() {
    let stack = Stack::start().await;
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let mut alice_ws = connect(&stack, 0, alice).await;
    let mut bob_ws = connect(&stack, 1, bob).await;
    // The `message_sent` that reaches alice's gateway anyway carries the ack: the chat
    // service sends no reply for these.
    for i in 0..3 {
        let acked = send(&mut alice_ws, bob, &format!("socket {i}")).await;
        assert_eq!(bob_ws.expect_event("message_received").await, acked);
    }
    assert_eq!(send_acks(&stack, 0, "delivery").await, 3.0);
    assert_eq!(send_acks(&stack, 0, "reply").await, 0.0);

    // Over REST the sender may have no connection on this gateway: a reply, as before.
    let created = reqwest::Client::new()
        .post(format!("{}/v1/messages", stack.http_url(0)))
        .bearer_auth(token(alice))
        .json(&json!({"recipientId": bob, "content": "over http"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert_eq!(
        alice_ws.expect_event("message_sent").await,
        created["message"]
    );
    assert_eq!(send_acks(&stack, 0, "reply").await, 1.0);
    assert_eq!(send_acks(&stack, 0, "delivery").await, 3.0);
    assert_eq!(stack.message_count().await, 4);
}
