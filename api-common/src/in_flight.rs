//! A cap on requests in flight per process: past it, callers get 503 `overloaded` with
//! Retry-After at once instead of joining an unbounded queue.

use crate::problem::Problem;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use tokio::sync::Semaphore;

#[derive(Clone)]
pub struct InFlightLimit(Arc<Semaphore>);

impl InFlightLimit {
    pub fn new(max: usize) -> Self {
        Self(Arc::new(Semaphore::new(max.max(1))))
    }
}

pub async fn limit_in_flight(
    State(limit): State<InFlightLimit>,
    request: Request,
    next: Next,
) -> Response {
    match limit.0.clone().try_acquire_owned() {
        Ok(_permit) => next.run(request).await,
        Err(_) => {
            Problem::overloaded("too many requests in flight; retry shortly", 1).into_response()
        }
    }
}
