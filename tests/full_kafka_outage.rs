//! Kafka stops for ~10 s during traffic: commands keep succeeding (the event store is the
//! source of truth; the relay waits), and once Kafka is back the read models catch up.
//!
//! This stops the shared broker, so it lives alone in its test binary (cargo runs test
//! binaries one after another) and restarts the broker even if an assertion fails.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

mod cluster;

use cluster::Cluster;
use reqwest::StatusCode;
use serde_json::json;
use std::process::Command;
use std::time::{Duration, Instant};

fn services(action: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/services.sh");
    let status = Command::new(script)
        .args([action, "kafka"])
        .status()
        .unwrap();
    assert!(status.success(), "services.sh {action} kafka failed");
}

/// Brings Kafka back when the test ends, however it ends.
struct KafkaBack;

impl Drop for KafkaBack {
    fn drop(&mut self) {
        services("up");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_survive_a_kafka_outage_and_read_models_catch_up() {
    let cluster = Cluster::new();
    cluster.migrate();
    let command = cluster.command_api().await;
    let _relay = cluster.relay();
    let _projector = cluster.projector();
    let query = cluster.query_api().await;
    let charge = |user: i64, amount: i64| {
        let client = cluster.client.clone();
        let url = format!(
            "{}/v1/users/{user}/points/charge",
            command.url.as_deref().unwrap()
        );
        async move {
            let response = client
                .post(url)
                .json(&json!({"amount": amount}))
                .send()
                .await
                .unwrap();
            response.status()
        }
    };

    assert_eq!(charge(1, 100).await, StatusCode::OK);
    cluster
        .eventually(&query, "/v1/users/1/points", Duration::from_secs(30), |v| {
            v["balance"] == 100
        })
        .await;

    let _back = KafkaBack;
    services("down");
    let outage = Instant::now();
    let mut sent = 0;
    while outage.elapsed() < Duration::from_secs(10) {
        for user in 1..=20 {
            assert_eq!(
                charge(user, 10).await,
                StatusCode::OK,
                "a charge failed during the outage"
            );
            sent += 1;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let rounds = sent / 20;
    let (_, during) = cluster.get(&query, "/v1/users/2/points").await;
    assert!(
        during["balance"].as_i64().unwrap_or(0) < rounds * 10,
        "the read model moved without Kafka: {during}"
    );
    services("up");

    cluster
        .eventually(&query, "/v1/users/1/points", Duration::from_secs(90), |v| {
            v["balance"] == 100 + rounds * 10
        })
        .await;
    for user in 2..=20 {
        cluster
            .eventually(
                &query,
                &format!("/v1/users/{user}/points"),
                Duration::from_secs(30),
                |v| v["balance"] == rounds * 10,
            )
            .await;
    }
}
