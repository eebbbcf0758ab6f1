//! A running Switchboard: chat, presence and gateway replicas on one fresh database and one
//! unique NATS prefix.

use uuid::Uuid;

use crate::TEST_JWT_SECRET;
use crate::db::TestDatabase;
use crate::process::ServiceProcess;

/// The local NATS (`TEST_NATS_URL`, else the default).
pub fn nats_url() -> String {
    std::env::var("TEST_NATS_URL")
        .unwrap_or_else(|_| switchboard_common::config::DEFAULT_NATS_URL.to_owned())
}

pub struct StackOptions {
    pub chat_replicas: usize,
    pub presence_replicas: usize,
    pub gateway_replicas: usize,
    /// Extra environment for every gateway.
    pub gateway_env: Vec<(String, String)>,
    /// Extra environment for every chat replica.
    pub chat_env: Vec<(String, String)>,
    /// Extra environment for every presence replica.
    pub presence_env: Vec<(String, String)>,
}

impl Default for StackOptions {
    fn default() -> Self {
        Self {
            chat_replicas: 2,
            presence_replicas: 1,
            gateway_replicas: 2,
            gateway_env: Vec::new(),
            chat_env: Vec::new(),
            presence_env: Vec::new(),
        }
    }
}

pub struct Stack {
    pub db: TestDatabase,
    pub prefix: String,
    pub chats: Vec<ServiceProcess>,
    pub presences: Vec<ServiceProcess>,
    pub gateways: Vec<ServiceProcess>,
}

impl Stack {
    /// Two chat replicas and two gateways.
    pub async fn start() -> Self {
        Self::start_with(StackOptions::default()).await
    }

    pub async fn start_with(options: StackOptions) -> Self {
        let db = TestDatabase::create().await;
        let prefix = format!("t{}", Uuid::new_v4().simple());
        let common = vec![
            ("DATABASE_URL".to_owned(), db.url.clone()),
            ("NATS_URL".to_owned(), nats_url()),
            ("NATS_SUBJECT_PREFIX".to_owned(), prefix.clone()),
            ("RUST_LOG".to_owned(), "info".to_owned()),
        ];
        let mut chats = Vec::new();
        for i in 0..options.chat_replicas {
            let mut env = common.clone();
            env.extend([
                ("CHAT_GRPC_ADDR".to_owned(), "127.0.0.1:0".to_owned()),
                ("CHAT_HTTP_ADDR".to_owned(), "127.0.0.1:0".to_owned()),
                ("CHAT_DB_MAX_CONNECTIONS".to_owned(), "4".to_owned()),
            ]);
            env.extend(options.chat_env.iter().cloned());
            chats.push(ServiceProcess::start("switchboard-chat", &format!("chat{i}"), env).await);
        }
        let mut presences = Vec::new();
        for i in 0..options.presence_replicas {
            let mut env = common.clone();
            env.extend([
                ("PRESENCE_GRPC_ADDR".to_owned(), "127.0.0.1:0".to_owned()),
                ("PRESENCE_HTTP_ADDR".to_owned(), "127.0.0.1:0".to_owned()),
                ("PRESENCE_DB_MAX_CONNECTIONS".to_owned(), "4".to_owned()),
            ]);
            env.extend(options.presence_env.iter().cloned());
            presences.push(
                ServiceProcess::start("switchboard-presence", &format!("presence{i}"), env).await,
            );
        }
        let mut gateways = Vec::new();
        for i in 0..options.gateway_replicas {
            let mut env = common.clone();
            env.extend([
                ("GATEWAY_ADDR".to_owned(), "127.0.0.1:0".to_owned()),
                ("GATEWAY_ID".to_owned(), format!("gw{i}")),
                ("JWT_SECRET".to_owned(), TEST_JWT_SECRET.to_owned()),
                ("CHAT_REQUEST_TIMEOUT_MS".to_owned(), "3000".to_owned()),
            ]);
            env.extend(options.gateway_env.iter().cloned());
            gateways.push(
                ServiceProcess::start("switchboard-gateway", &format!("gateway{i}"), env).await,
            );
        }
        Self {
            db,
            prefix,
            chats,
            presences,
            gateways,
        }
    }

    /// `ws://…/ws` of gateway `i`.
    pub fn ws_url(&self, i: usize) -> String {
        format!("ws://{}/ws", self.gateways[i].addr("http"))
    }

    /// `http://…` of gateway `i`.
    pub fn http_url(&self, i: usize) -> String {
        format!("http://{}", self.gateways[i].addr("http"))
    }

    /// A user who never connected (as if imported), so they can receive messages.
    pub async fn create_user(&self, role: &str) -> Uuid {
        let id = Uuid::now_v7();
        sqlx::query("INSERT INTO users (id, email, display_name, role) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(format!("{}@example.test", id.simple()))
            .bind(format!("User {}", &id.simple().to_string()[..6]))
            .bind(role)
            .execute(&self.db.pool)
            .await
            .expect("insert user");
        id
    }

    /// Rows in `messages`.
    pub async fn message_count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM messages")
            .fetch_one(&self.db.pool)
            .await
            .expect("count messages")
    }
}
