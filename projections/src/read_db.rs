//! Opening the read-model database: a SQLite file in the embedded mode, MySQL/MariaDB in
//! the full one. Either way the caller gets an `AnyPool`, and every projection (and the
//! query API) runs the same SQL on it.

use crate::error::ProjectionError;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::MigrateDatabase;
use sqlx::mysql::MySqlPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AnyPool, Executor, MySql};
use std::str::FromStr;
use std::time::Duration;

const SQLITE_CONNECTIONS: u32 = 8;
const MYSQL_CONNECTIONS: u32 = 16;
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens the read database named by `url` (`sqlite://...` or `mysql://...`), creating and
/// migrating it if needed.
pub async fn open_read_db(url: &str) -> Result<AnyPool, ProjectionError> {
    sqlx::any::install_default_drivers();
    if url.starts_with("sqlite:") {
        open_sqlite(url).await
    } else if url.starts_with("mysql:") || url.starts_with("mariadb:") {
        open_mysql(url).await
    } else {
        Err(ProjectionError::UnsupportedUrl(url.to_owned()))
    }
}

/// Read models are rebuildable from the event store, so they skip the per-commit fsync
/// (`synchronous = NORMAL` under WAL).
async fn open_sqlite(url: &str) -> Result<AnyPool, ProjectionError> {
    // Migrate through a typed pool: it creates the file and switches it to WAL, which is
    // a property of the file and so holds for the Any connections opened afterwards.
    let options = SqliteConnectOptions::from_str(url)
        .map_err(ProjectionError::db("parse the read database URL"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(BUSY_TIMEOUT);
    let setup = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .map_err(ProjectionError::db("open the read database"))?;
    sqlx::migrate!("../migrations/sqlite/read")
        .run(&setup)
        .await?;
    setup.close().await;

    // The Any driver only takes a URL, so the per-connection settings go in here.
    AnyPoolOptions::new()
        .max_connections(SQLITE_CONNECTIONS)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute("PRAGMA synchronous = NORMAL").await?;
                conn.execute("PRAGMA busy_timeout = 10000").await?;
                // SQLite's default page cache is ~8 MiB; read models of a million rows
                // (a coupon's holders) outgrow it and every write starts reading pages.
                conn.execute("PRAGMA cache_size = -32768").await?;
                Ok(())
            })
        })
        .connect(url)
        .await
        .map_err(ProjectionError::db("open the read database"))
}

async fn open_mysql(url: &str) -> Result<AnyPool, ProjectionError> {
    if !MySql::database_exists(url)
        .await
        .map_err(ProjectionError::db("check the read database exists"))?
    {
        // Two processes starting at once may both try; the loser's error is harmless.
        if let Err(error) = MySql::create_database(url).await {
            tracing::debug!(%error, "create database raced with another process");
        }
    }
    // The folder is shared with the event store: one schema holds both, and whichever
    // process starts first applies what is missing (sqlx serializes them with a lock).
    let setup = MySqlPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(BUSY_TIMEOUT)
        .connect(url)
        .await
        .map_err(ProjectionError::db("connect to the read database"))?;
    sqlx::migrate!("../migrations/mysql").run(&setup).await?;
    setup.close().await;

    AnyPoolOptions::new()
        .max_connections(MYSQL_CONNECTIONS)
        .acquire_timeout(BUSY_TIMEOUT)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                // Projections update-then-insert rows that may not exist yet. Under
                // REPEATABLE READ a miss takes a gap lock, and two projectors inserting
                // into one gap deadlock; READ COMMITTED takes no gap locks. Every write
                // that must not race is guarded by a compare-and-set instead.
                conn.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                    .await?;
                Ok(())
            })
        })
        .connect(url)
        .await
        .map_err(ProjectionError::db("connect to the read database"))
}
