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

#[cfg(test)]
mod tests {
    use super::super::view_update::{Op, ViewUpdate};
    use super::*;

    fn update(key: &str, version: i64, create: bool, stock: i64) -> ViewUpdate {
        ViewUpdate {
            key: key.to_owned(),
            extra_keys: Vec::new(),
            version,
            create,
            ops: vec![Op::Set("stock", stock.to_string())],
        }
    }

    /// One call carries many events of one view; the script follows the view's version
    /// from one to the next, so a redelivery and a gap inside one call are answered as
    /// they would be one call each. Against the real Redis of the test services.
    #[tokio::test]
    async fn one_call_follows_a_views_version_from_update_to_update() {
        let url = std::env::var("SHOP_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
        let client = ::redis::Client::open(url).unwrap();
        let mut redis = client.get_multiplexed_async_connection().await.unwrap();
        let key = format!("t{}:product:1", uuid::Uuid::new_v4().simple());
        let other = format!("{key}-missing");
        let updates = [
            update(&other, 2, false, 0), // missing and cannot create it
            update(&key, 1, true, 10),
            update(&key, 2, false, 9),
            update(&key, 1, true, 10), // redelivered
            update(&key, 4, false, 7), // 3 is missing
            update(&key, 3, false, 8),
            update(&key, 4, false, 7), // now in order
        ];
        let outcomes = apply_updates(&mut redis, &updates).await.unwrap();
        assert_eq!(outcomes, [-1, 1, 1, 0, -2, 1, 1]);
        let view: std::collections::HashMap<String, String> =
            ::redis::AsyncCommands::hgetall(&mut redis, &key)
                .await
                .unwrap();
        assert_eq!(view["v"], "4");
        assert_eq!(view["stock"], "7");
        let exists: bool = ::redis::AsyncCommands::exists(&mut redis, &other)
            .await
            .unwrap();
        assert!(!exists);
        let _: () = ::redis::AsyncCommands::del(&mut redis, &key).await.unwrap();
    }
}
