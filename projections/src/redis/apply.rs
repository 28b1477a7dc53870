//! Sends view updates through the script, one pipeline per batch. The live projector's
//! sink and the blue/green rebuild's shadow replay both go through here, so a rebuilt view
//! is exactly what the projector would have made of the same events.

use super::script::APPLY;
use super::view_update::ViewUpdate;
use crate::error::ProjectionError;
use ::redis::aio::ConnectionLike;
use ::redis::{ErrorKind, ServerErrorKind};

/// The script's answer while a rebuild holds the views back (see `script.rs`).
pub(super) const PAUSED: i64 = -3;

/// Runs `updates` through the script in order, in one pipeline, and returns the script's
/// outcome for each (see `script.rs`).
pub(super) async fn apply_updates<C: ConnectionLike + Send>(
    connection: &mut C,
    updates: &[ViewUpdate],
) -> Result<Vec<i64>, ProjectionError> {
    if updates.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipeline = ::redis::pipe();
    for update in updates {
        pipeline
            .cmd("EVALSHA")
            .arg(APPLY.get_hash())
            .arg(1 + update.extra_keys.len())
            .arg(&update.key)
            .arg(&update.extra_keys)
            .arg(update.args());
    }
    match pipeline.query_async(connection).await {
        Ok(outcomes) => Ok(outcomes),
        // A fresh or restarted server has no scripts cached: load it and send again
        // (what already ran is version-guarded).
        Err(error) if error.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
            APPLY
                .load_async(connection)
                .await
                .map_err(ProjectionError::redis("load the view script"))?;
            pipeline
                .query_async(connection)
                .await
                .map_err(ProjectionError::redis("update views"))
        }
        Err(error) => Err(ProjectionError::redis("update views")(error)),
    }
}
