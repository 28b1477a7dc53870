//! Redis that hangs or drops after start-up: reads time out quickly into SQL, never a 5xx,
//! and go back to Redis once it answers again.
#![allow(clippy::unwrap_used)]

use crate::support;

use axum::http::StatusCode;
use read_side::{QueryState, RedisReader, StreamProgress};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::flaky_proxy::FlakyProxy;
use support::{FullStack, get, redis_url, seed};

async fn balance(state: &QueryState) -> (StatusCode, i64, Duration) {
    let started = Instant::now();
    let (status, body) = get(state, "/v1/users/1/points", None).await;
    (
        status,
        body["balance"].as_i64().unwrap_or(-1),
        started.elapsed(),
    )
}

#[tokio::test]
async fn a_hung_or_dropped_redis_falls_back_to_sql_and_recovers() {
    let stack = FullStack::new().await;
    seed(&stack).await;
    stack
        .hot_view("balance:1", &[("balance", "7777"), ("v", "1")])
        .await;
    let upstream = redis_url()
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_owned();
    let proxy = FlakyProxy::start(&upstream).await;
    let reader = RedisReader::new(&proxy.url, &stack.prefix).unwrap();
    let state = QueryState::new(
        stack.pool.clone(),
        Arc::new(StreamProgress::new(stack.pool.clone())),
    )
    .with_redis(reader.clone())
    // Lifetimes below the pauses here, so each read below reaches past moka.
    .with_cache_ttl(Duration::from_millis(1), Duration::from_millis(1));
    for _ in 0..500 {
        if reader.is_connected() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (status, value, _) = balance(&state).await;
    assert_eq!((status, value), (StatusCode::OK, 7777), "served by Redis");

    // Hung: the read gives up on Redis after its short timeout and SQL answers.
    proxy.freeze(true);
    let (status, value, took) = balance(&state).await;
    assert_eq!((status, value), (StatusCode::OK, 5000));
    assert!(took < Duration::from_millis(500), "took {took:?}");
    assert_eq!(state.cache_stats().redis_errors, 1);
    // Backing off: the next reads do not pay the timeout again.
    let (_, value, took) = balance(&state).await;
    assert_eq!(value, 5000);
    assert!(took < Duration::from_millis(45), "took {took:?}");
    assert!(state.cache_stats().redis_skipped >= 1);

    proxy.freeze(false);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (_, value, _) = balance(&state).await;
    assert_eq!(value, 7777, "back on Redis after the backoff");

    // Dropped: I/O errors, then the manager reconnects by itself.
    proxy.cut();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut saw_sql = false;
    loop {
        let (status, value, _) = balance(&state).await;
        assert_eq!(status, StatusCode::OK);
        saw_sql |= value == 5000;
        if saw_sql && value == 7777 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never back on Redis after a reconnect"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, body) = get(&state, "/v1/products/1", None).await;
    assert_eq!(
        (status, body["name"].clone()),
        (StatusCode::OK, json!("Americano"))
    );
}
