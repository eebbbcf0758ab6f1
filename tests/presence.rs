//! Presence and typing across two gateways and two presence replicas.

use std::time::{Duration, Instant};

use serde_json::json;
use switchboard_test_support::stack::{Stack, StackOptions};
use switchboard_test_support::token;
use switchboard_test_support::ws::WsClient;
use uuid::Uuid;

async fn stack() -> Stack {
    Stack::start_with(StackOptions {
        chat_replicas: 1,
        presence_replicas: 2,
        gateway_replicas: 2,
        ..StackOptions::default()
    })
    .await
}

async fn connect(stack: &Stack, gateway: usize, user: Uuid) -> WsClient {
    WsClient::connect(&stack.ws_url(gateway), &token(user)).await
}

/// Waits until the presence state has recorded `client`'s connection as closed.
async fn close_and_wait(stack: &Stack, client: WsClient) {
    let connection = Uuid::parse_str(&client.connection_id()).unwrap();
    client.close().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let closed: Option<bool> = sqlx::query_scalar(
            "SELECT closed_at IS NOT NULL FROM presence_connections WHERE connection_id = $1",
        )
        .bind(connection)
        .fetch_optional(&stack.db.pool)
        .await
        .unwrap();
        if closed == Some(true) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("connection {connection} still live");
}

/// `a` and `b` exchange a message, which makes them contacts; `a` is offline afterwards.
async fn make_contacts(stack: &Stack, a: Uuid, b: Uuid) {
    let mut c = connect(stack, 0, a).await;
    c.ok(
        "send_message",
        json!({"recipientId": b, "content": "hello"}),
    )
    .await;
    close_and_wait(stack, c).await;
}

const QUIET: Duration = Duration::from_millis(1200);

#[tokio::test]
async fn online_and_offline_once_per_real_transition_and_only_to_contacts() {
    let stack = stack().await;
    let (alice, bob, carol) = (
        Uuid::now_v7(),
        stack.create_user("lawyer").await,
        Uuid::now_v7(),
    );
    make_contacts(&stack, alice, bob).await;
    let mut bob_ws = connect(&stack, 1, bob).await;
    let mut carol_ws = connect(&stack, 0, carol).await;

    let tab1 = connect(&stack, 0, alice).await;
    assert_eq!(
        bob_ws.expect_event("user_online").await,
        json!({"userId": alice})
    );
    // A second tab on the other replica: still one user, no news.
    let tab2 = connect(&stack, 1, alice).await;
    bob_ws.expect_no_event("user_online", QUIET).await;
    // Closing one of the two: still online.
    tab1.close().await;
    bob_ws.expect_no_event("user_offline", QUIET).await;
    tab2.close().await;
    let offline = bob_ws.expect_event("user_offline").await;
    assert_eq!(offline["userId"], alice.to_string());
    let last_seen = offline["lastSeenAt"].as_str().unwrap();
    assert!(last_seen.ends_with('Z'));
    // Persisted on the user.
    let persisted: bool =
        sqlx::query_scalar("SELECT last_seen_at IS NOT NULL FROM users WHERE id = $1")
            .bind(alice)
            .fetch_one(&stack.db.pool)
            .await
            .unwrap();
    assert!(persisted);
    // Carol is no contact of Alice's: she heard nothing at all.
    carol_ws
        .expect_no_event("user_online", Duration::from_millis(200))
        .await;
    carol_ws
        .expect_no_event("user_offline", Duration::from_millis(200))
        .await;
}

#[tokio::test]
async fn get_presence_answers_for_contacts_only() {
    let stack = stack().await;
    let (alice, bob, carol, dave) = (
        stack.create_user("applicant").await,
        Uuid::now_v7(),
        Uuid::now_v7(),
        stack.create_user("lawyer").await,
    );
    make_contacts(&stack, bob, alice).await;
    make_contacts(&stack, alice, dave).await;
    dave_was_online_once(&stack, dave).await;
    let _bob_ws = connect(&stack, 1, bob).await;
    let _carol_ws = connect(&stack, 1, carol).await;
    let mut a = connect(&stack, 0, alice).await;

    let reply = a
        .ok("get_presence", json!({"userIds": [bob, carol, dave]}))
        .await;
    let presence = reply["presence"].as_array().unwrap();
    // Carol (online, but no contact) is not reported at all.
    assert_eq!(presence.len(), 2, "{reply}");
    let of = |id: Uuid| {
        presence
            .iter()
            .find(|p| p["userId"] == id.to_string())
            .unwrap()
            .clone()
    };
    assert_eq!(of(bob)["online"], true);
    assert_eq!(of(dave)["online"], false);
    assert!(of(dave)["lastSeenAt"].as_str().is_some());
    assert_eq!(
        a.error_code("get_presence", json!({"userIds": ["nope"]}))
            .await,
        "invalid_request"
    );
    assert_eq!(
        a.error_code("get_presence", json!({})).await,
        "invalid_request"
    );

    // The REST twin.
    let http = reqwest::Client::new();
    let r: serde_json::Value = http
        .get(format!(
            "{}/v1/presence?userIds={bob},{carol}",
            stack.http_url(1)
        ))
        .bearer_auth(token(alice))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["presence"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["presence"][0]["userId"], bob.to_string());
    let unauthenticated = http
        .get(format!("{}/v1/presence?userIds={bob}", stack.http_url(1)))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
}

