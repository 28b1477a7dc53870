//! Redis hot views: one hash per balance, product and coupon, kept by the `redis-views`
//! Kafka projector. The key and field layout is a contract with the query API:
//!
//! - `{p}balance:{userId}`: `balance`, `v`
//! - `{p}product:{productId}`: `productId`, `name`, `price`, `stock`, `v`
//! - `{p}coupon:{couponId}`: `couponId`, `name`, `discountKind`, `discountValue`,
//!   `totalQuantity`, `issuedQuantity`, `validFrom`, `validUntil` (RFC 3339, or empty when
//!   unbounded), `v`
//! - `{p}order:{orderId}`: `orderId`, `userId`, `status`, `items` (JSON array of
//!   `{productId, quantity, unitPrice}`), `totalAmount`, `discountAmount`, `paidAmount`,
//!   `reason` (empty unless cancelled), `v`
//! - `{p}sales:{YYYY-MM-DD}`: sorted set, product id -> units sold that day in
//!   `SHOP_TIMEZONE`, added by the order's completion in the same script step that moves
//!   the order view's `v`; expires `SALES_RETENTION_DAYS` after the day
//! - `{p}sales:ready`: the day keys are complete (see `keys.rs`); `{p}views:rebuilding`:
//!   a rebuild is swapping keys in, and the projector holds every view update back
//! - `{p}rebuild:*`: a blue/green rebuild's copy of all the above (`views_rebuild.rs`),
//!   renamed onto the live names once complete
//!
//! `v` is the last stream version applied to the hash. A view that does not exist is only
//! created by an event that gives its whole value (a product's or coupon's registration, a
//! wallet's first event); otherwise the event is passed over and readers fall back to SQL.

mod apply;
pub(crate) mod keys;
mod rebuild;
mod script;
mod sink;
mod view_update;
mod views_rebuild;
mod views_swap;

pub(crate) use rebuild::swap_ranking;
pub(crate) use sink::RedisSink;
pub use views_rebuild::{ViewsRebuildReport, rebuild_redis_views};

/// The key prefix when none is configured (`SHOP_REDIS_PREFIX`).
pub const DEFAULT_REDIS_PREFIX: &str = events::names::hot_view::DEFAULT_PREFIX;

#[derive(Debug, thiserror::Error)]
#[error("invalid Redis URL {url:?}: {source}")]
pub struct RedisViewsError {
    url: String,
    #[source]
    source: ::redis::RedisError,
}

/// Where the views live: a Redis server and the key prefix. Connecting is lazy (and
/// retried by the projector), so a Redis that is down at start-up delays only the views.
#[derive(Debug, Clone)]
pub struct RedisViews {
    client: ::redis::Client,
    prefix: String,
}

impl RedisViews {
    /// Checks the URL; the connection is opened by the projector that uses it.
    pub fn connect(url: &str, prefix: &str) -> Result<Self, RedisViewsError> {
        let client = ::redis::Client::open(url).map_err(|source| RedisViewsError {
            url: url.to_owned(),
            source,
        })?;
        Ok(Self {
            client,
            prefix: prefix.to_owned(),
        })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub(crate) fn client(&self) -> &::redis::Client {
        &self.client
    }
}
