//! One order followed through the logs by its request id: the HTTP request, every saga
//! step, and each projector that applies the order's events (embedded `shop serve`,
//! `SHOP_LOG_FORMAT=json`).
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use crate::embedded_process;

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn lines_with(log: &std::path::Path, needle: &str) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|line| line.contains(needle))
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn has(lines: &[Value], message: &str, field: &str, value: &str) -> bool {
    lines
        .iter()
        .any(|line| line["message"] == message && line[field].as_str() == Some(value))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_order_is_followed_by_its_request_id_from_http_through_the_saga_to_the_projectors() {
    let data = tempfile::tempdir().unwrap();
    let log = data.path().join("shop.log");
    let node = embedded_process::start_logging_to(
        data.path(),
        &[
            ("SHOP_LOG_FORMAT", "json"),
            (
                "SHOP_LOG",
                "warn,api_common=info,tower_http=debug,write_side::saga=debug,projections=debug",
            ),
        ],
        &log,
    )
    .await;
    let client = Client::new();
    let product: Value = client
        .post(format!("{}/v1/products", node.command))
        .bearer_auth(embedded_process::ADMIN_TOKEN)
        .json(&json!({"name": "lamp", "price": 1_000, "stock": 5}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let product_id = product["productId"].as_i64().unwrap();
    let charged = client
        .post(format!("{}/v1/users/7/points/charge", node.command))
        .json(&json!({"amount": 5_000}))
        .send()
        .await
        .unwrap();
    assert_eq!(charged.status(), StatusCode::OK);

    let request_id = uuid::Uuid::new_v4().to_string();
    let placed = client
        .post(format!("{}/v1/orders", node.command))
        .header("x-request-id", &request_id)
        .json(&json!({"userId": 7, "items": [{"productId": product_id, "quantity": 2}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(placed.status(), StatusCode::CREATED);
    assert_eq!(placed.headers()["x-request-id"], request_id.as_str());
    let order: Value = placed.json().await.unwrap();
    let order_stream = format!("order-{}", order["orderId"]);

    let expected = [
        ("orders", order_stream.as_str()),
        ("sales", order_stream.as_str()),
        ("balances", "wallet-7"),
        ("catalog", &format!("product-{product_id}")),
    ];
    let deadline = Instant::now() + Duration::from_secs(20);
    let lines = loop {
        let lines = lines_with(&log, &request_id);
        let projected = expected.iter().all(|(projection, stream)| {
            lines.iter().any(|line| {
                line["message"] == "event projected"
                    && line["projection"] == *projection
                    && line["stream"] == *stream
            })
        });
        if projected {
            break lines;
        }
        assert!(
            Instant::now() < deadline,
            "not every projector logged the order's events with its correlation id: {lines:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    let http_span = |line: &Value| {
        line["spans"].as_array().is_some_and(|spans| {
            spans
                .iter()
                .any(|span| span["name"] == "http" && span["request_id"] == request_id.as_str())
        })
    };
    assert!(
        lines.iter().any(|line| http_span(line)
            && line["target"]
                .as_str()
                .is_some_and(|t| t.starts_with("tower_http"))),
        "the HTTP request is logged with its request id"
    );
    // The participant steps (stock, points) run side by side, then one append records
    // the order as settled: every one of those lines carries the request's ids.
    let steps: Vec<&Value> = lines
        .iter()
        .filter(|line| {
            line["message"] == "saga step recorded"
                || line["message"] == "saga participant step done"
        })
        .collect();
    assert!(steps.len() >= 3, "reserve, pay and settle: {steps:#?}");
    for step in &steps {
        assert!(
            http_span(step),
            "a saga step keeps the request's span: {step}"
        );
        assert!(
            step["span"]["correlation_id"] == request_id.as_str(),
            "a saga step names the correlation id: {step}"
        );
    }
    assert!(has(
        &steps.iter().map(|s| (*s).clone()).collect::<Vec<_>>(),
        "saga step recorded",
        "status",
        "COMPLETED"
    ));
}