/// Dave has been online once (so he has a last-seen time) and is offline now.
async fn dave_was_online_once(stack: &Stack, dave: Uuid) {
    let c = connect(stack, 1, dave).await;
    close_and_wait(stack, c).await;
}

#[tokio::test]
async fn a_killed_gateway_takes_its_users_offline_within_ten_seconds() {
    let mut stack = stack().await;
    let (alice, bob) = (Uuid::now_v7(), stack.create_user("applicant").await);
    make_contacts(&stack, alice, bob).await;
    let mut bob_ws = connect(&stack, 1, bob).await;
    let _alice_ws = connect(&stack, 0, alice).await;
    bob_ws.expect_event("user_online").await;

    stack.gateways[0].kill().await;
    let killed = Instant::now();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match bob_ws.next_frame_until(deadline).await {
            Some(switchboard_test_support::ws::Frame::Json(v)) if v["event"] == "user_offline" => {
                assert_eq!(v["data"]["userId"], alice.to_string());
                break;
            }
            Some(switchboard_test_support::ws::Frame::Json(_)) => continue,
            other => panic!("no user_offline within 10 s of the kill: {other:?}"),
        }
    }
    assert!(killed.elapsed() < Duration::from_secs(10));

    // The gateway comes back (a new process): nothing stale is revived, Alice stays offline
    // until she really connects again.
    stack.gateways[0].restart().await;
    bob_ws
        .expect_no_event("user_online", Duration::from_secs(3))
        .await;
    let _again = connect(&stack, 0, alice).await;
    assert_eq!(
        bob_ws.expect_event("user_online").await["userId"],
        alice.to_string()
    );
}

#[tokio::test]
async fn restarting_presence_keeps_everyone_online_and_repairs_what_it_missed() {
    let mut stack = stack().await;
    let (alice, bob, carol) = (
        Uuid::now_v7(),
        stack.create_user("lawyer").await,
        Uuid::now_v7(),
    );
    make_contacts(&stack, alice, bob).await;
    make_contacts(&stack, carol, bob).await;
    let mut bob_ws = connect(&stack, 1, bob).await;
    let _alice_ws = connect(&stack, 0, alice).await;
    let carol_ws = connect(&stack, 0, carol).await;
    for _ in 0..2 {
        bob_ws.expect_event("user_online").await;
    }

    for p in &mut stack.presences {
        p.stop().await;
    }
    // While no presence service runs, Carol leaves; that event is lost.
    carol_ws.close().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for p in &mut stack.presences {
        p.restart().await;
    }
    // The gateways' heartbeats reveal the difference; a snapshot repairs it.
    let offline = bob_ws
        .try_event("user_offline", Duration::from_secs(10))
        .await;
    assert_eq!(
        offline.expect("carol's offline after the repair")["userId"],
        carol.to_string()
    );
    // Alice, connected throughout, was never reported offline nor announced twice.
    bob_ws
        .expect_no_event("user_online", Duration::from_secs(3))
        .await;
    bob_ws
        .expect_no_event("user_offline", Duration::from_millis(100))
        .await;
    let mut bob_again = connect(&stack, 0, bob).await;
    let p = bob_again
        .ok("get_presence", json!({"userIds": [alice, carol]}))
        .await;
    let online: Vec<(String, bool)> = p["presence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["userId"].as_str().unwrap().to_owned(),
                x["online"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(online.contains(&(alice.to_string(), true)), "{online:?}");
    assert!(online.contains(&(carol.to_string(), false)), "{online:?}");
}

#[tokio::test]
async fn typing_reaches_contacts_across_replicas_and_stops_on_disconnect() {
    let stack = stack().await;
    let (alice, bob, carol) = (
        Uuid::now_v7(),
        stack.create_user("lawyer").await,
        Uuid::now_v7(),
    );
    make_contacts(&stack, alice, bob).await;
    let mut bob_ws = connect(&stack, 1, bob).await;
    let mut carol_ws = connect(&stack, 1, carol).await;
    let mut a = connect(&stack, 0, alice).await;

    assert_eq!(
        a.ok("user_typing", json!({"recipientId": bob})).await,
        json!({})
    );
    assert_eq!(
        bob_ws.expect_event("user_typing").await,
        json!({"userId": alice})
    );
    // Repeats within the relay interval are acked but not relayed again.
    a.ok("user_typing", json!({"recipientId": bob})).await;
    bob_ws
        .expect_no_event("user_typing", Duration::from_millis(300))
        .await;
    a.ok("user_stop_typing", json!({"recipientId": bob})).await;
    assert_eq!(
        bob_ws.expect_event("user_stop_typing").await,
        json!({"userId": alice})
    );

    // To a non-contact: refused, and nothing arrives.
    assert_eq!(
        a.error_code("user_typing", json!({"recipientId": carol}))
            .await,
        "forbidden"
    );
    carol_ws
        .expect_no_event("user_typing", Duration::from_millis(500))
        .await;
    assert_eq!(
        a.error_code("user_typing", json!({"recipientId": "x"}))
            .await,
        "invalid_request"
    );

    // Typing, then gone: the recipient is told to stop.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    a.ok("user_typing", json!({"recipientId": bob})).await;
    bob_ws.expect_event("user_typing").await;
    a.close().await;
    assert_eq!(
        bob_ws.expect_event("user_stop_typing").await,
        json!({"userId": alice})
    );
    // Nothing typed was stored.
    assert_eq!(stack.message_count().await, 1);
}
