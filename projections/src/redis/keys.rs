//! Names of the Redis keys of the sales ranking (a contract with the query API and with
//! `shop rebuild ranking`).

use crate::sold_day::day_key;
use chrono::NaiveDate;

/// `{p}sales:{YYYY-MM-DD}`: units sold per product id that day (a sorted set).
pub(crate) fn day(prefix: &str, date: NaiveDate) -> String {
    format!("{prefix}sales:{}", day_key(date))
}

/// `{p}sales:ready`: present while the day keys are complete, i.e. a projector has kept
/// them from the start or a rebuild filled them. Readers rank from SQL without it.
pub(crate) fn ready(prefix: &str) -> String {
    format!("{prefix}sales:ready")
}

/// `{p}sales:rebuilding`: set while a rebuild swaps the day keys; the projector holds its
/// order events back meanwhile. Expires by itself if the rebuild dies.
pub(crate) fn rebuilding(prefix: &str) -> String {
    format!("{prefix}sales:rebuilding")
}
