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
            pipeline
                .arg(1 + update.extra_keys.len())
                .arg(update.arg_count());
            for arg in update.args() {
                pipeline.arg(arg);
            }
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
        view(
            key,
            &[],
            version,
            create,
            vec![Op::Set("stock", stock.to_string())],
        )
    }

    async fn test_redis() -> ::redis::aio::MultiplexedConnection {
        let url = std::env::var("SHOP_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
        let client = ::redis::Client::open(url).unwrap();
        client.get_multiplexed_async_connection().await.unwrap()
    }

    async fn hash(
        redis: &mut ::redis::aio::MultiplexedConnection,
        key: &str,
    ) -> std::collections::HashMap<String, String> {
        ::redis::AsyncCommands::hgetall(redis, key).await.unwrap()
    }

    fn view(
        key: &str,
        extra_keys: &[&str],
        version: i64,
        create: bool,
        ops: Vec<Op>,
    ) -> ViewUpdate {
        ViewUpdate {
            key: key.to_owned(),
            extra_keys: extra_keys.iter().map(|key| (*key).to_owned()).collect(),
            version,
            create,
            ops,
        }
    }

    /// The script writes each hash once, when the call ends; the views must end up as if
    /// every update had been written in turn: increments add up, a set after an increment
    /// of the same field wins, a delta too large to add up exactly in Lua still lands
    /// exactly, and a day's sales add up per product. Against the real Redis.
    #[tokio::test]
    async fn one_call_ends_with_the_views_each_update_in_turn_would_make() {
        let mut redis = test_redis().await;
        let p = format!("t{}:", uuid::Uuid::new_v4().simple());
        let (product, wallet) = (format!("{p}product:1"), format!("{p}balance:2"));
        let (first, second) = (format!("{p}order:3"), format!("{p}order:4"));
        let (pause, ready, day) = (format!("{p}pause"), format!("{p}ready"), format!("{p}day"));
        let order_keys = [pause.as_str(), ready.as_str()];
        let completed_keys = [pause.as_str(), ready.as_str(), day.as_str()];
        let set = |field, value: &str| Op::Set(field, value.to_owned());
        let huge = 1_i64 << 60;
        let expire_at = 4_102_444_800; // 2100-01-01
        let updates = [
            view(
                &product,
                &[&pause],
                1,
                true,
                vec![set("stock", "10"), set("name", "a")],
            ),
            view(&product, &[&pause], 2, false, vec![Op::Incr("stock", -1)]),
            view(&product, &[&pause], 3, false, vec![Op::Incr("stock", -2)]),
            view(&wallet, &[&pause], 1, true, vec![Op::Incr("balance", 5)]),
            view(&product, &[&pause], 4, false, vec![set("stock", "100")]),
            view(
                &wallet,
                &[&pause],
                2,
                false,
                vec![Op::Incr("balance", huge)],
            ),
            view(&product, &[&pause], 5, false, vec![Op::Incr("stock", -3)]),
            view(&wallet, &[&pause], 3, false, vec![Op::Incr("balance", -1)]),
            view(&first, &order_keys, 1, true, vec![set("status", "PENDING")]),
            view(
                &second,
                &order_keys,
                1,
                true,
                vec![set("status", "PENDING")],
            ),
            view(
                &first,
                &completed_keys,
                2,
                false,
                vec![
                    set("status", "COMPLETED"),
                    Op::ZIncr(7, 2),
                    Op::ExpireAt(expire_at),
                ],
            ),
            view(
                &second,
                &completed_keys,
                2,
                false,
                vec![Op::ZIncr(7, 3), Op::ZIncr(8, 1), Op::ExpireAt(expire_at)],
            ),
        ];
        let outcomes = apply_updates(&mut redis, &updates).await.unwrap();
        assert_eq!(outcomes, [1; 12]);
        let product_view = hash(&mut redis, &product).await;
        assert_eq!(product_view["stock"], "97");
        assert_eq!(product_view["name"], "a");
        assert_eq!(product_view["v"], "5");
        let wallet_view = hash(&mut redis, &wallet).await;
        assert_eq!(wallet_view["balance"], (huge + 4).to_string());
        assert_eq!(wallet_view["v"], "3");
        let first_view = hash(&mut redis, &first).await;
        assert_eq!(
            (first_view["status"].as_str(), first_view["v"].as_str()),
            ("COMPLETED", "2")
        );
        assert_eq!(hash(&mut redis, &second).await["status"], "PENDING");
        let sales: Vec<(String, i64)> =
            ::redis::AsyncCommands::zrange_withscores(&mut redis, &day, 0, -1)
                .await
                .unwrap();
        assert_eq!(sales, [("8".to_owned(), 1), ("7".to_owned(), 5)]);
        let expires: i64 = ::redis::cmd("EXPIRETIME")
            .arg(&day)
            .query_async(&mut redis)
            .await
            .unwrap();
        assert_eq!(expires, expire_at);
        let _: () =
            ::redis::AsyncCommands::del(&mut redis, &[&product, &wallet, &first, &second, &day])
                .await
                .unwrap();
    }

    /// One call carries many events of one view; the script follows the view's version
    /// from one to the next, so a redelivery and a gap inside one call are answered as
    /// they would be one call each. Against the real Redis of the test services.
    #[tokio::test]
    async fn one_call_follows_a_views_version_from_update_to_update() {
        let mut redis = test_redis().await;
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
        let view = hash(&mut redis, &key).await;
        assert_eq!(view["v"], "4");
        assert_eq!(view["stock"], "7");
        let exists: bool = ::redis::AsyncCommands::exists(&mut redis, &other)
            .await
            .unwrap();
        assert!(!exists);
        let _: () = ::redis::AsyncCommands::del(&mut redis, &key).await.unwrap();
    }
}
