//! "Update the row, or insert it if there is none" in SQL that SQLite and MySQL both run
//! (their upsert syntaxes differ). Both report matched rows for an UPDATE (sqlx asks MySQL
//! for FOUND_ROWS), so an update that changes nothing still counts as found.

use crate::error::ProjectionError;
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection};

pub(crate) type AnyQuery<'q> = Query<'q, Any, AnyArguments>;

/// Runs `update`; if it matched no row, runs `insert`. Two writers racing on one new key
/// make the second insert fail on the primary key, which rolls its batch back for a retry.
pub(crate) async fn update_or_insert(
    conn: &mut AnyConnection,
    update: AnyQuery<'_>,
    insert: AnyQuery<'_>,
    operation: &'static str,
) -> Result<(), ProjectionError> {
    let updated = update
        .execute(&mut *conn)
        .await
        .map_err(ProjectionError::db(operation))?;
    if updated.rows_affected() == 0 {
        insert
            .execute(&mut *conn)
            .await
            .map_err(ProjectionError::db(operation))?;
    }
    Ok(())
}
