//! Faults with traffic running: a gateway or a chat replica killed with SIGKILL, a gateway
//! drained with SIGTERM, the presence service killed and restarted. Each test ends with a
//! count of acked vs stored vs delivered (live or by `sync`): nothing acked is lost,
//! nothing is stored twice. Outages of NATS and PostgreSQL are in `outages.rs`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use switchboard_test_support::stack::{Stack, StackOptions, http_status};
use switchboard_test_support::token;
use switchboard_test_support::traffic::{
    Outcome, Sender, assert_nothing_lost, id_of, numbered, synced_ids,
};
use switchboard_test_support::ws::{Frame, WsClient};
use tokio::time::Instant;
use uuid::Uuid;

const MESSAGES: usize = 40;
/// Recovery may be slow on a loaded machine; correctness is checked strictly regardless.
const GIVE_UP: Duration = Duration::from_secs(90);

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Live `message_received` ids that have arrived so far.
async fn live_ids(client: &mut WsClient) -> BTreeSet<String> {
    client
        .drain_events("message_received")
        .await
        .iter()
        .map(id_of)
        .collect()
}

#[tokio::test]
async fn a_killed_gateway_loses_nothing_acked() {
    let mut stack = Stack::start().await;
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let mut bob_ws = WsClient::connect(&stack.ws_url(1), &token(bob)).await;
    let mut alice_tx = Sender::connect(&[stack.ws_url(0), stack.ws_url(1)], alice).await;

    let items = numbered("m", MESSAGES);
    let mut acked = Vec::new();
    for (n, (key, content)) in items.iter().enumerate() {
        if n == MESSAGES / 3 {
            stack.gateways[0].kill().await;
        }
        acked.push(alice_tx.send_until_acked(bob, key, content, GIVE_UP).await);
    }
    let live = live_ids(&mut bob_ws).await;
    let synced = synced_ids(&mut bob_ws).await;
    assert_nothing_lost(
        "gateway SIGKILL",
        MESSAGES,
        &acked,
        stack.message_count().await,
        &synced,
    );
    // Bob's gateway survived: live delivery saw everything too.
    assert_eq!(live, acked.iter().map(id_of).collect::<BTreeSet<_>>());
}

