//! Outages of the infrastructure with traffic running: NATS stopped for 10 s, PostgreSQL
//! stopped and started again. Each test brings its own server (`NatsServer`,
//! `PostgresServer`) so the shared ones stay up for the tests running beside it.
//!
//! What must hold: every send is answered (`unavailable` during the outage, never
//! silence) and the connections stay open; every service reconnects by itself and is
//! ready again; live delivery and presence work again, and nobody connected throughout was
//! announced offline; and the count at the end — acked vs stored vs delivered after
//! `sync` — shows nothing lost and nothing stored twice (clients retried with the same
//! clientMsgId).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use switchboard_test_support::nats_server::NatsServer;
use switchboard_test_support::postgres_server::PostgresServer;
use switchboard_test_support::stack::{Stack, StackOptions, all_ready, http_status};
use switchboard_test_support::token;
use switchboard_test_support::traffic::{
    Outcome, Sender, assert_nothing_lost, numbered, synced_ids,
};
use switchboard_test_support::ws::{Frame, WsClient};
use tokio::time::Instant;
use uuid::Uuid;

/// Messages per sender; two senders, one every ~100 ms each, so traffic spans the outage.
const PER_SENDER: usize = 60;
/// How long the dependency stays down.
const OUTAGE: Duration = Duration::from_secs(10);
/// Recovery may be slow on a loaded machine; correctness is checked strictly regardless.
const GIVE_UP: Duration = Duration::from_secs(120);

enum Fault<'a> {
    Nats(&'a mut NatsServer),
    Postgres(&'a mut PostgresServer),
}

impl Fault<'_> {
    async fn begin(&mut self) {
        match self {
            Self::Nats(n) => n.stop().await,
            Self::Postgres(p) => p.stop().await,
        }
    }

    async fn end(&mut self) {
        match self {
            Self::Nats(n) => n.start_again().await,
            Self::Postgres(p) => p.start_again().await,
        }
    }
}

/// What a reader doing `sync` every few hundred ms saw: ok, or the error code.
type Reads = Vec<(Instant, Result<(), String>)>;

