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
    /// The NATS every service uses (default: [`nats_url`]); a test that stops NATS brings
    /// its own ([`crate::nats_server::NatsServer`]).
    pub nats_url: Option<String>,
    /// The PostgreSQL server the test database is made on, as a URL of its maintenance
    /// database (default: `TEST_DATABASE_URL`); a test that restarts PostgreSQL brings its
    /// own ([`crate::postgres_server::PostgresServer`]).
    pub database_server_url: Option<String>,
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
            nats_url: None,
            database_server_url: None,
        }
    }
}

pub struct Stack {
    pub db: TestDatabase,
    pub prefix: String,
    /// The NATS the services use.
    pub nats_url: String,
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
        let db = match &options.database_server_url {
            Some(server) => TestDatabase::create_on(server).await,
            None => TestDatabase::create().await,
        };
        let nats = options.nats_url.clone().unwrap_or_else(nats_url);
        let prefix = format!("t{}", Uuid::new_v4().simple());
        let common = vec![
            ("DATABASE_URL".to_owned(), db.url.clone()),
            ("NATS_URL".to_owned(), nats.clone()),
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
            nats_url: nats,
            chats,
            presences,
            gateways,
        }
    }

    /// `ws://…/ws` of gateway `i`.
    pub fn ws_url(&self, i: usize) -> String {
        format!("ws://{}/ws", self.gateways[i].addr("http"))
    }

    /// `http://…` of every service's ops endpoints (gateways, chat, presence).
    pub fn ops_urls(&self) -> Vec<String> {
        self.gateways
            .iter()
            .chain(&self.chats)
            .chain(&self.presences)
            .map(|p| format!("http://{}", p.addr("http")))
            .collect()
    }

    /// Rows in `messages` sent by `sender`.
    pub async fn messages_from(&self, sender: Uuid) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM messages WHERE sender_id = $1")
            .bind(sender)
            .fetch_one(&self.db.pool)
            .await
            .expect("count messages")
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

/// The HTTP status of `GET url`, or `None` when nothing answers.
pub async fn http_status(url: &str) -> Option<u16> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(2))
        .build()
        .ok()?;
    client
        .get(url)
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

/// Whether every `/readyz` under `bases` (e.g. `http://127.0.0.1:port`) answers 200.
pub async fn all_ready(bases: &[String]) -> bool {
    for base in bases {
        if http_status(&format!("{base}/readyz")).await != Some(200) {
            return false;
        }
    }
    true
}

/// The sum of every sample of the Prometheus metric `name` at `base/metrics`.
pub async fn metric(base: &str, name: &str) -> f64 {
    metric_with_label(base, name, "").await
}

/// The sum of the samples of `name` whose labels include `label` (`via="reply"`).
pub async fn metric_with_label(base: &str, name: &str, label: &str) -> f64 {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter(|l| label.is_empty() || l.split_once(' ').is_some_and(|(m, _)| m.contains(label)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
