//! The in-process layer between Redis and SQL: short, jittered lifetimes so entries written
//! together do not all expire (and reload) together, and one load per key however many
//! requests miss it at once (`try_get_with`).

use crate::coupons::CouponView;
use crate::orders::OrderView;
use crate::products::{ProductPage, ProductView};
use crate::ranking_window::Window;
use crate::rankings::RankedWindow;
use crate::search::SearchKey;
use crate::user_coupons::UserCouponRow;
use moka::Expiry;
use moka::future::Cache;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Default entry lifetime range. Short, because without a consistency token a read may be
/// this stale, and long enough to absorb a burst on one hot key.
pub const DEFAULT_CACHE_TTL: (Duration, Duration) =
    (Duration::from_millis(200), Duration::from_millis(500));

const CAPACITY: u64 = 100_000;
const PAGE_CAPACITY: u64 = 1_000;
/// Distinct searches kept: popular queries repeat, the long tail is ranked anew.
const SEARCH_CAPACITY: u64 = 10_000;
const SEARCH_TTL: (Duration, Duration) = RANKING_TTL;
/// A window is today and up to 29 days before it: a few dozen entries at most.
const RANKING_CAPACITY: u64 = 64;
/// Rankings change with every completed order but nobody needs them to the millisecond;
/// about a second turns a read storm into one Redis (or SQL) load per window per second.
const RANKING_TTL: (Duration, Duration) =
    (Duration::from_millis(800), Duration::from_millis(1_200));

pub(crate) struct Caches {
    pub(crate) balances: Cache<i64, i64>,
    /// `None` caches "does not exist" as briefly as a value, so a scan of unknown ids
    /// cannot bypass the cache.
    pub(crate) products: Cache<i64, Option<ProductView>>,
    pub(crate) coupons: Cache<i64, Option<CouponView>>,
    pub(crate) product_pages: Cache<(i64, i64), ProductPage>,
    /// Results per (query, page, size), about a second like rankings: a popular word
    /// matches thousands of names, and a search without a token may be that stale (one
    /// with a token follows the index and ranks anew after its wait).
    pub(crate) searches: Cache<SearchKey, ProductPage>,
    pub(crate) user_coupons: Cache<i64, Arc<Vec<UserCouponRow>>>,
    pub(crate) orders: Cache<i64, Option<OrderView>>,
    pub(crate) rankings: Cache<Window, RankedWindow>,
}

impl Caches {
    pub(crate) fn new(min_ttl: Duration, max_ttl: Duration) -> Self {
        let jitter = Jitter::new(min_ttl, max_ttl);
        Self {
            balances: build(CAPACITY, jitter),
            products: build(CAPACITY, jitter),
            coupons: build(CAPACITY, jitter),
            product_pages: build(PAGE_CAPACITY, jitter),
            searches: build(SEARCH_CAPACITY, Jitter::new(SEARCH_TTL.0, SEARCH_TTL.1)),
            user_coupons: build(CAPACITY, jitter),
            orders: build(CAPACITY, jitter),
            rankings: build(RANKING_CAPACITY, Jitter::new(RANKING_TTL.0, RANKING_TTL.1)),
        }
    }
}

fn build<K, V>(capacity: u64, jitter: Jitter) -> Cache<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    Cache::builder()
        .max_capacity(capacity)
        .expire_after(jitter)
        .build()
}

#[derive(Clone, Copy)]
struct Jitter {
    min_ms: u64,
    max_ms: u64,
}

impl Jitter {
    fn new(a: Duration, b: Duration) -> Self {
        let (a, b) = (millis(a), millis(b));
        Self {
            min_ms: a.min(b),
            max_ms: a.max(b),
        }
    }

    fn sample(&self) -> Duration {
        Duration::from_millis(rand::random_range(self.min_ms..=self.max_ms))
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl<K, V> Expiry<K, V> for Jitter {
    fn expire_after_create(&self, _key: &K, _value: &V, _created_at: Instant) -> Option<Duration> {
        Some(self.sample())
    }
}

#[cfg(test)]
mod tests {
    use super::Jitter;
    use std::collections::HashSet;
    use std::time::Duration;

    #[test]
    fn lifetimes_spread_across_the_range() {
        let jitter = Jitter::new(Duration::from_millis(500), Duration::from_millis(200));
        let samples: HashSet<_> = (0..200).map(|_| jitter.sample()).collect();
        assert!(samples.len() > 10, "lifetimes should differ: {samples:?}");
        assert!(samples.iter().all(|d| (200..=500).contains(&d.as_millis())));
    }
}
