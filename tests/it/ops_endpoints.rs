//! `/metrics` and `/readyz` on both APIs of a running service, after real traffic.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use crate::common;

use common::spawn_app;
use reqwest::StatusCode;
use serde_json::{Value, json};
use shop::{Application, Settings};
use tokio_util::sync::CancellationToken;

async fn scrape(client: &reqwest::Client, base: &str) -> String {
    let response = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    response.text().await.unwrap()
}

fn assert_has(metrics: &str, needles: &[&str]) {
    for needle in needles {
        assert!(
            metrics.lines().any(|line| line.contains(needle)),
            "no line with {needle:?} in /metrics:\n{metrics}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_cover_commands_the_store_http_caches_and_projections() {
    let app = spawn_app().await;
    let (product, _) = app.register_product(1_000, 5).await;
    app.charge(7, 10_000).await;
    let (status, _) = app
        .order(json!({"userId": 7, "items": [{"productId": product, "quantity": 1}]}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = app
        .order(json!({"userId": 7, "items": [{"productId": product, "quantity": 9}]}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    app.get_json("/v1/users/7/points").await;
    app.get_json(&format!("/v1/products/{product}")).await;

    let command = scrape(&app.client, &app.command).await;
    assert_has(
        &command,
        &[
            r#"shop_http_requests_total{route="/v1/users/{user_id}/points/charge",method="POST",status="200"}"#,
            r#"shop_http_requests_total{route="/v1/orders",method="POST",status="409"}"#,
            r#"shop_command_duration_seconds_bucket{aggregate="wallet",command="charge",outcome="accepted""#,
            r#"shop_command_duration_seconds_count{aggregate="product",command="reserve",outcome="rejected"}"#,
            r#"shop_command_duration_seconds_count{aggregate="order",command="settle",outcome="accepted"}"#,
            "shop_executor_batch_size_bucket",
            "shop_executor_mailbox_depth_bucket",
            "shop_store_append_batch_size_bucket",
            r#"shop_saga_drives_total{outcome="COMPLETED"}"#,
            r#"shop_saga_drives_total{outcome="CANCELLED"}"#,
        ],
    );
    let query = scrape(&app.client, &app.query).await;
    assert_has(
        &query,
        &[
            r#"shop_http_requests_total{route="/v1/users/{user_id}/points",method="GET",status="200"}"#,
            r#"shop_cache_requests_total{layer="sql",result="read"}"#,
            r#"shop_cache_requests_total{layer="moka",result="miss"}"#,
            r#"shop_projection_events_total{projection="balances"}"#,
            "shop_projection_lag_seconds",
        ],
    );

    for base in [&app.command, &app.query] {
        let response = app
            .client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "ready");
        assert_eq!(body["checks"]["database"], "ok");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_names_a_dependency_that_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::embedded_in(dir.path());
    // Nothing listens on port 1.
    settings.redis_url = Some("redis://127.0.0.1:1".to_owned());
    let shutdown = CancellationToken::new();
    let app = Application::build(settings, shutdown.clone())
        .await
        .unwrap();
    let query = app.query_url();
    let running = tokio::spawn(app.run_until_stopped());

    let response = reqwest::get(format!("{query}/readyz")).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["checks"]["database"], "ok");
    assert!(
        body["checks"]["redis"]
            .as_str()
            .unwrap()
            .starts_with("down: "),
        "{body}"
    );
    // Alive all the same: the query API answers from SQL without Redis.
    let alive = reqwest::get(format!("{query}/healthz")).await.unwrap();
    assert_eq!(alive.status(), StatusCode::OK);
    shutdown.cancel();
    running.await.unwrap().unwrap();
}
