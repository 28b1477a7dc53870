//! The ranking and order endpoints against real MariaDB and Redis: Redis and SQL give the
//! same ranking (a Redis that is down, or whose day keys are not known complete, falls
//! back to SQL), days follow Asia/Seoul, ties go to the lower product id, bad parameters
//! are 400s, and an order reads from its hot view or from SQL, 404 when unknown.
#![allow(clippy::unwrap_used)]

use crate::support;

use axum::http::StatusCode;
use chrono::{DateTime, TimeZone, Utc};
use read_side::{QueryState, RedisReader, StreamProgress};
use serde_json::{Value, json};
use std::sync::Arc;
use support::{FullStack, get, seed};

/// 2026-11-25T13:42:00Z: 22:42 on 2026-11-25 in Seoul (still the 25th in UTC too).
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 13, 42, 0).unwrap()
}

/// Sales on four Seoul days. On 2026-11-24, product 2 and 3 tie; product 1 leads the
/// three days ending on the 25th; day 2026-11-22 falls outside that window.
const SALES: &[(&str, i64, i64)] = &[
    ("2026-11-22", 3, 100),
    ("2026-11-23", 1, 4),
    ("2026-11-24", 1, 3),
    ("2026-11-24", 2, 5),
    ("2026-11-24", 3, 5),
    ("2026-11-25", 1, 2),
    ("2026-11-25", 3, 1),
];

async fn seed_sales(stack: &FullStack, with_redis: bool) {
    seed(stack).await;
    for (day, product, units) in SALES {
        stack
            .sql(&format!(
                "INSERT INTO daily_sales VALUES ('{day}', {product}, {units})"
            ))
            .await;
        if with_redis {
            stack
                .redis_command(
                    "ZADD",
                    &format!("sales:{day}"),
                    &[&units.to_string(), &product.to_string()],
                )
                .await;
        }
    }
    if with_redis {
        stack.redis_command("SET", "sales:ready", &["1"]).await;
    }
}

fn pinned(state: QueryState) -> QueryState {
    state.with_clock(Arc::new(now))
}

fn expected_three_days() -> Value {
    json!({
        "from": "2026-11-23",
        "to": "2026-11-25",
        "items": [
            {"rank": 1, "productId": 1, "name": "Americano", "soldQuantity": 9},
            {"rank": 2, "productId": 3, "name": "Cake", "soldQuantity": 6},
            {"rank": 3, "productId": 2, "name": "Latte", "soldQuantity": 5}
        ]
    })
}

#[tokio::test]
async fn redis_and_sql_rank_alike_and_a_dead_redis_falls_back_to_sql() {
    let stack = FullStack::new().await;
    seed_sales(&stack, true).await;
    let uri = "/v1/rankings/top-products?days=3&limit=5";

    let with_redis = pinned(stack.state().await);
    assert_eq!(
        get(&with_redis, uri, None).await,
        (StatusCode::OK, expected_three_days())
    );
    assert_eq!(with_redis.cache_stats().redis_hits, 1);
    assert_eq!(with_redis.cache_stats().sql_reads, 0);
    // The second read is the in-process cache's.
    get(&with_redis, uri, None).await;
    assert_eq!(with_redis.cache_stats().moka_hits, 1);

    // Nothing listens on port 1: Redis is down, SQL answers the same.
    let dead = RedisReader::new("redis://127.0.0.1:1", &stack.prefix).unwrap();
    let down = pinned(
        QueryState::new(
            stack.pool.clone(),
            Arc::new(StreamProgress::new(stack.pool.clone())),
        )
        .with_redis(dead),
    );
    assert_eq!(
        get(&down, uri, None).await,
        (StatusCode::OK, expected_three_days())
    );
    assert_eq!(down.cache_stats().redis_hits, 0);
    assert_eq!(down.cache_stats().sql_reads, 1);

    // Without Redis configured at all, the same again.
    let sql_only = pinned(QueryState::new(
        stack.pool.clone(),
        Arc::new(StreamProgress::new(stack.pool.clone())),
    ));
    assert_eq!(
        get(&sql_only, uri, None).await,
        (StatusCode::OK, expected_three_days())
    );
}

