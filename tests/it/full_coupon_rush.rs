//! Two `shop command-api` processes on one MySQL race for one coupon of 30 with 600 users:
//! exactly 30 are issued, one per user, sequences 1..=30, and the query API (over Kafka,
//! the projector and MySQL/Redis) shows 30. A consistency token carries read-your-writes
//! across the Kafka hop.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use crate::cluster;

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

/// Issues `users` on `node`, a few at a time, as fast as answers come; every answer is
/// collected (status, or `None` when the connection failed: the node died).
async fn rush(
    client: reqwest::Client,
    node: String,
    coupon: i64,
    users: Vec<i64>,
) -> Vec<(i64, Option<StatusCode>, serde_json::Value)> {
    use futures::StreamExt;
    futures::stream::iter(users)
        .map(|user| {
            let client = client.clone();
            let url = format!("{node}/v1/coupons/{coupon}/issue");
            async move {
                match client.post(url).json(&json!({"userId": user})).send().await {
                    Ok(response) => {
                        let status = response.status();
                        let body = response.json().await.unwrap_or(serde_json::Value::Null);
                        (user, Some(status), body)
                    }
                    Err(_) => (user, None, serde_json::Value::Null),
                }
            }
        })
        .buffer_unordered(32)
        .collect()
        .await
}

/// Two nodes rush one coupon, so they take turns on its stream; one is SIGKILLed in the
/// middle of the rush. The survivor goes on issuing (its turns no longer wait for the
/// dead node's lock, which the server dropped with its connection), never answers 503,
/// and the coupon stays exact: no user twice, never more than its quantity.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_killed_mid_rush_hands_the_hot_coupon_over() {
    const TOTAL: i64 = 3_000;
    let cluster = Cluster::new();
    cluster.migrate();
    let mut doomed = cluster.command_api().await;
    let survivor = cluster.command_api().await;
    let (status, coupon) = cluster
        .admin_post(
            &survivor,
            "/v1/coupons",
            json!({"name": "hot", "discount": {"kind": "fixed", "value": 1000}, "totalQuantity": TOTAL}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{coupon}");
    let coupon = coupon["couponId"].as_i64().unwrap();

    let doomed_url = doomed.url.clone().unwrap();
    let survivor_url = survivor.url.clone().unwrap();
    let doomed_rush = tokio::spawn(rush(
        cluster.client.clone(),
        doomed_url,
        coupon,
        (1..=2_000).collect(),
    ));
    let survivor_rush = rush(
        cluster.client.clone(),
        survivor_url.clone(),
        coupon,
        (100_001..=104_000).collect(),
    );
    let killer = async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        doomed.kill();
    };
    let (answers, ()) = tokio::join!(survivor_rush, killer);
    let doomed_answers = doomed_rush.await.unwrap();

    let mut issued = HashSet::new();
    for (user, status, body) in &answers {
        match *status {
            Some(StatusCode::CREATED) => assert!(issued.insert(*user), "{user} twice"),
            Some(StatusCode::CONFLICT) => {
                assert_eq!(body["code"], "coupon-sold-out", "{body}")
            }
            other => panic!("the survivor answered user {user} with {other:?} {body}"),
        }
    }
    let acknowledged_by_doomed = doomed_answers
        .iter()
        .filter(|(_, status, _)| *status == Some(StatusCode::CREATED))
        .count();
    assert!(
        doomed_answers.iter().any(|(_, status, _)| status.is_none()),
        "the kill landed mid-rush"
    );
    // The survivor's winners hold the coupon once; anyone else who asks again is told so.
    for user in issued.iter().take(50) {
        let (status, body) = cluster
            .admin_post(
                &survivor,
                &format!("/v1/coupons/{coupon}/issue"),
                json!({"userId": user}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["code"], "coupon-already-issued", "{body}");
    }
    // What the store holds: a fresh issue answers with the coupon's count, which covers
    // every acknowledged issue and never passes the quantity.
    let (status, body) = cluster
        .admin_post(
            &survivor,
            &format!("/v1/coupons/{coupon}/issue"),
            json!({"userId": 999_999}),
        )
        .await;
    let issued_quantity = if status == StatusCode::CREATED {
        body["sequence"].as_i64().unwrap()
    } else {
        assert_eq!(body["code"], "coupon-sold-out", "{body}");
        TOTAL
    };
    assert!(issued_quantity <= TOTAL);
    assert!(
        issued_quantity as usize >= issued.len() + acknowledged_by_doomed,
        "{issued_quantity} issued, {} + {acknowledged_by_doomed} acknowledged",
        issued.len()
    );
}
