//! The PostgreSQL pool and the embedded migrations.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection as _, PgPool, migrate::Migrator};

/// The migrations under `migrations/`, compiled in.
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

/// A pooled connection idle for longer than this is pinged before it is handed out.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// Opens a pool; connections are made lazily and every acquire is bounded in time.
///
/// sqlx pings every connection before handing it out by default: a round trip to
/// PostgreSQL (and a wake-up of its backend) in front of every query. Only a connection
/// that sat idle is likely to have been cut meanwhile (a restart of the database, a dropped
/// network), so only those are pinged; a busy pool's connections were in use a moment ago.
/// A statement on a connection cut all the same fails as [`is_unavailable`], as it could
/// with the ping too (a restart between ping and statement).
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
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > PING_IF_IDLE_FOR {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
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

/// A database error as a service answers it.
pub enum DbFailure {
    /// The database is unreachable or going away (logged here); the client may retry.
    Unavailable(&'static str),
    /// A fault of the statement or the data.
    Fault(anyhow::Error),
}

/// Sorts a database error into [`DbFailure`], so every service words and logs an outage
/// alike.
pub fn classify(e: sqlx::Error) -> DbFailure {
    if is_unavailable(&e) {
        tracing::warn!(error = %e, "database unavailable");
        return DbFailure::Unavailable("the database is unavailable; retry");
    }
    DbFailure::Fault(anyhow::Error::new(e).context("database query failed"))
}

/// Whether a database error means "the database is unreachable or going away" rather than
/// a fault of the statement: the caller may retry. Besides the pool's and the socket's own
/// errors, PostgreSQL says so with SQLSTATE classes 08 (connection exception), 53
/// (insufficient resources, e.g. too many connections) and 57 (operator intervention: a
/// shutdown or restart terminating the session, a server still starting up).
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            ["08", "53", "57"]
                .iter()
                .any(|class| code.starts_with(class))
        }),
        _ => false,
    }
}