#[tokio::test]
async fn day_keys_not_known_complete_are_not_trusted() {
    let stack = FullStack::new().await;
    seed_sales(&stack, true).await;
    // Redis lost its data (or no projector keeps it): no ready marker, partial keys.
    stack.redis_command("DEL", "sales:ready", &[]).await;
    stack.redis_command("DEL", "sales:2026-11-24", &[]).await;
    let state = pinned(stack.state().await);
    assert_eq!(
        get(&state, "/v1/rankings/top-products", None).await,
        (StatusCode::OK, expected_three_days())
    );
    assert_eq!(state.cache_stats().redis_misses, 1);
    assert_eq!(state.cache_stats().sql_reads, 1);
}

#[tokio::test]
async fn windows_follow_seoul_days_and_ties_go_to_the_lower_product_id() {
    let stack = FullStack::new().await;
    seed_sales(&stack, true).await;
    // 2026-11-24T15:00:00Z is already the 25th in Seoul; one second earlier it is the 24th.
    let at = |h, m, s| Utc.with_ymd_and_hms(2026, 11, 24, h, m, s).unwrap();
    for (with_redis, label) in [(true, "redis"), (false, "sql")] {
        let base = if with_redis {
            stack.state().await
        } else {
            QueryState::new(
                stack.pool.clone(),
                Arc::new(StreamProgress::new(stack.pool.clone())),
            )
        };
        let before = base.clone().with_clock(Arc::new(move || at(14, 59, 59)));
        let (status, body) = get(&before, "/v1/rankings/top-products?days=1", None).await;
        assert_eq!(status, StatusCode::OK, "{label}");
        assert_eq!(
            body,
            json!({"from": "2026-11-24", "to": "2026-11-24", "items": [
                {"rank": 1, "productId": 2, "name": "Latte", "soldQuantity": 5},
                {"rank": 2, "productId": 3, "name": "Cake", "soldQuantity": 5},
                {"rank": 3, "productId": 1, "name": "Americano", "soldQuantity": 3}
            ]}),
            "{label}"
        );
        let after = base.with_clock(Arc::new(move || at(15, 0, 0)));
        let (_, body) = get(&after, "/v1/rankings/top-products?days=1&limit=1", None).await;
        assert_eq!(
            body,
            json!({"from": "2026-11-25", "to": "2026-11-25", "items": [
                {"rank": 1, "productId": 1, "name": "Americano", "soldQuantity": 2}
            ]}),
            "{label}"
        );
    }
}

#[tokio::test]
async fn bad_ranking_parameters_are_400_validation_failed() {
    let stack = FullStack::new().await;
    let state = pinned(stack.state().await);
    for query in [
        "days=0",
        "days=31",
        "days=-1",
        "limit=0",
        "limit=101",
        "days=abc",
        "limit=2.5",
    ] {
        let (status, body) = get(&state, &format!("/v1/rankings/top-products?{query}"), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["code"], "validation-failed", "{query}");
    }
    let (status, body) = get(&state, "/v1/rankings/top-products?days=30&limit=100", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"from": "2026-10-27", "to": "2026-11-25", "items": []})
    );
}

