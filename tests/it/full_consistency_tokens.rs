//! Consistency-Tokens against the full stack as real processes (MariaDB, Kafka, a lone
//! `shop query-api` that learns the store's head from MySQL): forged, future and malformed
//! tokens are 400 at once on every query route; a genuine token whose read model lags
//! waits, then reads the write.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use crate::cluster;

use cluster::{Cluster, Role};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::{Connection, MySqlConnection};
use std::time::{Duration, Instant};

/// Every query route that accepts a token, with the stream category its read model
/// applies (a forged version of such a stream is what a lagging read model would wait on).
const ROUTES: [(&str, &str); 8] = [
    ("/v1/users/1/points", "wallet-1"),
    ("/v1/users/1/coupons", "coupon-1"),
    ("/v1/products", "product-1"),
    ("/v1/products/1", "product-1"),
    ("/v1/coupons/1", "coupon-1"),
    ("/v1/orders/1", "order-1"),
    ("/v1/rankings/top-products", "order-1"),
    ("/v1/products/search?q=latte", "product-1"),
];

/// Far below the 2 s wait a forged token used to hold: no single refusal may take this
/// long, even on a loaded machine...
const AT_ONCE: Duration = Duration::from_secs(1);
/// ...and the typical one is answered within the 100 ms.
const TYPICAL: Duration = Duration::from_millis(100);

async fn get(cluster: &Cluster, query: &Role, path: &str, token: &str) -> (StatusCode, Value) {
    let response = cluster
        .client
        .get(format!("{}{path}", query.url.as_deref().unwrap()))
        .header("Consistency-Token", token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let content_type = response.headers().get("content-type").cloned();
    let body = response.json().await.unwrap_or(Value::Null);
    if status.is_client_error() {
        assert_eq!(
            content_type.as_ref().and_then(|v| v.to_str().ok()),
            Some("application/problem+json"),
            "{path} {token}"
        );
    }
    (status, body)
}

/// Asserts a quick 400 with `code`; returns how long it took.
async fn refused(cluster: &Cluster, query: &Role, path: &str, token: &str, code: &str) -> Duration {
    let started = Instant::now();
    let (status, body) = get(cluster, query, path, token).await;
    let took = started.elapsed();
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some(code)),
        "{path} {token}: {body}"
    );
    assert!(took < AT_ONCE, "{path} {token}: answered after {took:?}");
    took
}

async fn charge(cluster: &Cluster, command: &Role, user: i64, amount: i64) -> String {
    let response = cluster
        .client
        .post(format!(
            "{}/v1/users/{user}/points/charge",
            command.url.as_deref().unwrap()
        ))
        .json(&json!({"amount": amount}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.headers()["consistency-token"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_tokens_are_refused_at_once_and_a_lagging_genuine_one_waits() {
    let cluster = Cluster::new();
    cluster.migrate();
    let command = cluster.command_api().await;
    let _relay = cluster.relay();
    let _projector = cluster.projector();
    // No Redis for the query API: every read with a token goes to SQL and its progress,
    // so the lag below is the read model's and no hot view answers around it.
    let query = cluster
        .query_api_with(&[("SHOP_REDIS_URL", "redis://127.0.0.1:1")])
        .await;

    let first = charge(&cluster, &command, 1, 1_000).await;
    cluster
        .eventually(&query, "/v1/users/1/points", Duration::from_secs(60), |b| {
            b["balance"] == 1_000
        })
        .await;
    // Genuine, and beyond the head the query API read when it started: it reads the head
    // again and answers.
    let (status, body) = get(&cluster, &query, "/v1/users/1/points", &first).await;
    assert_eq!(
        (status, body["balance"].clone()),
        (StatusCode::OK, json!(1_000))
    );
    let head: i64 = first.split(':').next().unwrap().parse().unwrap();

    let mut took = Vec::new();
    for (path, stream) in ROUTES {
        for token in ["x", "1:wallet-1", "-1", "99999999999999999999"] {
            took.push(refused(&cluster, &query, path, token, "validation-failed").await);
        }
        for token in [
            format!("{}", head + 1),
            format!("{}", i64::MAX),
            format!("{}:{stream}:1", head + 1_000),
            "2:wallet-1:3".to_owned(),
            // Inside the head, but a version the stream never reached: the read model
            // lags behind it forever, so the store is asked before waiting.
            format!("{head}:{stream}:9"),
        ] {
            took.push(refused(&cluster, &query, path, &token, "consistency-token-unknown").await);
        }
    }
    took.sort();
    let median = took[took.len() / 2];
    assert!(
        median < TYPICAL,
        "median refusal took {median:?} (slowest {:?})",
        took.last()
    );

    // A genuine token while the balances projector is held: lock its row for wallet-1.
    let mut lock = MySqlConnection::connect(&cluster.names.database_url)
        .await
        .unwrap();
    sqlx::query("BEGIN").execute(&mut lock).await.unwrap();
    sqlx::query(
        "SELECT version FROM projected_streams \
         WHERE projection = 'balances' AND stream_id = 'wallet-1' FOR UPDATE",
    )
    .fetch_one(&mut lock)
    .await
    .unwrap();
    let second = charge(&cluster, &command, 1, 500).await;
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        sqlx::query("ROLLBACK").execute(&mut lock).await.unwrap();
    });
    let started = Instant::now();
    let (status, body) = get(&cluster, &query, "/v1/users/1/points", &second).await;
    let waited = started.elapsed();
    assert_eq!(
        (status, body.clone()),
        (StatusCode::OK, json!({"userId": 1, "balance": 1_500})),
        "token {second}"
    );
    assert!(
        waited >= Duration::from_millis(450),
        "answered after {waited:?}, before the projector could apply the write"
    );
    release.await.unwrap();
}
