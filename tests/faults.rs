//! Faults with traffic running: a gateway or a chat replica killed with SIGKILL. Each test
//! ends with a count of acked vs stored vs delivered (live or by `sync`): nothing acked is
//! lost, nothing is stored twice.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};
use switchboard_test_support::stack::Stack;
use switchboard_test_support::token;
use switchboard_test_support::ws::WsClient;
use uuid::Uuid;

const MESSAGES: usize = 40;

/// Sends message `n` until it is acked, reconnecting through `urls` (as a client behind a
/// load balancer would) and retrying with the same clientMsgId.
async fn send_until_acked(
    client: &mut WsClient,
    urls: &[String],
    user: Uuid,
    to: Uuid,
    n: usize,
) -> Value {
    for attempt in 0..100 {
        let data = json!({"recipientId": to, "content": format!("message {n}"), "clientMsgId": format!("m-{n}")});
        match client
            .try_request("send_message", data, Duration::from_secs(5))
            .await
        {
            Some(reply) if reply.get("error").is_none() => return reply["data"]["message"].clone(),
            Some(reply) => assert_eq!(reply["error"]["code"], "unavailable", "{reply}"),
            None => {
                // The connection is gone: reconnect to whichever gateway answers.
                let url = &urls[attempt % urls.len()];
                if let Ok(mut fresh) = WsClient::open(&format!("{url}?token={}", token(user))).await
                    && fresh
                        .try_event("connected", Duration::from_secs(2))
                        .await
                        .is_some()
                {
                    *client = fresh;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("message {n} was never acked");
}

/// Every message to `user`, by `sync` from the beginning.
async fn synced_ids(client: &mut WsClient) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut after: Option<String> = None;
    loop {
        let mut q = json!({"limit": 500});
        if let Some(a) = &after {
            q["after"] = json!(a);
        }
        let page = client.ok("sync", q).await;
        let got: Vec<String> = page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect();
        after = got.last().cloned();
        ids.extend(got);
        if page["hasMore"] == false {
            return ids;
        }
    }
}

#[tokio::test]
async fn a_killed_gateway_loses_nothing_acked() {
    let mut stack = Stack::start().await;
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let urls: Vec<String> = vec![stack.ws_url(1), stack.ws_url(0)];
    let mut bob_ws = WsClient::connect(&stack.ws_url(1), &token(bob)).await;
    let mut alice_ws = WsClient::connect(&stack.ws_url(0), &token(alice)).await;

    let mut acked = BTreeSet::new();
    for n in 0..MESSAGES {
        if n == MESSAGES / 3 {
            stack.gateways[0].kill().await;
        }
        let m = send_until_acked(&mut alice_ws, &urls, alice, bob, n).await;
        acked.insert(m["id"].as_str().unwrap().to_owned());
    }
    let live: BTreeSet<String> = bob_ws
        .drain_events("message_received")
        .await
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    let synced = synced_ids(&mut bob_ws).await;
    let stored: i64 = stack.message_count().await;
    assert_eq!(acked.len(), MESSAGES);
    assert_eq!(stored, MESSAGES as i64, "each clientMsgId stored once");
    assert!(
        acked.is_subset(&synced),
        "acked {acked:?} synced {synced:?}"
    );
    // Bob's gateway survived: live delivery saw everything too.
    assert_eq!(live, acked);
}

#[tokio::test]
async fn a_killed_chat_replica_loses_nothing_and_stores_nothing_twice() {
    let mut stack = Stack::start().await;
    let bob = Uuid::now_v7();
    let urls: Vec<String> = vec![stack.ws_url(0), stack.ws_url(1)];
    let mut bob_ws = WsClient::connect(&stack.ws_url(1), &token(bob)).await;
    let senders: Vec<Uuid> = (0..4).map(|_| Uuid::now_v7()).collect();
    let mut tasks = Vec::new();
    for (i, s) in senders.iter().enumerate() {
        let (s, urls) = (*s, urls.clone());
        tasks.push(tokio::spawn(async move {
            let mut c = WsClient::connect(&urls[i % 2], &token(s)).await;
            let mut ids = Vec::new();
            for n in 0..MESSAGES / 4 {
                let m = send_until_acked(&mut c, &urls, s, bob, n).await;
                ids.push(m["id"].as_str().unwrap().to_owned());
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            ids
        }));
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    stack.chats[0].kill().await;
    let mut acked = BTreeSet::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    let synced = synced_ids(&mut bob_ws).await;
    let live: BTreeSet<String> = bob_ws
        .drain_events("message_received")
        .await
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(acked.len(), MESSAGES);
    assert_eq!(
        stack.message_count().await,
        MESSAGES as i64,
        "a retry never stores twice"
    );
    assert!(acked.is_subset(&synced));
    // Live delivery is at-least-once for what the surviving replica published; sync has it all.
    assert!(live.is_subset(&synced));
}