#[tokio::test]
async fn an_order_reads_from_its_hot_view_or_sql_and_unknown_ones_are_404() {
    let stack = FullStack::new().await;
    seed(&stack).await;
    stack
        .sql(
            "INSERT INTO orders VALUES \
             (7, 42, 'CANCELLED', 9000, 0, 0, 'insufficient-stock', '2026-11-25T01:00:00Z', '2026-11-25T01:00:01Z'), \
             (8, 42, 'COMPLETED', 10000, 1000, 9000, NULL, '2026-11-25T01:00:00Z', '2026-11-25T01:00:02Z')",
        )
        .await;
    stack
        .sql("INSERT INTO order_lines VALUES (7, 3, 1, 6500), (7, 1, 1, 2500), (8, 2, 2, 5000)")
        .await;
    stack
        .hot_view(
            "order:9",
            &[
                ("orderId", "9"),
                ("userId", "43"),
                ("status", "PENDING"),
                ("items", r#"[{"productId":5,"quantity":1,"unitPrice":300},{"productId":4,"quantity":2,"unitPrice":100}]"#),
                ("totalAmount", "500"),
                ("discountAmount", "0"),
                ("paidAmount", "0"),
                ("reason", ""),
                ("v", "2"),
            ],
        )
        .await;
    let state = stack.state().await;

    let (status, body) = get(&state, "/v1/orders/7", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"orderId": 7, "userId": 42, "status": "CANCELLED",
               "items": [{"productId": 1, "quantity": 1, "unitPrice": 2500},
                         {"productId": 3, "quantity": 1, "unitPrice": 6500}],
               "totalAmount": 9000, "discountAmount": 0, "paidAmount": 0,
               "reason": "insufficient-stock"})
    );
    let (_, body) = get(&state, "/v1/orders/8", None).await;
    assert_eq!(body["status"], "COMPLETED");
    assert_eq!(body["paidAmount"], 9000);
    assert!(
        body.get("reason").is_none(),
        "reason only when cancelled: {body}"
    );

    let (status, body) = get(&state, "/v1/orders/9", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"orderId": 9, "userId": 43, "status": "PENDING",
               "items": [{"productId": 4, "quantity": 2, "unitPrice": 100},
                         {"productId": 5, "quantity": 1, "unitPrice": 300}],
               "totalAmount": 500, "discountAmount": 0, "paidAmount": 0})
    );
    assert_eq!(state.cache_stats().redis_hits, 1);

    let (status, body) = get(&state, "/v1/orders/404", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "not-found");
    for bad in ["/v1/orders/abc", "/v1/orders/0", "/v1/orders/-3"] {
        let (status, body) = get(&state, bad, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(body["code"], "validation-failed", "{bad}");
    }

    // Read your writes: a token for a version the view and SQL have applied answers at
    // once; one for a version no projection has reached yet times out as 503.
    stack
        .sql("INSERT INTO projected_streams VALUES ('orders', 'order-7', 3)")
        .await;
    let (status, _) = get(&state, "/v1/orders/7", Some("10:order-7:3")).await;
    assert_eq!(status, StatusCode::OK);
    let impatient = state.with_consistency_wait(std::time::Duration::from_millis(100));
    let (status, body) = get(&impatient, "/v1/orders/7", Some("11:order-7:4")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
}

#[tokio::test]
async fn redis_ranks_a_large_window_exactly_as_sql_does() {
    let stack = FullStack::new().await;
    seed(&stack).await;
    // 1,000 products over 30 days, skewed and full of ties: the threshold algorithm must
    // read several pages per day and still agree with SQL, ties included.
    let mut values = Vec::new();
    for day in 1..=30 {
        let date = format!("2026-11-{day:02}");
        let mut members = Vec::new();
        for product in 1..=1_000_i64 {
            let units = (product * 7 + day * 13) % 50 + if product % 37 == 0 { 60 } else { 0 };
            if units == 0 {
                continue;
            }
            values.push(format!("('{date}', {product}, {units})"));
            members.push(units.to_string());
            members.push(product.to_string());
        }
        let members: Vec<&str> = members.iter().map(String::as_str).collect();
        stack
            .redis_command("ZADD", &format!("sales:{date}"), &members)
            .await;
    }
    for chunk in values.chunks(1_000) {
        stack
            .sql(&format!(
                "INSERT INTO daily_sales VALUES {}",
                chunk.join(", ")
            ))
            .await;
    }
    stack.redis_command("SET", "sales:ready", &["1"]).await;
    let sql_only = pinned(QueryState::new(
        stack.pool.clone(),
        Arc::new(StreamProgress::new(stack.pool.clone())),
    ));
    let with_redis = pinned(stack.state().await);
    for days in [1, 3, 7, 30] {
        let uri = format!("/v1/rankings/top-products?days={days}&limit=100");
        let (_, from_sql) = get(&sql_only, &uri, None).await;
        let (_, from_redis) = get(&with_redis, &uri, None).await;
        assert_eq!(from_sql["items"].as_array().unwrap().len(), 100, "{days}");
        assert_eq!(from_redis, from_sql, "days={days}");
    }
    assert_eq!(with_redis.cache_stats().redis_hits, 4);
}
