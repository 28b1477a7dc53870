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

/// Moves the checkpoint inside the caller's transaction.
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
