//! Read-your-writes across the Kafka hop: waits on `projected_streams` (and on a hot
//! view's `v`), against real MariaDB and Redis.
#![allow(clippy::unwrap_used)]

use crate::support;

use axum::http::StatusCode;
use serde_json::json;
use std::time::{Duration, Instant};
use support::{FullStack, get, seed};

#[tokio::test]
async fn a_token_waits_until_its_stream_version_is_projected_or_gives_up() {
    let stack = FullStack::new().await;
    seed(&stack).await;
    stack
        .sql("INSERT INTO projected_streams VALUES ('balances', 'wallet-1', 2), ('catalog', 'product-1', 4)")
        .await;
    let state = stack
        .state()
        .await
        .with_consistency_wait(Duration::from_secs(3));

    // Already applied: answers at once.
    let (status, body) = get(&state, "/v1/products/1", Some("40:product-1:4")).await;
    assert_eq!((status, body["stock"].clone()), (StatusCode::OK, json!(10)));

    // Ahead of the read model: waits until the projector applies it, then reads the new row
    // (not a cached one: warm the in-process cache first to prove it is bypassed).
    assert_eq!(
        get(&state, "/v1/users/1/points", None).await.1["balance"],
        5000
    );
    let writer = {
        let pool = stack.pool.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let mut tx = pool.begin().await.unwrap();
            sqlx::query("UPDATE balances SET balance = 6000 WHERE user_id = 1")
                .execute(&mut *tx)
                .await
                .unwrap();
            sqlx::query("UPDATE projected_streams SET version = 3 WHERE stream_id = 'wallet-1'")
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        })
    };
    let started = Instant::now();
    let (status, body) = get(&state, "/v1/users/1/points", Some("50:wallet-1:3")).await;
    let waited = started.elapsed();
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"userId": 1, "balance": 6000}))
    );
    assert!(
        waited >= Duration::from_millis(190),
        "answered after {waited:?}, before the write"
    );
    assert!(waited < Duration::from_secs(2), "answered after {waited:?}");
    writer.await.unwrap();

    // Never applied: the existing 503 once the bounded wait is over.
    let state = state.with_consistency_wait(Duration::from_millis(300));
    let started = Instant::now();
    let (status, body) = get(&state, "/v1/users/1/points", Some("51:wallet-1:9")).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::SERVICE_UNAVAILABLE, json!("overloaded"))
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    let (status, _) = get(&state, "/v1/users/1/coupons", Some("51:coupon-1:1")).await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "no row for the stream yet"
    );

    // A token this projection cannot wait on (no stream, or another aggregate's) answers now.
    for token in ["52", "53:order-7:1", "54:product-1:50"] {
        let (status, _) = get(&state, "/v1/users/1/points", Some(token)).await;
        assert_eq!(status, StatusCode::OK, "{token}");
    }
    // Version 0: a command that wrote nothing to a new stream; no row will ever show it.
    let started = Instant::now();
    let (status, _) = get(&state, "/v1/users/77/points", Some("55:wallet-77:0")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(started.elapsed() < Duration::from_millis(300));
}

#[tokio::test]
async fn a_hot_view_that_shows_the_write_answers_without_waiting_for_sql() {
    let stack = FullStack::new().await;
    seed(&stack).await;
    stack
        .sql("INSERT INTO projected_streams VALUES ('coupons', 'coupon-1', 2)")
        .await;
    let state = stack
        .state()
        .await
        .with_consistency_wait(Duration::from_millis(300));
    stack
        .hot_view(
            "coupon:1",
            &[
                ("couponId", "1"),
                ("name", "Rush"),
                ("discountKind", "percent"),
                ("discountValue", "10"),
                ("totalQuantity", "30"),
                ("issuedQuantity", "3"),
                ("validFrom", ""),
                ("validUntil", ""),
                ("v", "3"),
            ],
        )
        .await;

    // Redis has version 3 though SQL has only 2: the view counts, no wait.
    let started = Instant::now();
    let (status, body) = get(&state, "/v1/coupons/1", Some("60:coupon-1:3")).await;
    assert_eq!(
        (status, body["issuedQuantity"].clone()),
        (StatusCode::OK, json!(3))
    );
    assert!(started.elapsed() < Duration::from_millis(250));

    // Redis is behind the token too: SQL's progress decides, and it is behind: 503.
    let (status, body) = get(&state, "/v1/coupons/1", Some("61:coupon-1:4")).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::SERVICE_UNAVAILABLE, json!("overloaded"))
    );
    stack.sql("UPDATE projected_streams SET version = 4").await;
    stack.sql("UPDATE coupons SET issued_quantity = 4").await;
    let (status, body) = get(&state, "/v1/coupons/1", Some("61:coupon-1:4")).await;
    assert_eq!(
        (status, body["issuedQuantity"].clone()),
        (StatusCode::OK, json!(4))
    );

    // A bare position says nothing about a hot view's version: read the model instead.
    let (_, body) = get(&state, "/v1/coupons/1", Some("62")).await;
    assert_eq!(body["issuedQuantity"], 4);
}
