//! The query HTTP API over the read models. It never imports the write side: it reads
//! tables the projectors maintain, and waits on their progress for read-your-writes.

mod consistency;
mod coupons;
mod points;
mod products;
mod progress;

pub use progress::{PollingProgress, ReadProgress, WatchProgress};

use axum::Router;
use axum::routing::get;
use sqlx::SqlitePool;
use std::sync::Arc;
use std::time::Duration;

/// How long a query with a consistency token waits for its read model by default.
pub const DEFAULT_CONSISTENCY_WAIT: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct QueryState {
    pool: SqlitePool,
    progress: Arc<dyn ReadProgress>,
    consistency_wait: Duration,
}

impl QueryState {
    pub fn new(pool: SqlitePool, progress: Arc<dyn ReadProgress>) -> Self {
        Self {
            pool,
            progress,
            consistency_wait: DEFAULT_CONSISTENCY_WAIT,
        }
    }

    pub fn with_consistency_wait(mut self, wait: Duration) -> Self {
        self.consistency_wait = wait;
        self
    }
}

pub fn router(state: QueryState) -> Router {
    let routes = Router::new()
        .route("/v1/users/{user_id}/points", get(points::balance))
        .route("/v1/products", get(products::list))
        .route("/v1/products/{product_id}", get(products::one))
        .route("/v1/coupons/{coupon_id}", get(coupons::one))
        .route("/v1/users/{user_id}/coupons", get(coupons::of_user))
        .with_state(state);
    api_common::layers::with_common_layers(routes)
}

/// A read-model query failed: log it, answer a 500 that leaks nothing.
fn db_problem(error: sqlx::Error) -> api_common::Problem {
    api_common::Problem::internal(&error)
}
