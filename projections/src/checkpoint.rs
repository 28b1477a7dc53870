//! `projection_checkpoints`: how far an embedded projection has applied the global order.

use crate::error::ProjectionError;
use crate::upsert::update_or_insert;
use sqlx::{AnyConnection, AnyPool};

pub(crate) async fn load(pool: &AnyPool, name: &str) -> Result<i64, ProjectionError> {
    let position: Option<i64> =
        sqlx::query_scalar("SELECT position FROM projection_checkpoints WHERE name = ?")
            .bind(name.to_owned())
            .fetch_optional(pool)
            .await
            .map_err(ProjectionError::db("load a checkpoint"))?;
    Ok(position.unwrap_or(0))
}

/// Moves the checkpoint from `from` to `to` inside the caller's transaction; fails if it
/// is not at `from` any more (another writer moved it), so the batch rolls back.
pub(crate) async fn advance(
    tx: &mut AnyConnection,
    name: &'static str,
    from: i64,
    to: i64,
) -> Result<(), ProjectionError> {
    let updated = sqlx::query(
        "UPDATE projection_checkpoints SET position = ? WHERE name = ? AND position = ?",
    )
    .bind(to)
    .bind(name)
    .bind(from)
    .execute(&mut *tx)
    .await
    .map_err(ProjectionError::db("move a checkpoint"))?;
    if updated.rows_affected() == 1 {
        return Ok(());
    }
    if from != 0 {
        return Err(ProjectionError::CheckpointMoved {
            projection: name,
            expected: from,
        });
    }
    // The first batch ever: no row yet. A row that appeared meanwhile fails this on the
    // primary key, which rolls the batch back just the same.
    sqlx::query("INSERT INTO projection_checkpoints (name, position) VALUES (?, ?)")
        .bind(name)
        .bind(to)
        .execute(&mut *tx)
        .await
        .map_err(ProjectionError::db("move a checkpoint"))?;
    Ok(())
}

/// Sets the checkpoint to `position` whatever it was (a rebuild swapping its copy in).
pub(crate) async fn save(
    tx: &mut AnyConnection,
    name: &'static str,
    position: i64,
) -> Result<(), ProjectionError> {
    update_or_insert(
        tx,
        sqlx::query("UPDATE projection_checkpoints SET position = ? WHERE name = ?")
            .bind(position)
            .bind(name),
        sqlx::query("INSERT INTO projection_checkpoints (name, position) VALUES (?, ?)")
            .bind(name)
            .bind(position),
        "move a checkpoint",
    )
    .await
}
