//! The Redis half of `shop rebuild ranking`: fills temporary day keys from the replay and
//! swaps them in, with the order views that guard them, in one MULTI/EXEC while the live
//! projector holds its view updates back (the pause flag).

use super::views_swap::{glob_escape, scan};
use super::{RedisViews, keys};
use crate::EventFeed;
use crate::error::ProjectionError;
use crate::order_fold::{OrderChange, OrderStatus};
use crate::rebuild::{RebuildProgress, Replay};
use crate::sold_day::{day_key, expire_at};
use chrono::{NaiveDate, Utc};
use chrono_tz::Tz;
use events::names::hot_view::{View, field};
use std::collections::{BTreeMap, BTreeSet};

/// How long the pause flag holds the projector back if this process dies mid-swap.
const PAUSE_MS: u64 = 60_000;
/// Members per ZADD.
const ZADD_CHUNK: usize = 1_000;

pub(crate) async fn swap_ranking(
    views: &RedisViews,
    feed: &dyn EventFeed,
    replay: &mut Replay,
    timezone: Tz,
    progress: &(dyn Fn(RebuildProgress) + Sync),
) -> Result<(), ProjectionError> {
    // The client's default (500 ms an answer) would fail a rebuild on a loaded server;
    // the views rebuild's budget applies to the ranking's as well.
    let config = ::redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(super::views_rebuild::CONNECTION_TIMEOUT))
        .set_response_timeout(Some(super::views_rebuild::RESPONSE_TIMEOUT));
    let mut connection = views
        .client()
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(ProjectionError::redis("connect"))?;
    let prefix = views.prefix();
    let pause = keys::rebuilding(prefix);
    ::redis::cmd("SET")
        .arg(&pause)
        .arg(1)
        .arg("PX")
        .arg(PAUSE_MS)
        .query_async::<()>(&mut connection)
        .await
        .map_err(ProjectionError::redis("raise the pause flag"))?;
    let swapped = async {
        // The projector applied no event since the flag went up, so everything it did
        // apply is in the store now.
        replay.catch_up(feed, timezone, progress).await?;
        let days = retained_days(replay, timezone);
        fill_temporary_keys(&mut connection, prefix, &days).await?;
        let day_pattern = format!("{}sales:[0-9]*", glob_escape(prefix));
        let stale: BTreeSet<String> = scan(&mut connection, &day_pattern)
            .await?
            .into_iter()
            .collect();

        let mut swap = ::redis::pipe();
        swap.atomic();
        let fresh: BTreeSet<String> = days.keys().map(|date| keys::day(prefix, *date)).collect();
        for key in stale.difference(&fresh) {
            swap.del(key).ignore();
        }
        for date in days.keys() {
            let key = keys::day(prefix, *date);
            swap.rename(temporary(prefix, *date), &key).ignore();
            swap.cmd("EXPIREAT")
                .arg(&key)
                .arg(expire_at(*date, timezone))
                .ignore();
        }
        for (order_id, change) in &replay.orders {
            let stream = format!("order-{order_id}");
            let Some(version) = replay.versions.get(&stream) else {
                continue;
            };
            if let Some(fields) = order_view(*order_id, change, *version) {
                swap.hset_multiple(View::Order.key(prefix, order_id), &fields)
                    .ignore();
            }
        }
        swap.set(keys::ready(prefix), 1).ignore();
        swap.del(&pause).ignore();
        swap.query_async::<()>(&mut connection)
            .await
            .map_err(ProjectionError::redis("swap the ranking keys"))
    }
    .await;
    if swapped.is_err() {
        // Let the projector go on at once; the old keys are untouched.
        let _: Result<(), _> = ::redis::cmd("DEL")
            .arg(&pause)
            .query_async(&mut connection)
            .await;
    }
    swapped
}

/// The replay's totals per day, for the days Redis still keeps.
fn retained_days(replay: &Replay, timezone: Tz) -> BTreeMap<NaiveDate, Vec<(i64, i64)>> {
    let now = Utc::now().timestamp();
    let mut days: BTreeMap<NaiveDate, Vec<(i64, i64)>> = BTreeMap::new();
    for ((date, product_id), quantity) in &replay.totals {
        if expire_at(*date, timezone) > now {
            days.entry(*date)
                .or_default()
                .push((*product_id, *quantity));
        }
    }
    days
}

fn temporary(prefix: &str, date: NaiveDate) -> String {
    format!("{prefix}sales-rebuild:{}", day_key(date))
}

async fn fill_temporary_keys(
    connection: &mut ::redis::aio::MultiplexedConnection,
    prefix: &str,
    days: &BTreeMap<NaiveDate, Vec<(i64, i64)>>,
) -> Result<(), ProjectionError> {
    let mut fill = ::redis::pipe();
    for (date, products) in days {
        let key = temporary(prefix, *date);
        fill.del(&key).ignore();
        for chunk in products.chunks(ZADD_CHUNK) {
            let members: Vec<(i64, i64)> = chunk.iter().map(|(p, q)| (*q, *p)).collect();
            fill.zadd_multiple(&key, &members).ignore();
        }
    }
    fill.query_async::<()>(connection)
        .await
        .map_err(ProjectionError::redis("fill the rebuilt day keys"))
}

/// The order's hot view as the projector would have left it (see `view_update.rs`).
fn order_view(
    order_id: i64,
    change: &OrderChange,
    version: i64,
) -> Option<Vec<(&'static str, String)>> {
    let placed = change.placed.as_ref()?;
    Some(vec![
        (field::ORDER_ID, order_id.to_string()),
        (field::USER_ID, placed.user_id.to_string()),
        (
            field::STATUS,
            change
                .status
                .unwrap_or(OrderStatus::Pending)
                .as_str()
                .to_owned(),
        ),
        (
            field::ITEMS,
            serde_json::to_string(&placed.lines).unwrap_or_default(),
        ),
        (field::TOTAL_AMOUNT, placed.total_amount.won().to_string()),
        (
            field::DISCOUNT_AMOUNT,
            change.discount_amount.unwrap_or(0).to_string(),
        ),
        (
            field::PAID_AMOUNT,
            change.paid_amount.unwrap_or(0).to_string(),
        ),
        (
            field::REASON,
            change
                .reason
                .map(|r| r.as_str().to_owned())
                .unwrap_or_default(),
        ),
        (field::VERSION, version.to_string()),
    ])
}
