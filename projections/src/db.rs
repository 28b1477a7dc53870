use crate::error::ProjectionError;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::time::Duration;

/// Opens and migrates the read database. Read models are rebuildable from the event store,
/// so they skip the per-commit fsync.
pub async fn open_read_db(url: &str) -> Result<SqlitePool, ProjectionError> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(ProjectionError::db("parse the read database URL"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10));
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await
        .map_err(ProjectionError::db("open the read database"))?;
    sqlx::migrate!("../migrations/sqlite/read")
        .run(&pool)
        .await?;
    Ok(pool)
}