#[tokio::test]
async fn a_killed_chat_replica_loses_nothing_and_stores_nothing_twice() {
    let mut stack = Stack::start().await;
    let bob = Uuid::now_v7();
    let urls: Vec<String> = vec![stack.ws_url(0), stack.ws_url(1)];
    let mut bob_ws = WsClient::connect(&stack.ws_url(1), &token(bob)).await;
    let mut tasks = Vec::new();
    for i in 0..4 {
        let urls = urls.clone();
        let mut urls = urls.clone();
        urls.rotate_left(i % 2);
        tasks.push(tokio::spawn(async move {
            let mut tx = Sender::connect(&urls, Uuid::now_v7()).await;
            let mut acked = Vec::new();
            for (key, content) in numbered("m", MESSAGES / 4) {
                acked.push(tx.send_until_acked(bob, &key, &content, GIVE_UP).await);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            // In flight at the kill: acked, or answered `unavailable` and retried.
            for a in &tx.attempts {
                assert!(
                    matches!(&a.outcome, Outcome::Acked)
                        || a.outcome == Outcome::Refused("unavailable".into()),
                    "{a:?}"
                );
            }
            acked
        }));
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    stack.chats[0].kill().await;
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    let synced = synced_ids(&mut bob_ws).await;
    let live = live_ids(&mut bob_ws).await;
    assert_nothing_lost(
        "chat replica SIGKILL",
        MESSAGES,
        &acked,
        stack.message_count().await,
        &synced,
    );
    // Live delivery is at-least-once for what the surviving replica published; sync has it all.
    assert!(live.is_subset(&synced));
}

/// SIGTERM to a gateway with pipelined traffic on it: `/readyz` turns 503 first (and new
/// upgrades are refused) while the open connections keep being served; then every
/// connection gets the acks of the commands it had in flight and a 1001 close; the
/// clients reconnect to the other replica and retry what was unanswered with the same
/// clientMsgId. An ack lost in the drain would show as a retry whose message was already
/// stored before the client saw the close.
#[tokio::test]
async fn a_sigterm_drains_the_gateway_without_losing_an_ack() {
    const SENDERS: usize = 4;
    const PER_SENDER: usize = 160;
    const WINDOW: usize = 4;
    let unready = Duration::from_millis(1500);
    let mut stack = Stack::start_with(StackOptions {
        gateway_env: env(&[
            ("RATE_LIMIT_PER_USER", "0"),
            ("SHUTDOWN_UNREADY_MS", "1500"),
            ("SHUTDOWN_DRAIN_MS", "10000"),
        ]),
        ..StackOptions::default()
    })
    .await;
    let bob = Uuid::now_v7();
    let mut bob_ws = WsClient::connect(&stack.ws_url(1), &token(bob)).await;
    let gw0 = stack.http_url(0);
    assert_eq!(http_status(&format!("{gw0}/readyz")).await, Some(200));

    // Readiness as a load balancer sees it, sampled until the gateway is gone.
    let readiness = {
        let url = format!("{gw0}/readyz");
        tokio::spawn(async move {
            let mut samples: Vec<(Instant, Option<u16>)> = Vec::new();
            let end = Instant::now() + Duration::from_secs(60);
            while Instant::now() < end {
                let status = http_status(&url).await;
                samples.push((Instant::now(), status));
                if status.is_none() && samples.iter().any(|(_, s)| *s == Some(503)) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            samples
        })
    };

    let urls = vec![stack.ws_url(0), stack.ws_url(1)];
    let mut tasks = Vec::new();
    for i in 0..SENDERS {
        let urls = urls.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = Sender::connect(&urls, Uuid::now_v7()).await;
            let items = numbered(&format!("s{i}"), PER_SENDER);
            let mut acked = Vec::new();
            for chunk in items.chunks(WINDOW) {
                acked.extend(tx.send_all(bob, chunk, WINDOW, GIVE_UP).await);
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
            (tx, acked)
        }));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let sigterm = Instant::now();
    stack.gateways[0].signal("TERM");
    // While unready, the gateway refuses new upgrades but still serves its connections.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let refused = WsClient::open(&format!("{}?token={}", stack.ws_url(0), token(bob))).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
            assert_eq!(r.status().as_u16(), 503)
        }
        Err(e) => panic!("upgrade during the drain: {e}"),
        Ok(_) => panic!("a draining gateway accepted a new connection"),
    }
    let status = stack.gateways[0]
        .wait_exit(Duration::from_secs(30))
        .await
        .expect("the gateway exits after its drain");
    assert!(status.success(), "exit status {status}");
    let exited = sigterm.elapsed();

    let mut acked = Vec::new();
    let mut senders = Vec::new();
    for t in tasks {
        let (tx, a) = t.await.unwrap();
        acked.extend(a);
        senders.push(tx);
    }
    let samples = readiness.await.unwrap();
    let first_unready = samples
        .iter()
        .find(|(_, s)| *s != Some(200))
        .map(|(at, s)| (*at, *s))
        .expect("readiness went false");
    assert_eq!(first_unready.1, Some(503), "{samples:?}");
    assert!(first_unready.0 >= sigterm);

    // The order: not ready first, then the going-away closes, then the exit.
    let mut closes = 0;
    for tx in &senders {
        for c in &tx.closes {
            assert_eq!(c.code, 1001, "close {} {}", c.code, c.reason);
            assert!(
                c.at > first_unready.0 && c.at.duration_since(sigterm) >= unready,
                "a close {:?} after SIGTERM, readiness false after {:?}",
                c.at.duration_since(sigterm),
                first_unready.0.duration_since(sigterm)
            );
            closes += 1;
        }
        for a in &tx.attempts {
            assert!(
                matches!(a.outcome, Outcome::Acked | Outcome::Closed(1001)),
                "{a:?}"
            );
        }
    }
    assert_eq!(
        closes, SENDERS,
        "each sender's connection closed once, with 1001"
    );

    // Commands the gateway had taken were answered before the close: what was still
    // unanswered at the close was stored only by the retry, after it.
    let by_key: HashMap<String, Value> = acked
        .iter()
        .map(|m| (m["clientMsgId"].as_str().unwrap().to_owned(), m.clone()))
        .collect();
    let mut retried = 0;
    for tx in &senders {
        let Some(close) = tx.closes.first() else {
            continue;
        };
        let closed_at = close.wall;
        for a in tx
            .attempts
            .iter()
            .filter(|a| a.outcome == Outcome::Closed(1001))
        {
            let m = &by_key[&a.key];
            let created = chrono::DateTime::parse_from_rfc3339(m["createdAt"].as_str().unwrap())
                .unwrap()
                .timestamp_millis();
            let closed_ms = closed_at
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_millis() as i64;
            assert!(
                created >= closed_ms,
                "{} was stored {} ms before its connection closed without its ack",
                a.key,
                closed_ms - created
            );
            retried += 1;
        }
    }

    let synced = synced_ids(&mut bob_ws).await;
    let live = live_ids(&mut bob_ws).await;
    assert_nothing_lost(
        "gateway SIGTERM",
        SENDERS * PER_SENDER,
        &acked,
        stack.message_count().await,
        &synced,
    );
    assert!(live.is_subset(&synced));
    eprintln!(
        "gateway SIGTERM: unready after {:?}, exit after {exited:?}, {retried} unanswered at the close retried",
        first_unready.0.duration_since(sigterm)
    );
}

