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

/// Most updates in one script call: a call blocks Redis while it runs, so a long batch
/// goes as a few calls (of a few hundred microseconds each) in one pipeline.
const UPDATES_PER_CALL: usize = 128;

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
    for call in updates.chunks(UPDATES_PER_CALL) {
        let keys: Vec<&str> = call
            .iter()
            .flat_map(|update| {
                std::iter::once(update.key.as_str())
                    .chain(update.extra_keys.iter().map(String::as_str))
            })
            .collect();
        pipeline
            .cmd("EVALSHA")
            .arg(APPLY.get_hash())
            .arg(keys.len())
            .arg(&keys)
            .arg(call.len());
        for update in call {
            let args = update.args();
            pipeline
                .arg(1 + update.extra_keys.len())
                .arg(args.len())
                .arg(args);
        }
    }
    let outcomes: Result<Vec<Vec<i64>>, _> = pipeline.query_async(connection).await;
    match outcomes {
        Ok(outcomes) => Ok(outcomes.into_iter().flatten().collect()),
        // A fresh or restarted server has no scripts cached: load it and send again
        // (what already ran is version-guarded).
        Err(error) if error.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
            APPLY
                .load_async(connection)
                .await
                .map_err(ProjectionError::redis("load the view script"))?;
            pipeline
                .query_async::<Vec<Vec<i64>>>(connection)
                .await
                .map(|outcomes| outcomes.into_iter().flatten().collect())
                .map_err(ProjectionError::redis("update views"))
        }
        Err(error) => Err(ProjectionError::redis("update views")(error)),
    }
}
