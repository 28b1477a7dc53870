//! Two `shop command-api` processes on one MySQL race for one coupon of 30 with 600 users:
//! exactly 30 are issued, one per user, sequences 1..=30, and the query API (over Kafka,
//! the projector and MySQL/Redis) shows 30. A consistency token carries read-your-writes
//! across the Kafka hop.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

mod cluster;

use cluster::Cluster;
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;
use std::collections::HashSet;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_command_nodes_issue_exactly_the_quantity() {
    let cluster = Cluster::new();
    cluster.migrate();
    let nodes = [cluster.command_api().await, cluster.command_api().await];
    let _relay = cluster.relay();
    let _projector = cluster.projector();
    let query = cluster.query_api().await;

    let (status, coupon) = cluster
        .admin_post(
            &nodes[0],
            "/v1/coupons",
            json!({"name": "rush", "discount": {"kind": "fixed", "value": 1000}, "totalQuantity": 30}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{coupon}");
    let coupon = coupon["couponId"].as_i64().unwrap();

    let answers = join_all((1..=600i64).map(|user| {
        let url = format!(
            "{}/v1/coupons/{coupon}/issue",
            nodes[(user % 2) as usize].url.as_deref().unwrap()
        );
        let client = cluster.client.clone();
        async move {
            let response = client
                .post(url)
                .json(&json!({"userId": user}))
                .send()
                .await
                .unwrap();
            let status = response.status();
            let body: serde_json::Value = response.json().await.unwrap();
            (user, status, body)
        }
    }))
    .await;

    let mut winners = HashSet::new();
    let mut sequences = Vec::new();
    for (user, status, body) in &answers {
        match *status {
            StatusCode::CREATED => {
                assert_eq!(body["userId"], *user);
                winners.insert(*user);
                sequences.push(body["sequence"].as_i64().unwrap());
            }
            StatusCode::CONFLICT => assert_eq!(body["code"], "coupon-sold-out", "{body}"),
            other => panic!("user {user}: unexpected {other} {body}"),
        }
    }
    sequences.sort_unstable();
    assert_eq!(winners.len(), 30);
    assert_eq!(sequences, (1..=30).collect::<Vec<_>>());

    let view = cluster
        .eventually(
            &query,
            &format!("/v1/coupons/{coupon}"),
            Duration::from_secs(30),
            |v| v["issuedQuantity"] == 30,
        )
        .await;
    assert_eq!(view["remaining"], 0);
    // Read your writes across the Kafka hop: with the command's token, the first read
    // already shows the write (no polling).
    for (node, user) in [(0usize, 9_001i64), (1, 9_002)] {
        let response = cluster
            .client
            .post(format!(
                "{}/v1/users/{user}/points/charge",
                nodes[node].url.as_deref().unwrap()
            ))
            .json(&json!({"amount": 777}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let token = response.headers()["consistency-token"]
            .to_str()
            .unwrap()
            .to_owned();
        let balance: serde_json::Value = cluster
            .client
            .get(format!(
                "{}/v1/users/{user}/points",
                query.url.as_deref().unwrap()
            ))
            .header("Consistency-Token", token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            balance["balance"], 777,
            "read-your-writes through Kafka: {balance}"
        );
    }
    for user in winners.iter().take(5) {
        let held = cluster
            .eventually(
                &query,
                &format!("/v1/users/{user}/coupons"),
                Duration::from_secs(10),
                |v| v["items"].as_array().is_some_and(|items| items.len() == 1),
            )
            .await;
        assert_eq!(held["items"][0]["couponId"], coupon);
    }
}
