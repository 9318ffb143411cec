//! Connecting to PostgreSQL: creating the service's database when it is
//! missing, applying versioned migrations, and building the connection pool
//! (with finch-postgres's session hooks, so that finch can tune session
//! settings such as `work_mem` on every pooled connection).

use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Timeouts};
use finch::postgres::SessionSettings;
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use crate::error::AppError;

/// The server used when `DATABASE_URL` is not set.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The database the service keeps its data in, unless told otherwise.
pub const DEFAULT_DATABASE: &str = "meal_planner";

/// The migrations, in order; each runs once, in its own transaction.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "schema and lookups",
        include_str!("../migrations/0001_schema.sql"),
    ),
    (
        2,
        "sessions",
        include_str!("../migrations/0002_sessions.sql"),
    ),
];

/// Where the service's database lives.
#[derive(Clone, Debug)]
pub struct DbSettings {
    /// The server, and the database to connect to for administration.
    pub server: tokio_postgres::Config,
    /// The name of the service's own database.
    pub database: String,
}

impl DbSettings {
    /// Settings from `DATABASE_URL` (or [`DEFAULT_DATABASE_URL`]) and a database name.
    pub fn from_env(database: &str) -> Result<Self, AppError> {
        let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.into());
        Self::new(&url, database)
    }

    /// Settings from a connection URL and a database name.
    pub fn new(url: &str, database: &str) -> Result<Self, AppError> {
        let server = tokio_postgres::Config::from_str(url)
            .map_err(|e| AppError::BadRequest(format!("DATABASE_URL {url:?} is invalid: {e}")))?;
        check_identifier(database)?;
        Ok(DbSettings {
            server,
            database: database.to_string(),
        })
    }

    /// The connection settings of the service's own database.
    pub fn app_config(&self) -> tokio_postgres::Config {
        let mut config = self.server.clone();
        config.dbname(&self.database);
        config
    }

    /// The server's TCP address (host and port), for a proxy to forward to.
    pub fn server_addr(&self) -> Result<(String, u16), AppError> {
        let host = self
            .server
            .get_hosts()
            .iter()
            .find_map(|h| match h {
                tokio_postgres::config::Host::Tcp(h) => Some(h.clone()),
                #[cfg(unix)]
                tokio_postgres::config::Host::Unix(_) => None,
            })
            .ok_or_else(|| AppError::BadRequest("DATABASE_URL names no TCP host".into()))?;
        let port = self.server.get_ports().first().copied().unwrap_or(5432);
        Ok((host, port))
    }
}

/// Database names are interpolated into `CREATE DATABASE`, which takes no
/// parameters: only plain lower-case identifiers are accepted.
fn check_identifier(name: &str) -> Result<(), AppError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(AppError::BadRequest(format!(
            "database name {name:?} must be a lower-case identifier (a-z, 0-9, _), at most 63 characters"
        )))
    }
}

async fn admin_client(settings: &DbSettings) -> Result<tokio_postgres::Client, AppError> {
    let (client, connection) = settings.server.connect(NoTls).await.map_err(|e| {
        AppError::Internal(format!(
            "cannot reach PostgreSQL ({e}); set DATABASE_URL to a reachable server"
        ))
    })?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "administration connection ended");
        }
    });
    Ok(client)
}

/// Creates the service's database if it does not exist (a concurrent creation
/// by another process is not an error).
pub async fn create_database(settings: &DbSettings) -> Result<(), AppError> {
    let client = admin_client(settings).await?;
    let exists = client
        .query_opt(
            "SELECT 1 FROM pg_database WHERE datname = $1",
            &[&settings.database],
        )
        .await?
        .is_some();
    if exists {
        return Ok(());
    }
    let sql = format!("CREATE DATABASE \"{}\"", settings.database);
    match client.batch_execute(&sql).await {
        Err(e) if e.code() == Some(&SqlState::DUPLICATE_DATABASE) => Ok(()),
        other => Ok(other?),
    }
}

/// Drops the service's database (its open sessions are terminated).
pub async fn drop_database(settings: &DbSettings) -> Result<(), AppError> {
    let client = admin_client(settings).await?;
    let sql = format!(
        "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
        settings.database
    );
    client.batch_execute(&sql).await?;
    Ok(())
}

/// Applies the migrations not applied yet, each in a transaction, under an
/// advisory lock so that concurrent starts do not race. Returns how many ran.
pub async fn migrate(pool: &Pool) -> Result<usize, AppError> {
    let mut client = pool.get().await?;
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version INTEGER PRIMARY KEY,
                 name TEXT NOT NULL,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
             )",
        )
        .await?;
    let mut applied = 0;
    for &(version, name, sql) in MIGRATIONS {
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock(727274)", &[])
            .await?;
        let done = tx
            .query_opt(
                "SELECT 1 FROM schema_migrations WHERE version = $1",
                &[&version],
            )
            .await?
            .is_some();
        if !done {
            tx.batch_execute(sql).await?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                &[&version, &name],
            )
            .await?;
            applied += 1;
        }
        tx.commit().await?;
    }
    Ok(applied)
}

/// A pool of `size` connections to `config`; waiting for a connection times
/// out after `wait` (the request then fails with `503`).
///
/// `sessions` is attached to the pool: every connection receives the session
/// settings finch-postgres manages when it is created and, after a change, at
/// its next checkout. `RecyclingMethod::Fast` keeps session settings across
/// checkouts, so they are sent once per connection and change, not per request.
pub fn pool(
    config: tokio_postgres::Config,
    size: usize,
    wait: Duration,
    sessions: &SessionSettings,
) -> Result<Pool, AppError> {
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let builder = Pool::builder(manager)
        .max_size(size)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .timeouts(Timeouts {
            wait: Some(wait),
            create: Some(Duration::from_secs(5)),
            recycle: Some(Duration::from_secs(5)),
        });
    sessions
        .attach(builder)
        .build()
        .map_err(|e| AppError::Internal(format!("cannot build the connection pool: {e}")))
}

/// Creates the database if needed, builds a pool for it (with `sessions`
/// attached, see [`pool`]) and migrates it.
pub async fn connect(
    settings: &DbSettings,
    pool_size: usize,
    sessions: &SessionSettings,
) -> Result<Pool, AppError> {
    create_database(settings).await?;
    let pool = pool(
        settings.app_config(),
        pool_size,
        Duration::from_secs(2),
        sessions,
    )?;
    migrate(&pool).await?;
    Ok(pool)
}
