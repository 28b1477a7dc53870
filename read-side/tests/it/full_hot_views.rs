//! Layered reads against real MariaDB and Redis: Redis, then moka, then SQL.
#![allow(clippy::unwrap_used)]

use crate::support;

use axum::http::StatusCode;
use read_side::{QueryState, RedisReader, StreamProgress};
use serde_json::json;
use sqlx::Connection;
use sqlx::mysql::MySqlConnection;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{FullStack, get, seed};

#[tokio::test]
async fn a_hot_view_in_redis_answers_and_a_missing_one_falls_to_sql() {
    let stack = FullStack::new().await;
    seed(&stack).await;
    // Every Redis value differs from its SQL row, so the answer shows which layer gave it.
    stack
        .hot_view("balance:1", &[("balance", "7777"), ("v", "3")])
        .await;
    stack
        .hot_view(
            "product:1",
            &[
                ("productId", "1"),
                ("name", "Americano (hot)"),
                ("price", "4600"),
                ("stock", "9"),
                ("v", "5"),
            ],
        )
        .await;
    stack
        .hot_view(
            "coupon:1",
            &[
                ("couponId", "1"),
                ("name", "Rush!"),
                ("discountKind", "percent"),
                ("discountValue", "10"),
                ("totalQuantity", "30"),
                ("issuedQuantity", "5"),
                ("validFrom", ""),
                ("validUntil", "2030-01-01T00:00:00Z"),
                ("v", "6"),
            ],
        )
        .await;
    let state = stack.state().await;

    let from_redis = [
        ("/v1/users/1/points", json!({"userId": 1, "balance": 7777})),
        (
            "/v1/products/1",
            json!({"productId": 1, "name": "Americano (hot)", "price": 4600, "stock": 9}),
        ),
        (
            "/v1/coupons/1",
            json!({"couponId": 1, "name": "Rush!", "discount": {"kind": "percent", "value": 10},
                   "totalQuantity": 30, "issuedQuantity": 5, "remaining": 25,
                   "validFrom": null, "validUntil": "2030-01-01T00:00:00Z"}),
        ),
    ];
    for (uri, expected) in from_redis {
        assert_eq!(
            get(&state, uri, None).await,
            (StatusCode::OK, expected),
            "{uri}"
        );
    }
    assert_eq!(state.cache_stats().redis_hits, 3);
    assert_eq!(state.cache_stats().sql_reads, 0);

    let from_sql = [
        ("/v1/users/2/points", json!({"userId": 2, "balance": 100})),
        ("/v1/users/99/points", json!({"userId": 99, "balance": 0})),
        (
            "/v1/products/2",
            json!({"productId": 2, "name": "Latte", "price": 5000, "stock": 0}),
        ),
        (
            "/v1/coupons/2",
            json!({"couponId": 2, "name": "Old", "discount": {"kind": "fixed", "value": 1000},
                   "totalQuantity": 5, "issuedQuantity": 1, "remaining": 4,
                   "validFrom": null, "validUntil": "2020-01-01T00:00:00Z"}),
        ),
    ];
    for (uri, expected) in from_sql {
        assert_eq!(
            get(&state, uri, None).await,
            (StatusCode::OK, expected),
            "{uri}"
        );
    }
    let (status, body) = get(&state, "/v1/products/404", None).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::NOT_FOUND, json!("not-found"))
    );

    // Lists read SQL, on MySQL, in the same shapes as on SQLite.
    let (status, body) = get(&state, "/v1/products?page=0&size=2", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total"], 3);
    assert_eq!(
        body["items"][0],
        json!({"productId": 1, "name": "Americano", "price": 4500, "stock": 10})
    );
    let (_, body) = get(&state, "/v1/users/1/coupons", None).await;
    let statuses: Vec<_> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].clone())
        .collect();
    assert_eq!(statuses, vec![json!("AVAILABLE"), json!("EXPIRED")]);
    assert_eq!(
        body["items"][0]["discount"],
        json!({"kind": "percent", "value": 10})
    );

    let stats = state.cache_stats();
    assert_eq!((stats.redis_hits, stats.redis_misses), (3, 5), "{stats:?}");
}

#[tokio::test]
async fn with_redis_at_a_dead_port_every_route_still_answers_from_mysql() {
    let stack = FullStack::new().await;
    seed(&stack).await;
    // Creating the reader must neither fail nor wait on the dead server.
    let started = Instant::now();
    let reader = RedisReader::new("redis://127.0.0.1:1", &stack.prefix).unwrap();
    assert!(started.elapsed() < Duration::from_millis(100));
    let state = QueryState::new(
        stack.pool.clone(),
        Arc::new(StreamProgress::new(stack.pool.clone())),
    )
    .with_redis(reader.clone());

    for _ in 0..3 {
        for (uri, field, expected) in [
            ("/v1/users/1/points", "balance", json!(5000)),
            ("/v1/products/1", "stock", json!(10)),
            ("/v1/coupons/1", "remaining", json!(28)),
            ("/v1/products?size=5", "total", json!(3)),
        ] {
            let started = Instant::now();
            let (status, body) = get(&state, uri, None).await;
            assert_eq!(
                (status, body[field].clone()),
                (StatusCode::OK, expected),
                "{uri}"
            );
            assert!(started.elapsed() < Duration::from_secs(1), "{uri} was slow");
        }
        let (status, body) = get(&state, "/v1/users/1/coupons", None).await;
        assert_eq!(
            (status, body["items"].as_array().unwrap().len()),
            (StatusCode::OK, 2)
        );
        // Past the moka lifetime, so each round reaches SQL again.
        tokio::time::sleep(Duration::from_millis(550)).await;
    }
    assert!(!reader.is_connected());
    assert_eq!(state.cache_stats().redis_hits, 0);
    assert!(
        RedisReader::new("not a url", "x:").is_err(),
        "a malformed URL is a start-up error"
    );
}

// Multi-threaded: on one thread, fifty debug-build requests can keep the Redis replies from
// being read within the reader's 50 ms budget, and the misses would count as Redis errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_misses_on_one_key_load_it_once() {
    let stack = FullStack::new().await;
    seed(&stack).await;
    let state = stack.state().await;
    // Hold the table so the first load blocks: every request then misses while it runs, and
    // only coalescing (not a cache hit after it) can keep the count at one.
    let mut locker = MySqlConnection::connect(&stack.database_url).await.unwrap();
    sqlx::raw_sql("LOCK TABLES products WRITE")
        .execute(&mut locker)
        .await
        .unwrap();
    let requests: Vec<_> = (0..50)
        .map(|_| {
            let state = state.clone();
            tokio::spawn(async move { get(&state, "/v1/products/3", None).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(state.cache_stats().sql_reads, 1, "one load is in flight");
    sqlx::raw_sql("UNLOCK TABLES")
        .execute(&mut locker)
        .await
        .unwrap();
    for request in requests {
        let (status, body) = request.await.unwrap();
        assert_eq!(
            (status, body["name"].clone()),
            (StatusCode::OK, json!("Cake"))
        );
    }
    let stats = state.cache_stats();
    assert_eq!(
        (stats.sql_reads, stats.moka_misses, stats.moka_hits),
        (1, 1, 49),
        "{stats:?}"
    );
    // Every request asked Redis first and found nothing there: a miss, an error (on a loaded
    // machine a reply can take longer than the reader's 50 ms budget), or a skip while the
    // connection was still being made. None may have been answered from Redis.
    assert_eq!(
        stats.redis_misses + stats.redis_errors + stats.redis_skipped,
        50,
        "{stats:?}"
    );
    assert_eq!(stats.redis_hits, 0, "{stats:?}");
}