/// Presence, user by user: `(online, offline)` announcements in arrival order.
fn announcements(events: &[(String, String)], user: Uuid) -> Vec<&str> {
    events
        .iter()
        .filter(|(_, u)| *u == user.to_string())
        .map(|(e, _)| e.as_str())
        .collect()
}

/// The only presence replica dies with SIGKILL mid-traffic and stays down longer than
/// the dead-gateway timeout; meanwhile one user leaves, one arrives and one keeps coming
/// and going. After the restart the state is repaired, a user connected throughout is
/// never announced offline, nobody is announced twice in a row, and the messages sent
/// meanwhile are all there.
#[tokio::test]
async fn a_killed_presence_service_recovers_without_false_or_double_announcements() {
    let mut stack = Stack::start_with(StackOptions {
        chat_replicas: 1,
        presence_replicas: 1,
        ..StackOptions::default()
    })
    .await;
    let bob = stack.create_user("lawyer").await;
    let (stays, leaves, arrives, flaps) = (
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
    );
    for u in [stays, leaves, arrives, flaps] {
        let mut c = WsClient::connect(&stack.ws_url(0), &token(u)).await;
        c.ok("send_message", json!({"recipientId": bob, "content": "hi"}))
            .await;
        c.close().await;
    }
    let mut bob_ws = WsClient::connect(&stack.ws_url(1), &token(bob)).await;
    // Bob hears about everyone from here on.
    let events: Arc<std::sync::Mutex<Vec<(String, String)>>> = Default::default();
    let leaves_ws = WsClient::connect(&stack.ws_url(1), &token(leaves)).await;
    let urls = vec![stack.ws_url(0), stack.ws_url(1)];
    let mut stays_tx = Sender::connect(&urls, stays).await;
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.len() < 2 && Instant::now() < deadline {
        if let Some(Frame::Json(v)) = bob_ws.next_frame_until(deadline).await
            && v["event"] == "user_online"
        {
            seen.push(v["data"]["userId"].as_str().unwrap().to_owned());
        }
    }
    seen.sort();
    let mut want = vec![stays.to_string(), leaves.to_string()];
    want.sort();
    assert_eq!(seen, want, "both online before the fault");
    for u in &seen {
        events
            .lock()
            .unwrap()
            .push(("user_online".into(), u.clone()));
    }

    // Traffic: `stays` keeps sending to Bob; `flaps` keeps connecting and leaving.
    let stop = Arc::new(AtomicBool::new(false));
    let flapper = {
        let (stop, url) = (stop.clone(), stack.ws_url(0));
        tokio::spawn(async move {
            let mut cycles = 0;
            while !stop.load(Ordering::Acquire) {
                if let Ok(c) =
                    WsClient::try_connect(&url, &token(flaps), Duration::from_secs(5)).await
                {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    c.close().await;
                    cycles += 1;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            cycles
        })
    };
    let sender = tokio::spawn(async move {
        let mut acked = Vec::new();
        for (key, content) in numbered("p", 120) {
            acked.push(
                stays_tx
                    .send_until_acked(bob, &key, &content, GIVE_UP)
                    .await,
            );
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
        (stays_tx, acked)
    });
    // Bob's events, read as they come, until told to stop.
    let listening = Arc::new(AtomicBool::new(true));
    let listener = {
        let (events, listening) = (events.clone(), listening.clone());
        tokio::spawn(async move {
            while listening.load(Ordering::Acquire) {
                let deadline = Instant::now() + Duration::from_millis(200);
                match bob_ws.next_frame_until(deadline).await {
                    Some(Frame::Json(v)) => {
                        let e = v["event"].as_str().unwrap_or_default();
                        if e == "user_online" || e == "user_offline" {
                            let u = v["data"]["userId"].as_str().unwrap().to_owned();
                            events.lock().unwrap().push((e.to_owned(), u));
                        }
                    }
                    Some(Frame::Closed { code, reason }) => panic!("bob closed {code} {reason}"),
                    None => {}
                }
            }
            bob_ws
        })
    };

    tokio::time::sleep(Duration::from_secs(1)).await;
    stack.presences[0].kill().await;
    // While presence is down (longer than PRESENCE_GATEWAY_DEAD_AFTER_MS): one leaves, one
    // arrives; those events are lost.
    tokio::time::sleep(Duration::from_millis(500)).await;
    leaves_ws.close().await;
    let _arrives_ws = WsClient::connect(&stack.ws_url(0), &token(arrives)).await;
    tokio::time::sleep(Duration::from_millis(7000)).await;
    stack.presences[0].restart().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Release);
    let cycles = flapper.await.unwrap();
    let (_stays_tx, acked) = sender.await.unwrap();

    // The repaired state, as a contact asks for it.
    let mut probe = WsClient::connect(&stack.ws_url(1), &token(bob)).await;
    let want: HashMap<String, bool> = [
        (stays.to_string(), true),
        (leaves.to_string(), false),
        (arrives.to_string(), true),
        (flaps.to_string(), false),
    ]
    .into_iter()
    .collect();
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let reply = probe
            .try_request(
                "get_presence",
                json!({"userIds": [stays, leaves, arrives, flaps]}),
                Duration::from_secs(5),
            )
            .await;
        let got: Option<HashMap<String, bool>> = reply.and_then(|r| {
            r["data"]["presence"].as_array().map(|a| {
                a.iter()
                    .map(|p| {
                        (
                            p["userId"].as_str().unwrap().to_owned(),
                            p["online"].as_bool().unwrap(),
                        )
                    })
                    .collect()
            })
        });
        if got.as_ref() == Some(&want) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "presence not repaired: {got:?}, want {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Let every announcement of the repair arrive.
    tokio::time::sleep(Duration::from_secs(3)).await;
    probe.close().await;
    listening.store(false, Ordering::Release);
    let mut bob_ws = listener.await.unwrap();
    let events = events.lock().unwrap().clone();

    assert_eq!(announcements(&events, stays), ["user_online"], "{events:?}");
    assert_eq!(
        announcements(&events, leaves),
        ["user_online", "user_offline"],
        "{events:?}"
    );
    assert_eq!(
        announcements(&events, arrives),
        ["user_online"],
        "{events:?}"
    );
    let flapping = announcements(&events, flaps);
    for pair in flapping.windows(2) {
        assert_ne!(pair[0], pair[1], "announced twice in a row: {flapping:?}");
    }
    if let Some(first) = flapping.first() {
        assert_eq!(*first, "user_online");
    }
    if let Some(last) = flapping.last() {
        assert_eq!(*last, "user_offline");
    }
    eprintln!(
        "presence SIGKILL: {cycles} connect/leave cycles, flapping user announced {} times",
        flapping.len()
    );

    let synced = synced_ids(&mut bob_ws).await;
    assert_nothing_lost(
        "presence SIGKILL",
        120,
        &acked,
        stack.messages_from(stays).await - 1,
        &synced,
    );
}
