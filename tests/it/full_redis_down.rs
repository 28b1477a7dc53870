//! A query API whose Redis URL points at a dead port starts and answers from MySQL.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use crate::cluster;

use cluster::Cluster;
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_redis_degrades_to_mysql() {
    let cluster = Cluster::new();
    cluster.migrate();
    let command = cluster.command_api().await;
    let _relay = cluster.relay();
    let _projector = cluster.projector();
    let query = cluster
        .query_api_with(&[("SHOP_REDIS_URL", "redis://127.0.0.1:1")])
        .await;

    let (status, product) = cluster
        .admin_post(
            &command,
            "/v1/products",
            json!({"name": "Kettle", "price": 39000, "stock": 5}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let product = product["productId"].as_i64().unwrap();
    let response = cluster
        .client
        .post(format!(
            "{}/v1/users/7/points/charge",
            command.url.as_deref().unwrap()
        ))
        .json(&json!({"amount": 1234}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let view = cluster
        .eventually(
            &query,
            &format!("/v1/products/{product}"),
            Duration::from_secs(30),
            |v| v["stock"] == 5,
        )
        .await;
    assert_eq!(view["name"], "Kettle");
    cluster
        .eventually(&query, "/v1/users/7/points", Duration::from_secs(30), |v| {
            v["balance"] == 1234
        })
        .await;
    for path in [
        "/v1/products?page=0&size=20",
        "/v1/users/7/coupons",
        "/v1/users/8/points",
    ] {
        let (status, body) = cluster.get(&query, path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
}
