//! A trace survives a crash: the command API aborts right after recording `OrderPlaced`
//! (the `saga-after-placed` failpoint), and the saga steps and compensations the next
//! node's recovery scan runs later still carry, on Kafka, the `traceparent` of the
//! request that placed the order. Needs the test-only `failpoints` feature.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use crate::cluster;
use crate::contract_support;

use cluster::{Cluster, Role, kafka_brokers};
use contract_support::{Received, consume_all};
use reqwest::StatusCode;
use serde_json::json;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const CRASH: (&str, &str) = ("FAILPOINTS", "saga-after-placed=return");
const TRACE_COMPLETED: &str = "1a2b3c4d5e6f708192a3b4c5d6e7f801";
const TRACE_CANCELLED: &str = "ffeeddccbbaa99887766554433221100";

/// Sends an order that crashes the node after `OrderPlaced`; waits for the process to end.
async fn order_and_crash(cluster: &Cluster, node: &mut Role, user: i64, product: i64, trace: &str) {
    let sent = cluster
        .client
        .post(format!("{}/v1/orders", node.url.as_deref().unwrap()))
        .header("traceparent", format!("00-{trace}-53995c3f42cd8ad8-01"))
        .json(&json!({"userId": user, "items": [{"productId": product, "quantity": 1}]}))
        .send()
        .await;
    assert!(sent.is_err(), "the node should have crashed: {sent:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while node.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the node did not crash");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn charge(cluster: &Cluster, node: &Role, user: i64, amount: i64) {
    let response = cluster
        .client
        .post(format!(
            "{}/v1/users/{user}/points/charge",
            node.url.as_deref().unwrap()
        ))
        .json(&json!({"amount": amount}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

/// Every message, once each of `settled` has been published.
async fn messages_until(cluster: &Cluster, settled: &[&str]) -> Vec<Received> {
    // No coupon here: that topic is never created.
    let topics: Vec<String> = ["wallet", "product", "order"]
        .iter()
        .map(|c| format!("{}{c}", cluster.names.topic_prefix))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let received = consume_all(&kafka_brokers(), &topics, Duration::from_secs(30)).await;
        if let Ok(received) = &received
            && settled
                .iter()
                .all(|t| received.iter().any(|m| m.event_type() == *t))
        {
            return received.clone();
        }
        let seen: Vec<String> = received
            .iter()
            .flatten()
            .map(|m| format!("{} {}", m.event_type(), m.value))
            .collect();
        assert!(
            Instant::now() < deadline,
            "the orders never settled on Kafka: {seen:#?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn steps_and_compensations_the_recovery_scan_runs_carry_the_orders_trace() {
    let mut cluster = Cluster::new();
    cluster
        .extra_env
        .push(("SHOP_SAGA_RECOVER_AFTER_MS".to_owned(), "300".to_owned()));
    cluster.migrate();
    let _relay = cluster.relay();
    let mut first = cluster.command_api_with(&[CRASH]).await;
    let (status, product) = cluster
        .admin_post(
            &first,
            "/v1/products",
            json!({"name": "lamp", "price": 1_000, "stock": 10}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{product}");
    let product = product["productId"].as_i64().unwrap();
    charge(&cluster, &first, 1, 10_000).await;
    charge(&cluster, &first, 2, 500).await;

    // User 1 can pay: the next node's scan completes the order.
    order_and_crash(&cluster, &mut first, 1, product, TRACE_COMPLETED).await;
    // That node crashes the same way on user 2's order, which cannot be paid: the last
    // node's scan reserves, is refused the points, cancels and compensates.
    let mut second = cluster.command_api_with(&[CRASH]).await;
    order_and_crash(&cluster, &mut second, 2, product, TRACE_CANCELLED).await;
    let _third = cluster.command_api().await;

    let received = messages_until(
        &cluster,
        &["OrderCompleted", "OrderCancelled", "StockReleased"],
    )
    .await;
    for (user, trace, expected) in [
        (
            1,
            TRACE_COMPLETED,
            &[
                "OrderPlaced",
                "StockReserved",
                "PointsDeducted",
                "OrderPaid",
                "OrderCompleted",
            ][..],
        ),
        (
            2,
            TRACE_CANCELLED,
            &[
                "OrderPlaced",
                "StockReserved",
                "OrderCancelled",
                "StockReleased",
                "PointsRefunded",
            ][..],
        ),
    ] {
        let placed = received
            .iter()
            .find(|m| m.event_type() == "OrderPlaced" && m.value["userId"] == user)
            .unwrap();
        let order = placed.value["orderId"].clone();
        let of_order: Vec<&Received> = received
            .iter()
            .filter(|m| m.value["orderId"] == order)
            .collect();
        let types: BTreeSet<&str> = of_order.iter().map(|m| m.event_type()).collect();
        for event_type in expected {
            assert!(
                types.contains(event_type),
                "order {order}: no {event_type} in {types:?}"
            );
        }
        for message in of_order {
            let traceparent = message.optional_header("traceparent").unwrap_or_else(|| {
                panic!(
                    "{} of order {order} has no traceparent",
                    message.event_type()
                )
            });
            assert_eq!(
                traceparent.split('-').nth(1),
                Some(trace),
                "{} of order {order}: {traceparent}",
                message.event_type()
            );
        }
    }
}
