//! The query HTTP API over the read models. It never imports the write side: it reads
//! tables (and Redis hot views) the projectors maintain, and waits on their progress for
//! read-your-writes. The same code serves SQLite (embedded) and MySQL through `AnyPool`.

mod caches;
mod consistency;
mod coupons;
mod hot_view;
mod known_writes;
mod layered;
mod log_limit;
mod openapi;
mod orders;
mod points;
mod products;
mod progress;
mod ranking_window;
mod rankings;
mod redis_reader;
mod search;
mod search_follow;
mod search_index;
mod stats;
mod store_writes;
mod stream_progress;
mod token_rejection;
mod user_coupons;

pub use caches::DEFAULT_CACHE_TTL;
pub use openapi::spec;
pub use progress::{PollingProgress, ReadProgress, WatchProgress};
pub use redis_reader::{DEFAULT_REDIS_PREFIX, RedisReader, RedisSetupError};
pub use stats::CacheStatsSnapshot;
pub use store_writes::{StoreWrites, StoreWritesError};
pub use stream_progress::StreamProgress;

use axum::Router;
use axum::routing::get;
use caches::Caches;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use known_writes::KnownWrites;
use sqlx::AnyPool;
use stats::CacheStats;
use std::sync::Arc;
use std::time::Duration;

/// How long a query with a consistency token waits for its read model by default.
pub const DEFAULT_CONSISTENCY_WAIT: Duration = Duration::from_secs(2);

/// The zone rankings count days in when none is configured (`SHOP_TIMEZONE`).
pub const DEFAULT_TIMEZONE: Tz = chrono_tz::Asia::Seoul;

/// Where "now" comes from (the ranking's "today"); tests pin it.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

#[derive(Clone)]
pub struct QueryState {
    pool: AnyPool,
    progress: Arc<dyn ReadProgress>,
    consistency_wait: Duration,
    /// What the event store has written, to refuse tokens naming writes it has not made;
    /// without it every well-formed token waits its bound.
    known_writes: Option<Arc<KnownWrites>>,
    redis: Option<RedisReader>,
    caches: Arc<Caches>,
    /// This process's product-name index, followed from the search projection's table.
    search: Arc<search_follow::SearchIndex>,
    stats: Arc<CacheStats>,
    timezone: Tz,
    clock: Clock,
    /// With `SHOP_JWT_SECRET`, a user's balance and coupons need that user's JWT.
    users: api_common::UserGuard,
    http: api_common::layers::HttpLimits,
}

impl QueryState {
    pub fn new(pool: AnyPool, progress: Arc<dyn ReadProgress>) -> Self {
        let (min_ttl, max_ttl) = DEFAULT_CACHE_TTL;
        Self {
            pool,
            progress,
            consistency_wait: DEFAULT_CONSISTENCY_WAIT,
            known_writes: None,
            redis: None,
            caches: Arc::new(Caches::new(min_ttl, max_ttl)),
            search: Arc::default(),
            stats: Arc::new(CacheStats::default()),
            timezone: DEFAULT_TIMEZONE,
            clock: Arc::new(Utc::now),
            http: api_common::layers::HttpLimits::default(),
            users: api_common::UserGuard::default(),
        }
    }

    /// The zone whose calendar days rankings cover (default [`DEFAULT_TIMEZONE`]).
    pub fn with_timezone(mut self, timezone: Tz) -> Self {
        self.timezone = timezone;
        self
    }

    /// Replaces the wall clock (tests pin "today").
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn with_consistency_wait(mut self, wait: Duration) -> Self {
        self.consistency_wait = wait;
        self
    }

    /// Checks every Consistency-Token against what `store` has written: one naming a
    /// position beyond its head, or a stream version it has not reached, is a 400
    /// `consistency-token-unknown` at once instead of a bounded wait ending in 503.
    pub fn with_store_writes(mut self, store: Arc<dyn StoreWrites>) -> Self {
        self.known_writes = Some(Arc::new(KnownWrites::new(store)));
        self
    }

    /// Serves balances, products and coupons from the projector's Redis hot views first.
    pub fn with_redis(mut self, redis: RedisReader) -> Self {
        self.redis = Some(redis);
        self
    }

    /// Each in-process cache entry lives a random time in `[min, max]` (default
    /// [`DEFAULT_CACHE_TTL`]). Replaces the caches, so call it before serving.
    pub fn with_cache_ttl(mut self, min: Duration, max: Duration) -> Self {
        self.caches = Arc::new(Caches::new(min, max));
        self
    }

    /// Body size and request timeout limits.
    pub fn with_http_limits(mut self, http: api_common::layers::HttpLimits) -> Self {
        self.http = http;
        self
    }

    /// JWT checks for routes naming a user (no-op unless the guard has a secret).
    pub fn with_users(mut self, users: api_common::UserGuard) -> Self {
        self.users = users;
        self
    }

    /// Hit and miss counts per cache layer since start-up.
    pub fn cache_stats(&self) -> CacheStatsSnapshot {
        self.stats.snapshot()
    }
}

pub fn router(state: QueryState) -> Router {
    let http = state.http;
    let of_user = Router::new()
        .route("/v1/users/{user_id}/points", get(points::balance))
        .route("/v1/users/{user_id}/coupons", get(user_coupons::of_user))
        .route_layer(axum::middleware::from_fn_with_state(
            state.users.clone(),
            api_common::users::require_path_user,
        ));
    let routes = Router::new()
        .merge(of_user)
        .route("/v1/products", get(products::list))
        .route("/v1/products/search", get(search::search))
        .route("/v1/products/{product_id}", get(products::one))
        .route("/v1/coupons/{coupon_id}", get(coupons::one))
        .route("/v1/orders/{order_id}", get(orders::one))
        .route("/v1/rankings/top-products", get(rankings::top_products))
        .with_state(state)
        .merge(api_common::openapi::docs_router(openapi::spec()));
    api_common::layers::with_common_layers(routes, http)
}

/// A read-model query failed: log it, answer a 503 for an outage, a 500 for anything
/// else, and leak nothing either way.
fn db_problem(error: &sqlx::Error) -> api_common::Problem {
    api_common::outage::database_problem(error)
}
