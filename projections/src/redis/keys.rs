//! Names of the Redis keys of the sales ranking and of the rebuilds' flags (a contract
//! with the query API and with `shop rebuild`).

use crate::sold_day::day_key;
use chrono::NaiveDate;
use events::names::hot_view::sales;

/// `{p}sales:{YYYY-MM-DD}`: units sold per product id that day (the contract's
/// `hot_view::sales::day`).
pub(crate) fn day(prefix: &str, date: NaiveDate) -> String {
    sales::day(prefix, day_key(date))
}

pub(crate) use sales::ready;

/// `{p}views:rebuilding`: set while a rebuild swaps keys in (the ranking's day keys, or
/// every view); the projector holds all its view updates back meanwhile. Expires by itself
/// if the rebuild dies.
pub(crate) fn rebuilding(prefix: &str) -> String {
    format!("{prefix}views:rebuilding")
}

/// `{p}rebuild:`: the prefix a blue/green rebuild fills its copy of the views under before
/// renaming them onto their live names.
pub(crate) fn shadow_prefix(prefix: &str) -> String {
    format!("{prefix}rebuild:")
}
