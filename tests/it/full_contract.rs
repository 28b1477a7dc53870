//! The event contract over real processes and Kafka: a scripted session through the
//! command API (products, points, a coupon, an order completed with it and one cancelled)
//! reaches the topics as messages that each conform to `docs/asyncapi.json` (headers with
//! the CloudEvents attributes, value against its payload schema), and the orders sent with
//! a W3C `traceparent` have every message they caused carrying that trace.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use crate::cluster;
use crate::contract_support;

use cluster::{Cluster, Role, kafka_brokers};
use contract_support::{Contract, Received, asyncapi, consume_all};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const TRACE_COMPLETED: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const TRACE_CANCELLED: &str = "0af7651916cd43dd8448eb211c80319c";

async fn post(
    cluster: &Cluster,
    node: &Role,
    path: &str,
    body: Value,
    headers: &[(&str, String)],
) -> (StatusCode, Value) {
    let mut request = cluster
        .client
        .post(format!("{}{path}", node.url.as_deref().unwrap()))
        .bearer_auth(cluster::ADMIN_TOKEN)
        .json(&body);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn traced(trace_id: &str, request_id: &uuid::Uuid) -> Vec<(&'static str, String)> {
    vec![
        ("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01")),
        ("x-request-id", request_id.to_string()),
    ]
}

/// Polls the topics until the relay has published everything (the same messages twice in
/// a row, `done` holding for them): it publishes shortly after each commit.
async fn messages(cluster: &Cluster, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
    let topics: Vec<String> = events::names::Category::NAMES
        .iter()
        .map(|c| format!("{}{c}", cluster.names.topic_prefix))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = 0;
    loop {
        match consume_all(&kafka_brokers(), &topics, Duration::from_secs(30)).await {
            Ok(received) if received.len() == last && done(&received) => return received,
            Ok(received) if Instant::now() >= deadline => return received,
            Ok(received) => last = received.len(),
            Err(error) if Instant::now() >= deadline => panic!("cannot read the topics: {error}"),
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_published_message_conforms_to_the_asyncapi_document_and_carries_its_trace() {
    let cluster = Cluster::new();
    cluster.migrate();
    let node = cluster.command_api().await;
    let _relay = cluster.relay();

    let (status, product) = post(
        &cluster,
        &node,
        "/v1/products",
        json!({"name": "Tumbler", "price": 15_000, "stock": 5}),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{product}");
    let product = product["productId"].as_i64().unwrap();
    let (status, body) = post(
        &cluster,
        &node,
        &format!("/v1/products/{product}/restock"),
        json!({"quantity": 20}),
        &[],
    )
    .await;
    assert!(status.is_success(), "{status} {body}");
    let (status, body) = post(
        &cluster,
        &node,
        "/v1/users/42/points/charge",
        json!({"amount": 100_000}),
        &[("idempotency-key", "charge-42".to_owned())],
    )
    .await;
    assert!(status.is_success(), "{status} {body}");
    let (status, coupon) = post(
        &cluster,
        &node,
        "/v1/coupons",
        json!({"name": "Rush 10%", "discount": {"kind": "percent", "value": 10}, "totalQuantity": 30}),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{coupon}");
    let coupon = coupon["couponId"].as_i64().unwrap();
    let mut user_coupons = Vec::new();
    for user in [42, 43] {
        let (status, issued) = post(
            &cluster,
            &node,
            &format!("/v1/coupons/{coupon}/issue"),
            json!({"userId": user}),
            &[],
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{issued}");
        user_coupons.push(issued["userCouponId"].as_i64().unwrap());
    }

    // Completed with a coupon, and cancelled (user 43 has no points) after its stock and
    // coupon were taken, so the compensations run too.
    let completed_request = uuid::Uuid::new_v4();
    let (status, completed) = post(
        &cluster,
        &node,
        "/v1/orders",
        json!({"userId": 42, "items": [{"productId": product, "quantity": 2}], "userCouponId": user_coupons[0]}),
        &traced(TRACE_COMPLETED, &completed_request),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{completed}");
    let cancelled_request = uuid::Uuid::new_v4();
    let (status, cancelled) = post(
        &cluster,
        &node,
        "/v1/orders",
        json!({"userId": 43, "items": [{"productId": product, "quantity": 1}], "userCouponId": user_coupons[1]}),
        &traced(TRACE_CANCELLED, &cancelled_request),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{cancelled}");
    let completed_id = completed["orderId"].as_i64().unwrap();

    let received = messages(&cluster, |received| {
        ["OrderCompleted", "OrderCancelled", "StockReleased"]
            .iter()
            .all(|t| received.iter().any(|m| m.event_type() == *t))
    })
    .await;
    let document = asyncapi();
    let contract = Contract::from_document(&document);

    let mut problems = Vec::new();
    for message in &received {
        let violations = contract.violations(message);
        if !violations.is_empty() {
            problems.push(format!(
                "{} {}: {violations:?}",
                message.event_type(),
                message.value
            ));
        }
        // On the channel the document names, with the key it names.
        let category = message
            .header("stream-id")
            .split('-')
            .next()
            .unwrap()
            .to_owned();
        assert_eq!(
            message.topic,
            format!("{}{category}", cluster.names.topic_prefix)
        );
        assert!(
            document["channels"][&category]["messages"][message.event_type()].is_object(),
            "{} is not a message of channel {category}",
            message.event_type()
        );
        assert_eq!(message.key, message.header("ce_subject"));
        assert_eq!(message.header("ce_id"), message.header("event-id"));
        assert_eq!(message.header("ce_source"), "/shop");
        assert_eq!(
            message.header("ce_type"),
            format!(
                "shop.{category}.{}.v{}",
                message.event_type(),
                message.header("schema-version")
            )
        );
    }
    assert!(
        problems.is_empty(),
        "messages off the contract:\n{}",
        problems.join("\n")
    );

    let seen: BTreeSet<&str> = received.iter().map(Received::event_type).collect();
    for expected in [
        "ProductRegistered",
        "ProductRestocked",
        "PointsCharged",
        "CouponRegistered",
        "CouponIssued",
        "OrderPlaced",
        "StockReserved",
        "CouponUsed",
        "PointsDeducted",
        "OrderStockReserved",
        "OrderCouponApplied",
        "OrderPaid",
        "OrderCompleted",
        "OrderCancelled",
        "StockReleased",
    ] {
        assert!(seen.contains(expected), "no {expected} among {seen:?}");
    }

    // Every message an order's request caused (its own stream's and the participants'
    // steps and compensations) carries the request's trace.
    for (request, trace, order_stream) in [
        (
            completed_request,
            TRACE_COMPLETED,
            format!("order-{completed_id}"),
        ),
        (cancelled_request, TRACE_CANCELLED, String::new()),
    ] {
        let caused: Vec<&Received> = received
            .iter()
            .filter(|m| m.header("correlation-id") == request.to_string())
            .collect();
        assert!(
            caused.len() >= 4,
            "only {} messages of request {request}",
            caused.len()
        );
        for message in &caused {
            let traceparent = message
                .optional_header("traceparent")
                .unwrap_or_else(|| panic!("{} has no traceparent", message.event_type()));
            assert_eq!(
                traceparent.split('-').nth(1),
                Some(trace),
                "{} {traceparent}",
                message.event_type()
            );
        }
        if !order_stream.is_empty() {
            assert!(caused.iter().any(|m| m.key == order_stream));
            assert!(caused.iter().any(|m| m.event_type() == "OrderCompleted"));
        } else {
            assert!(caused.iter().any(|m| m.event_type() == "OrderCancelled"));
        }
    }
}
