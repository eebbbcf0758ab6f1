//! The PostgreSQL pool and the embedded migrations.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, migrate::Migrator};

/// The migrations under `migrations/`, compiled in.
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

/// Opens a pool; connections are made lazily and every acquire is bounded in time.
pub fn pool(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    pool_with_settings(url, max_connections, &[])
}

/// A pool whose sessions start with the given server settings (`name`, `value`).
pub fn pool_with_settings(
    url: &str,
    max_connections: u32,
    settings: &[(&str, &str)],
) -> Result<PgPool, sqlx::Error> {
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy_with(connect_options(url, settings)?))
}

/// How to connect to `url`, with sessions that start with the given server settings
/// (`name`, `value`).
pub fn connect_options(
    url: &str,
    settings: &[(&str, &str)],
) -> Result<PgConnectOptions, sqlx::Error> {
    let options: PgConnectOptions = url.parse()?;
    Ok(options
        .application_name("switchboard")
        .options(settings.iter().copied()))
}

/// A service's pool, with the pending migrations applied first when `migrate` is set.
pub async fn open(url: &str, max_connections: u32, migrate: bool) -> anyhow::Result<PgPool> {
    open_with_settings(url, max_connections, migrate, &[]).await
}

/// [`open`], with sessions that start with the given server settings (`name`, `value`).
pub async fn open_with_settings(
    url: &str,
    max_connections: u32,
    migrate: bool,
    settings: &[(&str, &str)],
) -> anyhow::Result<PgPool> {
    use anyhow::Context as _;
    let pool = pool_with_settings(url, max_connections, settings).context("DATABASE_URL")?;
    if migrate {
        self::migrate(&pool).await.context("applying migrations")?;
    }
    Ok(pool)
}

/// Applies every pending migration (sqlx serialises concurrent runs with a lock).
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

/// Whether the database answers a trivial query within a second.
pub async fn is_ready(pool: &PgPool) -> bool {
    matches!(
        tokio::time::timeout(
            Duration::from_secs(1),
            sqlx::query("SELECT 1").execute(pool)
        )
        .await,
        Ok(Ok(_))
    )
}
