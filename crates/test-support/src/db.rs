//! A fresh database per test, so tests run in parallel without seeing each other.

use sqlx::{Connection, PgConnection, PgPool};

/// The server the test databases are made on (`TEST_DATABASE_URL`, else the local one).
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| switchboard_common::config::DEFAULT_DATABASE_URL.to_owned())
}

pub struct TestDatabase {
    pub name: String,
    /// The server's maintenance database, where this one was created (and is dropped).
    admin: String,
    pub url: String,
    pub pool: PgPool,
}

impl TestDatabase {
    /// Creates `sb_test_<uuid>` and applies the migrations (no demo data).
    pub async fn create() -> Self {
        Self::create_on(&admin_url()).await
    }

    /// The same on another server: `admin` is a URL of its maintenance database.
    pub async fn create_on(admin: &str) -> Self {
        let admin = admin.to_owned();
        let name = format!("sb_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(&admin)
            .await
            .expect("PostgreSQL reachable for tests (TEST_DATABASE_URL)");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let _ = conn.close().await;
        let url = match admin.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => panic!("TEST_DATABASE_URL must end in /<database>"),
        };
        let pool = switchboard_common::db::pool(&url, 4).expect("pool");
        switchboard_common::db::migrate(&pool)
            .await
            .expect("migrations");
        Self {
            name,
            admin,
            url,
            pool,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (name, admin) = (self.name.clone(), self.admin.clone());
        // Drop runs outside async; a short-lived runtime on its own thread does the work.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                if let Ok(mut conn) = PgConnection::connect(&admin).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}