async fn outage_under_traffic(stack: &Stack, mut fault: Fault<'_>, name: &str) {
    let bob = stack.create_user("lawyer").await;
    let (alice, erin, dave) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    // Dave is Bob's contact, offline until after the outage.
    let mut d = WsClient::connect(&stack.ws_url(0), &token(dave)).await;
    d.ok("send_message", json!({"recipientId": bob, "content": "hi"}))
        .await;
    d.close().await;
    let urls0 = vec![stack.ws_url(0), stack.ws_url(1)];
    let urls1 = vec![stack.ws_url(1), stack.ws_url(0)];
    let mut alice_tx = Sender::connect(&urls0, alice).await;
    let mut erin_tx = Sender::connect(&urls1, erin).await;
    for tx in [&mut alice_tx, &mut erin_tx] {
        tx.send_until_acked(bob, "hello", "hello", GIVE_UP).await;
    }
    let mut bob_ws = WsClient::connect(&stack.ws_url(1), &token(bob)).await;
    // Presence has seen everyone (Alice and Erin online, Dave gone) before the fault.
    let settled = Instant::now() + Duration::from_secs(20);
    loop {
        let p = bob_ws
            .ok("get_presence", json!({"userIds": [alice, erin, dave]}))
            .await;
        let state: Vec<(String, bool, bool)> = p["presence"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                (
                    x["userId"].as_str().unwrap().to_owned(),
                    x["online"].as_bool().unwrap(),
                    x["lastSeenAt"].is_string(),
                )
            })
            .collect();
        let want =
            |u: Uuid, online: bool| state.iter().any(|s| s.0 == u.to_string() && s.1 == online);
        if want(alice, true) && want(erin, true) && want(dave, false) && state.iter().any(|s| s.2) {
            break;
        }
        assert!(
            Instant::now() < settled,
            "{name}: presence before the fault: {p}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bob_ws.drain_events("user_online").await;

    // Traffic: two senders, and Bob's second device reading with `sync`.
    let senders = [alice_tx, erin_tx].map(|mut tx| {
        tokio::spawn(async move {
            let mut acked = Vec::new();
            for (key, content) in numbered(&format!("o-{}", tx.user.simple()), PER_SENDER) {
                acked.push(tx.send_until_acked(bob, &key, &content, GIVE_UP).await);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            (tx, acked)
        })
    });
    let reading = Arc::new(AtomicBool::new(true));
    let reader = {
        let (reading, url) = (reading.clone(), stack.ws_url(0));
        tokio::spawn(async move {
            let mut c = WsClient::connect(&url, &token(bob)).await;
            let mut reads: Reads = Vec::new();
            while reading.load(Ordering::Acquire) {
                let outcome = match c
                    .try_request("sync", json!({"limit": 1}), Duration::from_secs(10))
                    .await
                {
                    Some(r) if r.get("error").is_none() => Ok(()),
                    Some(r) => Err(r["error"]["code"].as_str().unwrap_or("?").to_owned()),
                    None => Err("no answer".to_owned()),
                };
                reads.push((Instant::now(), outcome));
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            reads
        })
    };

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let down = Instant::now();
    fault.begin().await;
    // The gateways say they are not ready while NATS is gone (they do not depend on
    // PostgreSQL directly; chat and presence do).
    let mut unready_seen = false;
    while down.elapsed() < OUTAGE {
        let urls = stack.ops_urls();
        for u in &urls {
            if http_status(&format!("{u}/readyz")).await == Some(503) {
                unready_seen = true;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(unready_seen, "some /readyz reported the outage");
    fault.end().await;
    let up = Instant::now();

    // Every service reconnects by itself.
    let deadline = up + Duration::from_secs(60);
    while !all_ready(&stack.ops_urls()).await {
        assert!(
            Instant::now() < deadline,
            "{name}: not every service is ready again"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ready_after = up.elapsed();

    let mut acked: Vec<Value> = Vec::new();
    let mut txs = Vec::new();
    for s in senders {
        let (tx, a) = s.await.unwrap();
        acked.extend(a);
        txs.push(tx);
    }
    reading.store(false, Ordering::Release);
    let reads = reader.await.unwrap();

    // Answered, never silence; the connections stayed open throughout.
    let mut unavailable_during = 0;
    for tx in &txs {
        assert!(tx.closes.is_empty(), "{name}: closes {:?}", tx.closes);
        for a in &tx.attempts {
            match &a.outcome {
                Outcome::Acked => {}
                Outcome::Refused(code) if code == "unavailable" => {
                    if a.sent_at >= down && a.sent_at < up {
                        unavailable_during += 1;
                    }
                }
                other => panic!("{name}: attempt {} came to {other:?}", a.key),
            }
        }
    }
    assert!(
        unavailable_during > 0,
        "{name}: sends during the outage were answered unavailable"
    );
    for (_, r) in &reads {
        if let Err(code) = r {
            assert_eq!(code, "unavailable", "{name}: a sync during the outage");
        }
    }
    assert!(
        reads.iter().any(|(at, r)| *at > up && r.is_ok()),
        "{name}: reads work again"
    );

    // Live delivery again on Bob's connection that lived through it.
    bob_ws.drain_events("message_received").await;
    let mut a = WsClient::connect(&stack.ws_url(0), &token(alice)).await;
    let after = a
        .ok(
            "send_message",
            json!({"recipientId": bob, "content": "after", "clientMsgId": "after"}),
        )
        .await;
    let got = bob_ws
        .try_event("message_received", Duration::from_secs(10))
        .await
        .expect("live delivery after the outage");
    assert_eq!(got["id"], after["message"]["id"]);

    // Presence: Dave arriving is announced; nobody connected throughout went offline.
    let d = WsClient::connect(&stack.ws_url(0), &token(dave)).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    // Anything else announced about users connected throughout is false news (an offline)
    // or a repeat (an online without an offline before it).
    let mut false_news = Vec::new();
    let mut dave_online = false;
    while !dave_online {
        match bob_ws.next_frame_until(deadline).await {
            Some(Frame::Json(v))
                if v["event"] == "user_online" && v["data"]["userId"] == dave.to_string() =>
            {
                dave_online = true;
            }
            Some(Frame::Json(v)) if v["event"] == "user_online" || v["event"] == "user_offline" => {
                false_news.push(v);
            }
            Some(Frame::Json(_)) => {}
            other => panic!("{name}: no user_online for a contact after the outage: {other:?}"),
        }
    }
    for event in ["user_online", "user_offline"] {
        let late = bob_ws.drain_events(event).await;
        false_news.extend(
            late.into_iter()
                .map(|data| json!({"event": event, "data": data})),
        );
    }
    assert!(
        false_news.is_empty(),
        "{name}: users connected throughout were announced: {false_news:?}"
    );
    let p = bob_ws
        .ok("get_presence", json!({"userIds": [alice, erin, dave]}))
        .await;
    assert!(
        p["presence"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["online"] == true),
        "{name}: {p}"
    );
    drop(d);

    let synced: BTreeSet<String> = synced_ids(&mut bob_ws).await;
    let stored = stack.messages_from(alice).await + stack.messages_from(erin).await;
    // Less the two hellos and the one sent after.
    assert_nothing_lost(name, 2 * PER_SENDER, &acked, stored - 3, &synced);
    eprintln!(
        "{name}: {unavailable_during} sends answered unavailable during the outage, {} syncs refused; \
         every service ready {ready_after:?} after the restart",
        reads.iter().filter(|(_, r)| r.is_err()).count()
    );
}

#[tokio::test]
async fn a_nats_outage_is_answered_unavailable_and_every_service_reconnects() {
    let mut nats = NatsServer::start().await;
    // A durable stream, to see JetStream's store survive the restart.
    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client.clone());
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "OUTAGE".into(),
        subjects: vec!["outage.>".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    js.publish("outage.kept", "kept".into())
        .await
        .unwrap()
        .await
        .unwrap();
    drop(js);
    drop(client);

    let stack = Stack::start_with(StackOptions {
        nats_url: Some(nats.url()),
        ..StackOptions::default()
    })
    .await;
    outage_under_traffic(&stack, Fault::Nats(&mut nats), "NATS outage").await;

    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let mut stream = js.get_stream("OUTAGE").await.unwrap();
    assert_eq!(
        stream.info().await.unwrap().state.messages,
        1,
        "JetStream kept its store"
    );
}

#[tokio::test]
async fn a_postgres_restart_is_answered_unavailable_and_stores_nothing_twice() {
    let mut pg = PostgresServer::start().await;
    let stack = Stack::start_with(StackOptions {
        database_server_url: Some(pg.admin_url()),
        ..StackOptions::default()
    })
    .await;
    outage_under_traffic(&stack, Fault::Postgres(&mut pg), "PostgreSQL restart").await;
}

/// What a restart or shutdown of PostgreSQL does to a session (SQLSTATE 57P01, "terminating
/// connection due to administrator command") must count as unavailable, not as a fault of
/// the statement: clients are told to retry, as for a refused connection.
#[tokio::test]
async fn a_terminated_database_session_counts_as_unavailable() {
    use sqlx::Connection as _;
    let url = switchboard_test_support::db::admin_url();
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let bad = sqlx::query("SELECT no_such_column FROM pg_class")
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert!(
        !switchboard_common::db::is_unavailable(&bad),
        "a faulty statement is not an outage: {bad}"
    );
    let terminated = sqlx::query("SELECT pg_terminate_backend(pg_backend_pid())")
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert!(
        switchboard_common::db::is_unavailable(&terminated),
        "a terminated session is: {terminated}"
    );
}
