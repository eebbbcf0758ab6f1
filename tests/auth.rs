//! The handshake: the three ways to pass a token, refusals before and after the upgrade,
//! the auth timeout, expiry and refresh, the Origin allow-list, public-key tokens.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use switchboard_test_support::stack::{Stack, StackOptions};
use switchboard_test_support::ws::WsClient;
use switchboard_test_support::{TEST_JWT_SECRET, token, token_with};
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use uuid::Uuid;

fn one_gateway(env: Vec<(&str, &str)>) -> StackOptions {
    StackOptions {
        chat_replicas: 1,
        gateway_replicas: 1,
        gateway_env: env
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        ..StackOptions::default()
    }
}

fn testdata(name: &str) -> String {
    format!(
        "{}/../crates/common/testdata/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// The HTTP status of a refused upgrade.
async fn upgrade_status(request: tokio_tungstenite::tungstenite::http::Request<()>) -> u16 {
    match WsClient::open_request(request).await {
        Err(WsError::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("the upgrade should have been refused"),
    }
}

#[tokio::test]
async fn a_token_may_come_in_the_header_the_query_or_the_first_frame() {
    let stack = Stack::start_with(one_gateway(vec![])).await;
    let user = Uuid::now_v7();

    let mut header = stack.ws_url(0).into_client_request().unwrap();
    header.headers_mut().insert(
        "authorization",
        format!("Bearer {}", token(user)).parse().unwrap(),
    );
    let mut c = WsClient::open_request(header).await.unwrap();
    let connected = c.expect_event("connected").await;
    assert_eq!(connected["userId"], user.to_string());
    assert!(Uuid::parse_str(connected["connectionId"].as_str().unwrap()).is_ok());

    let q = WsClient::connect(&stack.ws_url(0), &token(user)).await;
    assert_ne!(
        q.connection_id(),
        connected["connectionId"].as_str().unwrap()
    );

    let mut f = WsClient::open(&stack.ws_url(0)).await.unwrap();
    f.send_text(json!({"event": "auth", "data": {"token": token(user)}, "ack": 1}).to_string())
        .await;
    assert_eq!(
        f.expect_event("connected").await["userId"],
        user.to_string()
    );
    assert_eq!(f.expect_ack(1).await["data"]["userId"], user.to_string());
    // Each works for real traffic.
    assert_eq!(f.ok("sync", json!({})).await["messages"], json!([]));
}

#[tokio::test]
async fn bad_tokens_get_401_before_the_upgrade_and_4001_after() {
    let stack = Stack::start_with(one_gateway(vec![])).await;
    let user = Uuid::now_v7();
    let forged =
        switchboard_common::auth::mint_hs256("not-the-real-secret-at-all", user, 60, json!({}))
            .unwrap();
    let expired = token_with(user, 0, json!({"exp": 1_000_000}));

    for bad in [forged.as_str(), expired.as_str(), "not.a.jwt"] {
        let url = format!("{}?token={bad}", stack.ws_url(0));
        assert_eq!(
            upgrade_status(url.into_client_request().unwrap()).await,
            401
        );
        let mut req = stack.ws_url(0).into_client_request().unwrap();
        req.headers_mut()
            .insert("authorization", format!("Bearer {bad}").parse().unwrap());
        assert_eq!(upgrade_status(req).await, 401);

        let mut c = WsClient::open(&stack.ws_url(0)).await.unwrap();
        c.send_text(json!({"event": "auth", "data": {"token": bad}}).to_string())
            .await;
        let (code, reason) = c.expect_close().await;
        assert_eq!(code, 4001, "{reason}");
    }
    // A first frame that is not auth.
    let mut c = WsClient::open(&stack.ws_url(0)).await.unwrap();
    c.send_text(json!({"event": "sync", "data": {}}).to_string())
        .await;
    assert_eq!(c.expect_close().await.0, 4001);
    // A non-UUID subject.
    let mut claims_token = WsClient::open(&stack.ws_url(0)).await.unwrap();
    let bad_sub = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": "alice", "exp": chrono_now() + 60}),
        &EncodingKey::from_secret(TEST_JWT_SECRET.as_bytes()).unwrap(),
    )
    .unwrap();
    claims_token
        .send_text(json!({"event": "auth", "data": {"token": bad_sub}}).to_string())
        .await;
    let (code, reason) = claims_token.expect_close().await;
    assert_eq!(code, 4001);
    assert!(reason.contains("UUID"), "{reason}");
    // The 401 body is a JSON error, and no token appears in the gateway's log.
    let body = reqwest::Client::new()
        .get(format!("{}/ws?token={forged}", stack.http_url(0)))
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .unwrap();
    assert_eq!(body.status(), 401);
    let v: serde_json::Value = body.json().await.unwrap();
    assert_eq!(v["error"]["code"], "unauthorized");
    assert!(!stack.gateways[0].log_text().contains(&forged));
}

fn chrono_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn a_silent_socket_is_closed_after_the_auth_timeout() {
    let stack = Stack::start_with(one_gateway(vec![("AUTH_TIMEOUT_MS", "500")])).await;
    let mut c = WsClient::open(&stack.ws_url(0)).await.unwrap();
    let (code, reason) = c.expect_close().await;
    assert_eq!(code, 4001);
    assert!(reason.contains("timeout"), "{reason}");
}

#[tokio::test]
async fn an_expiring_token_closes_the_connection_unless_refreshed() {
    let stack = Stack::start_with(one_gateway(vec![("JWT_LEEWAY_SECS", "0")])).await;
    let user = Uuid::now_v7();
    let mut short = WsClient::connect(&stack.ws_url(0), &token_with(user, 2, json!({}))).await;
    let mut refreshed = WsClient::connect(&stack.ws_url(0), &token_with(user, 2, json!({}))).await;
    let reply = refreshed
        .ok(
            "refresh_token",
            json!({"token": token_with(user, 3600, json!({}))}),
        )
        .await;
    assert!(reply["expiresAt"].as_str().unwrap().ends_with('Z'));
    // Someone else's token cannot be swapped in.
    assert_eq!(
        refreshed
            .error_code("refresh_token", json!({"token": token(Uuid::now_v7())}))
            .await,
        "forbidden"
    );
    assert_eq!(
        refreshed
            .error_code("refresh_token", json!({"token": "junk"}))
            .await,
        "unauthorized"
    );
    let (code, reason) = short.expect_close().await;
    assert_eq!(code, 4001);
    assert!(reason.contains("expired"), "{reason}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(refreshed.ok("sync", json!({})).await["hasMore"], false);
}

#[tokio::test]
async fn browser_origins_are_checked_against_the_allow_list() {
    let stack = Stack::start_with(one_gateway(vec![(
        "ALLOWED_ORIGINS",
        "https://app.example",
    )]))
    .await;
    let user = Uuid::now_v7();
    let url = format!("{}?token={}", stack.ws_url(0), token(user));
    let mut evil = url.as_str().into_client_request().unwrap();
    evil.headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    assert_eq!(upgrade_status(evil).await, 403);
    let mut good = url.as_str().into_client_request().unwrap();
    good.headers_mut()
        .insert("origin", "https://app.example".parse().unwrap());
    let mut c = WsClient::open_request(good).await.unwrap();
    c.expect_event("connected").await;
}

#[tokio::test]
async fn public_key_tokens_from_a_jwks_file() {
    let jwks = testdata("jwks.json");
    // Only the JWKS: the dev secret is switched off.
    let stack = Stack::start_with(one_gateway(vec![
        ("JWT_JWKS_FILE", jwks.as_str()),
        ("JWT_SECRET", ""),
    ]))
    .await;
    let user = Uuid::now_v7();
    let claims = json!({"sub": user.to_string(), "exp": chrono_now() + 600, "role": "lawyer"});
    let rsa =
        EncodingKey::from_rsa_pem(&std::fs::read(testdata("rsa2_private.pem")).unwrap()).unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("rsa-2026-12".into());
    let good = jsonwebtoken::encode(&header, &claims, &rsa).unwrap();
    WsClient::connect(&stack.ws_url(0), &good).await;
    // HS256 "signed" with the public key, the dev secret, and alg none are all refused.
    let public_pem = std::fs::read(testdata("rsa_public.pem")).unwrap();
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some("rsa-2026-11".into());
    let confused = jsonwebtoken::encode(
        &hs,
        &claims,
        &EncodingKey::from_secret(&public_pem).unwrap(),
    )
    .unwrap();
    let dev = token(user);
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let none = format!(
        "{}.{}.",
        b64.encode(r#"{"alg":"none"}"#),
        b64.encode(claims.to_string())
    );
    for bad in [confused, dev, none] {
        let url = format!("{}?token={bad}", stack.ws_url(0));
        assert_eq!(
            upgrade_status(url.into_client_request().unwrap()).await,
            401
        );
    }
}
