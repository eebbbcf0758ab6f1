//! The REST fallback: the same rules and errors as the socket, over HTTP.

use serde_json::{Value, json};
use switchboard_test_support::stack::{Stack, StackOptions};
use switchboard_test_support::token;
use switchboard_test_support::ws::WsClient;
use uuid::Uuid;

async fn stack() -> Stack {
    Stack::start_with(StackOptions {
        chat_replicas: 1,
        ..StackOptions::default()
    })
    .await
}

#[tokio::test]
async fn rest_sends_reads_and_pages_like_the_socket() {
    let stack = stack().await;
    let http = reqwest::Client::new();
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let mut bob_ws = WsClient::connect(&stack.ws_url(1), &token(bob)).await;

    let created = http
        .post(format!("{}/v1/messages", stack.http_url(0)))
        .bearer_auth(token(alice))
        .json(&json!({"recipientId": bob, "content": "over http", "clientMsgId": "r1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let message = created["message"].clone();
    assert_eq!(message["senderId"], alice.to_string());
    // Delivered live to the recipient's socket on the other gateway.
    assert_eq!(bob_ws.expect_event("message_received").await, message);
    // A retry returns the same message.
    let again: Value = http
        .post(format!("{}/v1/messages", stack.http_url(1)))
        .bearer_auth(token(alice))
        .json(&json!({"recipientId": bob, "content": "over http", "clientMsgId": "r1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["message"], message);

    let read = http
        .post(format!(
            "{}/v1/messages/{}/read",
            stack.http_url(0),
            message["id"].as_str().unwrap()
        ))
        .bearer_auth(token(bob))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let read: Value = read.json().await.unwrap();
    assert_eq!(read["messageId"], message["id"]);

    let page = http
        .get(format!(
            "{}/v1/conversations/{bob}/messages?limit=10",
            stack.http_url(1)
        ))
        .bearer_auth(token(alice))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let page: Value = page.json().await.unwrap();
    assert_eq!(page["hasMore"], false);
    assert_eq!(page["messages"].as_array().unwrap().len(), 1);
    assert_eq!(page["messages"][0]["readAt"], read["readAt"]);
    assert_eq!(stack.message_count().await, 1);
}

#[tokio::test]
async fn rest_errors_have_codes_and_statuses() {
    let stack = stack().await;
    let http = reqwest::Client::new();
    let base = stack.http_url(0);
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let post = |body: Value, tok: Option<String>| {
        let mut r = http.post(format!("{base}/v1/messages")).json(&body);
        if let Some(t) = tok {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    let check = |resp: reqwest::Response, status: u16, code: &'static str| async move {
        assert_eq!(resp.status().as_u16(), status);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["code"], code, "{v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    };
    check(
        post(json!({"recipientId": bob, "content": "hi"}), None)
            .await
            .unwrap(),
        401,
        "unauthorized",
    )
    .await;
    check(
        post(
            json!({"recipientId": bob, "content": "hi"}),
            Some("garbage".into()),
        )
        .await
        .unwrap(),
        401,
        "unauthorized",
    )
    .await;
    check(
        post(
            json!({"recipientId": bob, "content": ""}),
            Some(token(alice)),
        )
        .await
        .unwrap(),
        400,
        "invalid_request",
    )
    .await;
    check(
        post(
            json!({"recipientId": bob, "content": "nobody"}),
            Some(token(alice)),
        )
        .await
        .unwrap(),
        404,
        "not_found",
    )
    .await;
    let huge = json!({"recipientId": bob, "content": "x".repeat(70_000)});
    check(
        post(huge, Some(token(alice))).await.unwrap(),
        413,
        "too_large",
    )
    .await;
    let not_json = http
        .post(format!("{base}/v1/messages"))
        .bearer_auth(token(alice))
        .body("{")
        .send()
        .await
        .unwrap();
    check(not_json, 400, "invalid_request").await;
    let bad_limit = http
        .get(format!("{base}/v1/conversations/{bob}/messages?limit=lots"))
        .bearer_auth(token(alice))
        .send()
        .await
        .unwrap();
    check(bad_limit, 400, "invalid_request").await;
    let nobody_read = http
        .post(format!("{base}/v1/messages/{}/read", Uuid::now_v7()))
        .bearer_auth(token(alice))
        .send()
        .await
        .unwrap();
    check(nobody_read, 404, "not_found").await;
    let unknown = http.get(format!("{base}/v1/nothing")).send().await.unwrap();
    check(unknown, 404, "not_found").await;
    // Health and readiness.
    assert_eq!(
        http.get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        http.get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("switchboard_gateway_connections"),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after() {
    let stack = Stack::start_with(StackOptions {
        chat_replicas: 1,
        gateway_replicas: 1,
        gateway_env: vec![
            ("RATE_LIMIT_PER_USER".into(), "2".into()),
            ("RATE_LIMIT_BURST".into(), "3".into()),
        ],
        ..StackOptions::default()
    })
    .await;
    let http = reqwest::Client::new();
    let (alice, bob) = (Uuid::now_v7(), stack.create_user("lawyer").await);
    let mut statuses = Vec::new();
    for i in 0..5 {
        let r = http
            .post(format!("{}/v1/messages", stack.http_url(0)))
            .bearer_auth(token(alice))
            .json(&json!({"recipientId": bob, "content": format!("m{i}")}))
            .send()
            .await
            .unwrap();
        if r.status() == 429 {
            assert_eq!(r.headers()["retry-after"], "1");
        }
        statuses.push(r.status().as_u16());
    }
    assert_eq!(&statuses[..3], &[201, 201, 201]);
    assert!(statuses[3..].contains(&429), "{statuses:?}");
    // The socket shares the same budget and says so with a clear code.
    let mut ws = WsClient::connect(&stack.ws_url(0), &token(alice)).await;
    let code = ws
        .error_code(
            "send_message",
            json!({"recipientId": bob, "content": "more"}),
        )
        .await;
    assert_eq!(code, "rate_limited");
}
