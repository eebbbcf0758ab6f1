//! The official `socket.io-client` (Node) against two real gateway replicas: the Node test
//! in `tests/socketio/` drives them; this test starts the stack and checks its verdict.

use switchboard_test_support::TEST_JWT_SECRET;
use switchboard_test_support::stack::{Stack, StackOptions};

#[tokio::test]
async fn the_official_socket_io_client_does_everything_the_native_protocol_does() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("socketio");
    assert!(
        dir.join("node_modules/socket.io-client").exists(),
        "socket.io-client is not installed: npm ci --prefix tests/socketio (scripts/test.sh does)"
    );
    let (ping_interval, ping_timeout) = (400u64, 400u64);
    let stack = Stack::start_with(StackOptions {
        chat_replicas: 1,
        presence_replicas: 1,
        gateway_replicas: 2,
        gateway_env: vec![
            ("PING_INTERVAL_MS".into(), ping_interval.to_string()),
            ("PONG_TIMEOUT_MS".into(), ping_timeout.to_string()),
        ],
        ..StackOptions::default()
    })
    .await;
    let gateways = (0..2)
        .map(|i| stack.http_url(i))
        .collect::<Vec<_>>()
        .join(",");
    let out = tokio::process::Command::new("node")
        .arg("--test")
        .arg("--test-reporter=spec")
        .arg("socketio.test.mjs")
        .current_dir(&dir)
        .env("SB_GATEWAYS", gateways)
        .env("SB_JWT_SECRET", TEST_JWT_SECRET)
        .env("SB_PING_MS", (ping_interval + ping_timeout).to_string())
        .output()
        .await
        .expect("node runs");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "socket.io-client tests failed:\n{report}"
    );
    assert!(report.contains("pass 6"), "{report}");
}
