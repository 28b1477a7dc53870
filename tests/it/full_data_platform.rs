//! The Python consumer in `examples/data-platform/` (written from the published contract
//! alone) against the real stack: it reads the topics while orders flow and the relay is
//! SIGKILLed and restarted twice, validates every message, dedupes by (stream-id,
//! stream-version), and its daily sales table ends up with the query API's top 5 and
//! every order exactly once.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use crate::cluster;

use cluster::{Cluster, kafka_brokers};
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PRODUCTS: i64 = 8;
const BUYERS: i64 = 24;

fn run_script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data-platform/run.sh")
}

/// How many streams the consumer's database has applied events of (0 before it made its
/// tables). Read with Python's sqlite3, which the consumer needs anyway.
fn applied_streams(db: &Path) -> i64 {
    let counted = Command::new("python3")
        .arg("-c")
        .arg("import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT COUNT(*) FROM streams').fetchone()[0])")
        .arg(db)
        .stderr(Stdio::null())
        .output();
    counted
        .ok()
        .filter(|output| output.status.success())
        .and_then(|output| String::from_utf8_lossy(&output.stdout).trim().parse().ok())
        .unwrap_or(0)
}

/// One wave of orders, all at once; returns (order id, status, lines) per answer.
async fn wave(
    cluster: &Cluster,
    node: &cluster::Role,
    products: &[i64],
    wave: i64,
) -> Vec<(i64, StatusCode, Vec<(i64, i64)>)> {
    let url = format!("{}/v1/orders", node.url.as_deref().unwrap());
    join_all((1..=BUYERS + 2).map(|buyer| {
        let client = cluster.client.clone();
        let url = url.clone();
        // Skewed so the ranking has a clear order; buyers past BUYERS have no points
        // and are cancelled.
        let lines: Vec<(i64, i64)> = vec![
            (products[((buyer + wave) % 3) as usize], 1 + (buyer % 3)),
            (products[((buyer * 7 + wave) % PRODUCTS) as usize], 1),
        ];
        let lines: Vec<(i64, i64)> = if lines[0].0 == lines[1].0 {
            vec![lines[0]]
        } else {
            lines
        };
        async move {
            let items: Vec<Value> = lines
                .iter()
                .map(|(p, q)| json!({"productId": p, "quantity": q}))
                .collect();
            let response = client
                .post(url)
                .json(&json!({"userId": buyer, "items": items}))
                .send()
                .await
                .unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            (body["orderId"].as_i64().unwrap(), status, lines)
        }
    }))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_python_consumer_agrees_with_the_query_api_after_relay_kills() {
    let mut cluster = Cluster::new();
    // One calendar day for both sides, whatever the hour.
    cluster
        .extra_env
        .push(("SHOP_TIMEZONE".to_owned(), "UTC".to_owned()));
    cluster.migrate();
    let node = cluster.command_api().await;
    let mut relay = cluster.relay();
    let _projector = cluster.projector();
    let query = cluster.query_api().await;

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sales.db");
    let contract = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/asyncapi.json");
    let start_consumer = || {
        Command::new(run_script())
            .arg("consume")
            .arg("--brokers")
            .arg(kafka_brokers())
            .arg("--contract")
            .arg(&contract)
            .arg("--db")
            .arg(&db)
            .arg("--prefix")
            .arg(&cluster.names.topic_prefix)
            .arg("--group")
            .arg(format!("data-platform-{}", uuid::Uuid::new_v4().simple()))
            .arg("--timezone")
            .arg("UTC")
            .arg("--idle-exit")
            .arg("15")
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the consumer starts (python3 and PyPI reachable)")
    };
    let mut consumer = start_consumer();

    let mut products = Vec::new();
    for i in 0..PRODUCTS {
        let (status, product) = cluster
            .admin_post(
                &node,
                "/v1/products",
                json!({"name": format!("p{i}"), "price": 1_000 + 100 * i, "stock": 10_000}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{product}");
        products.push(product["productId"].as_i64().unwrap());
    }
    for buyer in 1..=BUYERS {
        let response = cluster
            .client
            .post(format!(
                "{}/v1/users/{buyer}/points/charge",
                node.url.as_deref().unwrap()
            ))
            .json(&json!({"amount": 1_000_000}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    let mut answers = Vec::new();
    for round in 0..6 {
        if round == 1 || round == 3 {
            // SIGKILL in the middle of a wave: whatever Kafka took past the checkpoint
            // goes out again, and what was committed meanwhile waits for the next relay.
            let restart = async {
                tokio::time::sleep(Duration::from_millis(40 * round as u64)).await;
                relay.kill();
                tokio::time::sleep(Duration::from_millis(300)).await;
                cluster.relay()
            };
            let (answered, restarted) =
                tokio::join!(wave(&cluster, &node, &products, round), restart);
            answers.extend(answered);
            relay = restarted;
        } else {
            answers.extend(wave(&cluster, &node, &products, round).await);
        }
        if round == 2 {
            // The consumer dies too and comes back under a new group: it reads every
            // topic from the beginning again, and its dedupe must drop what it applied.
            // It must have applied something first (its first start builds a venv, which
            // on a loaded machine can outlast three waves).
            let deadline = Instant::now() + Duration::from_secs(120);
            while applied_streams(&db) == 0 {
                assert!(Instant::now() < deadline, "the consumer applied nothing");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            consumer.kill().unwrap();
            consumer.wait().unwrap();
            consumer = start_consumer();
        }
    }

    let completed: BTreeSet<i64> = answers
        .iter()
        .filter(|(_, s, _)| *s == StatusCode::CREATED)
        .map(|(id, _, _)| *id)
        .collect();
    let cancelled: BTreeSet<i64> = answers
        .iter()
        .filter(|(_, s, _)| *s == StatusCode::CONFLICT)
        .map(|(id, _, _)| *id)
        .collect();
    assert_eq!(
        completed.len() + cancelled.len(),
        answers.len(),
        "an order was left pending"
    );
    assert!(!cancelled.is_empty() && completed.len() > 100);
    let sold: i64 = answers
        .iter()
        .filter(|(_, s, _)| *s == StatusCode::CREATED)
        .flat_map(|(_, _, lines)| lines.iter().map(|(_, q)| q))
        .sum();

    // The query API has every completed order...
    cluster
        .eventually(
            &query,
            "/v1/rankings/top-products?days=1&limit=100",
            Duration::from_secs(60),
            |v| {
                v["items"].as_array().is_some_and(|items| {
                    items
                        .iter()
                        .map(|i| i["soldQuantity"].as_i64().unwrap_or(0))
                        .sum::<i64>()
                        == sold
                })
            },
        )
        .await;
    let (status, ranking) = cluster
        .get(&query, "/v1/rankings/top-products?days=1&limit=5")
        .await;
    assert_eq!(status, StatusCode::OK);

    // ... and so has the consumer, once it has been idle for a while.
    let deadline = Instant::now() + Duration::from_secs(180);
    let exit = loop {
        if let Some(status) = consumer.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the consumer never went idle");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(exit.success(), "the consumer failed: {exit}");
    let report = Command::new(run_script())
        .arg("report")
        .arg("--db")
        .arg(&db)
        .arg("--day")
        .arg(ranking["to"].as_str().unwrap())
        .output()
        .unwrap();
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let report: Value = serde_json::from_slice(&report.stdout).unwrap();
    println!("consumer counters: {}", report["counters"]);

    assert_eq!(report["rejected"], 0, "messages off the contract");
    assert!(
        report["counters"]["duplicates"].as_i64().unwrap_or(0) > 0,
        "the second consumer saw no copies: {}",
        report["counters"]
    );
    let top = |items: &Value| -> Vec<(i64, i64)> {
        items
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["productId"].as_i64().unwrap(),
                    i["soldQuantity"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(top(&report["top"]), top(&ranking["items"]));
    assert_eq!(top(&report["top"]).len(), 5);
    let ids = |list: &Value| -> Vec<i64> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect()
    };
    // Each order once: the consumer's orders table has a primary key, so a second
    // application would have failed it, and the lists are exactly the answered orders.
    assert_eq!(
        ids(&report["completed"]),
        completed.into_iter().collect::<Vec<_>>()
    );
    assert_eq!(
        ids(&report["cancelled"]),
        cancelled.into_iter().collect::<Vec<_>>()
    );
}
