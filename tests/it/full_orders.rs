//! Orders in the full stack: two `shop command-api` processes on one MySQL run sagas on
//! shared products, the relay and the projector carry them to the query API, and when one
//! command node is SIGKILLed mid-burst the other's recovery scan settles its orders.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use crate::cluster;

use cluster::{Cluster, Role};
use futures::StreamExt;
use futures::future::join_all;
use futures::stream::FuturesUnordered;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn register_product(cluster: &Cluster, node: &Role, price: i64, stock: i64) -> i64 {
    let (status, product) = cluster
        .admin_post(
            node,
            "/v1/products",
            json!({"name": "lamp", "price": price, "stock": stock}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{product}");
    product["productId"].as_i64().unwrap()
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eleven_buyers_on_two_nodes_race_for_ten_units() {
    let cluster = Cluster::new();
    cluster.migrate();
    let nodes = [cluster.command_api().await, cluster.command_api().await];
    let _relay = cluster.relay();
    let _projector = cluster.projector();
    let query = cluster.query_api().await;

    let product = register_product(&cluster, &nodes[0], 1_000, 10).await;
    for user in 1..=11 {
        charge(&cluster, &nodes[(user % 2) as usize], user, 10_000).await;
    }
    let answers = join_all((1..=11i64).map(|user| {
        let url = format!(
            "{}/v1/orders",
            nodes[(user % 2) as usize].url.as_deref().unwrap()
        );
        let client = cluster.client.clone();
        async move {
            let response = client
                .post(url)
                .json(&json!({"userId": user, "items": [{"productId": product, "quantity": 1}]}))
                .send()
                .await
                .unwrap();
            let status = response.status();
            (user, status, response.json::<Value>().await.unwrap())
        }
    }))
    .await;
    let completed: Vec<_> = answers
        .iter()
        .filter(|(_, s, _)| *s == StatusCode::CREATED)
        .collect();
    let cancelled: Vec<_> = answers
        .iter()
        .filter(|(_, s, _)| *s == StatusCode::CONFLICT)
        .collect();
    assert_eq!((completed.len(), cancelled.len()), (10, 1), "{answers:?}");
    let (loser, _, problem) = cancelled[0];
    assert_eq!(problem["code"], "insufficient-stock");

    let within = Duration::from_secs(30);
    cluster
        .eventually(&query, &format!("/v1/products/{product}"), within, |v| {
            v["stock"] == 0
        })
        .await;
    let order_id = problem["orderId"].as_i64().unwrap();
    let order = cluster
        .eventually(&query, &format!("/v1/orders/{order_id}"), within, |v| {
            v["status"] == "CANCELLED"
        })
        .await;
    assert_eq!(order["reason"], "insufficient-stock");
    for (user, _, body) in completed {
        let order_id = body["orderId"].as_i64().unwrap();
        cluster
            .eventually(&query, &format!("/v1/orders/{order_id}"), within, |v| {
                v["status"] == "COMPLETED"
            })
            .await;
        cluster
            .eventually(&query, &format!("/v1/users/{user}/points"), within, |v| {
                v["balance"] == 9_000
            })
            .await;
    }
    cluster
        .eventually(&query, &format!("/v1/users/{loser}/points"), within, |v| {
            v["balance"] == 10_000
        })
        .await;
    let ranking = cluster
        .eventually(
            &query,
            "/v1/rankings/top-products?days=1&limit=5",
            within,
            |v| v["items"][0]["soldQuantity"] == 10,
        )
        .await;
    assert_eq!(ranking["items"][0]["productId"], product);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_command_node_leaves_no_order_pending() {
    let mut cluster = Cluster::new();
    cluster
        .extra_env
        .push(("SHOP_SAGA_RECOVER_AFTER_MS".to_owned(), "1000".to_owned()));
    cluster.migrate();
    let mut nodes = [cluster.command_api().await, cluster.command_api().await];
    let _relay = cluster.relay();
    let _projector = cluster.projector();
    let query = cluster.query_api().await;

    const USERS: i64 = 60;
    const CHARGE: i64 = 20_000;
    const PRICE: i64 = 1_000;
    const STOCK: i64 = 300;
    let product = register_product(&cluster, &nodes[1], PRICE, STOCK).await;
    for user in 1..=USERS {
        charge(&cluster, &nodes[1], user, CHARGE).await;
    }

    // 600 single-unit orders on both nodes: more than the stock and more than some users
    // can pay, so some complete and some are cancelled; node 0 dies mid-burst.
    let mut requests = FuturesUnordered::new();
    for i in 0..600i64 {
        let url = format!(
            "{}/v1/orders",
            nodes[(i % 2) as usize].url.as_deref().unwrap()
        );
        let client = cluster.client.clone();
        requests.push(async move {
            let body =
                json!({"userId": 1 + i % USERS, "items": [{"productId": product, "quantity": 1}]});
            client
                .post(url)
                .json(&body)
                .send()
                .await
                .map(|r| r.status())
        });
    }
    let mut answered = 0;
    let mut killed = false;
    while let Some(outcome) = requests.next().await {
        if outcome.is_ok() {
            answered += 1;
        }
        if !killed && answered >= 150 {
            nodes[0].kill();
            killed = true;
        }
    }
    assert!(killed, "the burst ended before the kill");

    // Every order placed on either node settles, and money and stock agree.
    let pool = sqlx::MySqlPool::connect(&cluster.names.database_url)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let placed: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE event_type = 'OrderPlaced'")
                .fetch_one(&pool)
                .await
                .unwrap();
        let (projected, pending): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), CAST(COALESCE(SUM(status = 'PENDING'), 0) AS SIGNED) FROM orders",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if placed > 0 && projected == placed && pending == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "orders never settled: {placed} placed, {projected} projected, {pending} pending"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (paid, sold): (i64, i64) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(o.paid_amount), 0) AS SIGNED), \
                CAST(COALESCE(SUM(l.quantity), 0) AS SIGNED) \
         FROM orders o JOIN order_lines l ON l.order_id = o.order_id WHERE o.status = 'COMPLETED'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(paid, sold * PRICE);
    let stock = cluster
        .eventually(
            &query,
            &format!("/v1/products/{product}"),
            Duration::from_secs(30),
            |v| v["stock"] == STOCK - sold,
        )
        .await;
    assert!(stock["stock"].as_i64().unwrap() >= 0);
    // The search shows the same stock: its projection nets every reservation and release
    // through the crash once, and renumbers the row so the query API follows it.
    cluster
        .eventually(
            &query,
            "/v1/products/search?q=lamp",
            Duration::from_secs(30),
            |v| v["items"][0]["productId"] == product && v["items"][0]["stock"] == STOCK - sold,
        )
        .await;
    let paid_by_user: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT user_id, CAST(SUM(paid_amount) AS SIGNED) FROM orders \
         WHERE status = 'COMPLETED' GROUP BY user_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let paid_by_user: std::collections::HashMap<i64, i64> = paid_by_user.into_iter().collect();
    for user in 1..=USERS {
        let expected = CHARGE - paid_by_user.get(&user).copied().unwrap_or(0);
        cluster
            .eventually(
                &query,
                &format!("/v1/users/{user}/points"),
                Duration::from_secs(30),
                |v| v["balance"] == expected,
            )
            .await;
    }
}
