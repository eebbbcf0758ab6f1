//! The chat service's gRPC face for internal callers, its health and reflection, and the
//! CLI's user import through it.

use serde_json::json;
use switchboard_proto::chat::v1::{
    self as pb, chat_service_client::ChatServiceClient, user_service_client::UserServiceClient,
};
use switchboard_test_support::process::binaries_dir;
use switchboard_test_support::stack::{Stack, StackOptions};
use switchboard_test_support::token;
use switchboard_test_support::ws::WsClient;
use tonic::transport::Channel;
use uuid::Uuid;

async fn stack() -> Stack {
    Stack::start_with(StackOptions {
        chat_replicas: 1,
        gateway_replicas: 1,
        ..StackOptions::default()
    })
    .await
}

async fn channel(stack: &Stack) -> Channel {
    Channel::from_shared(format!("http://{}", stack.chats[0].addr("grpc")))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

#[tokio::test]
async fn internal_callers_send_page_and_list_conversations() {
    let stack = stack().await;
    let ch = channel(&stack).await;
    let mut users = UserServiceClient::new(ch.clone());
    let mut chat = ChatServiceClient::new(ch);
    let (lawyer, applicant) = (Uuid::now_v7(), Uuid::now_v7());
    for (id, role) in [(lawyer, pb::Role::Lawyer), (applicant, pb::Role::Applicant)] {
        let user = users
            .upsert_user(pb::UpsertUserRequest {
                id: id.to_string(),
                email: Some(format!("{}@example.test", id.simple())),
                display_name: Some("Someone".into()),
                role: role as i32,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(user.role, role as i32);
    }
    // A recipient who never connected still gets the message live once online, and it
    // is listed with its unread count.
    let mut ws = WsClient::connect(&stack.ws_url(0), &token(applicant)).await;
    let sent = chat
        .send_message(pb::SendMessageRequest {
            sender_id: lawyer.to_string(),
            recipient_id: applicant.to_string(),
            content: "Your appointment is confirmed".into(),
            client_msg_id: Some("sys-1".into()),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!sent.duplicate);
    let message = sent.message.unwrap();
    assert_eq!(ws.expect_event("message_received").await["id"], message.id);
    let retry = chat
        .send_message(pb::SendMessageRequest {
            sender_id: lawyer.to_string(),
            recipient_id: applicant.to_string(),
            content: "Your appointment is confirmed".into(),
            client_msg_id: Some("sys-1".into()),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(retry.duplicate);
    assert_eq!(retry.message.unwrap().id, message.id);

    let convs = chat
        .list_conversations(pb::ListConversationsRequest {
            user_id: applicant.to_string(),
            limit: None,
        })
        .await
        .unwrap()
        .into_inner()
        .conversations;
    assert_eq!(convs.len(), 1);
    assert_eq!(convs[0].peer_id, lawyer.to_string());
    assert_eq!(convs[0].unread_count, 1);
    ws.ok("mark_message_read", json!({"messageId": message.id}))
        .await;
    let page = chat
        .get_history(pb::GetHistoryRequest {
            user_id: lawyer.to_string(),
            peer_id: applicant.to_string(),
            before: None,
            limit: Some(10),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(page.messages[0].read_at.is_some());

    let bad = chat
        .send_message(pb::SendMessageRequest {
            sender_id: lawyer.to_string(),
            recipient_id: "nope".into(),
            content: "x".into(),
            client_msg_id: None,
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    let missing = users
        .get_user(pb::GetUserRequest {
            id: Uuid::now_v7().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);
}

#[tokio::test]
async fn health_and_reflection_are_served() {
    use tonic_health::pb::health_client::HealthClient;
    let stack = stack().await;
    let ch = channel(&stack).await;
    let status = HealthClient::new(ch.clone())
        .check(tonic_health::pb::HealthCheckRequest {
            service: "switchboard.chat.v1.ChatService".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut replies = ServerReflectionClient::new(ch)
        .server_reflection_info(futures_util::stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let reply = replies.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
        panic!("unexpected reflection reply");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in [
        "switchboard.chat.v1.ChatService",
        "switchboard.chat.v1.UserService",
    ] {
        assert!(names.iter().any(|n| n == expected), "{names:?}");
    }
    // The ops endpoints.
    let http = reqwest::Client::new();
    let base = format!("http://{}", stack.chats[0].addr("http"));
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
        metrics.contains("switchboard_chat_messages_stored_total"),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_cli_imports_users_from_csv() {
    let stack = stack().await;
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let dir = std::env::temp_dir().join(format!("sb-import-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("users.csv");
    std::fs::write(
        &csv,
        format!("id,email,display_name,role\n{a},a@example.test,Ann Lawyer,lawyer\n{b},b@example.test,Ben,applicant\n"),
    )
    .unwrap();
    let out = tokio::process::Command::new(binaries_dir().join("switchboard"))
        .arg("import-users")
        .arg(&csv)
        .arg("--grpc")
        .arg(format!("http://{}", stack.chats[0].addr("grpc")))
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 users read"));
    let role: String = sqlx::query_scalar("SELECT role FROM users WHERE id = $1")
        .bind(a)
        .fetch_one(&stack.db.pool)
        .await
        .unwrap();
    assert_eq!(role, "lawyer");
    // A bad row is refused with its line number, and nothing is half-imported.
    std::fs::write(
        &csv,
        format!("{}, x@example.test, X, wizard\n", Uuid::now_v7()),
    )
    .unwrap();
    let out = tokio::process::Command::new(binaries_dir().join("switchboard"))
        .arg("import-users")
        .arg(&csv)
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1"));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn connecting_records_the_user_from_the_token() {
    let stack = stack().await;
    let user = Uuid::now_v7();
    let t = switchboard_test_support::token_with(
        user,
        600,
        json!({"email": "new@example.test", "name": "New Person", "role": "lawyer"}),
    );
    let _c = WsClient::connect(&stack.ws_url(0), &t).await;
    let (email, name, role): (String, String, String) =
        sqlx::query_as("SELECT email, display_name, role FROM users WHERE id = $1")
            .bind(user)
            .fetch_one(&stack.db.pool)
            .await
            .unwrap();
    assert_eq!(
        (email.as_str(), name.as_str(), role.as_str()),
        ("new@example.test", "New Person", "lawyer")
    );
}
