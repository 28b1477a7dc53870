//! The shared servers themselves go away under load: Kafka stopped for ~10 s, MariaDB
//! killed (SIGKILL) and restarted, Redis restarted. These stop servers every test uses, so
//! they live in one test binary (cargo runs test binaries one after another), run one at a
//! time (`ONE_OUTAGE_AT_A_TIME`), and bring the server back even if an assertion fails.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

// The cluster helpers live with the main test binary (`tests/it/`).
#[path = "it/cluster/mod.rs"]
mod cluster;

use cluster::Cluster;
use cluster::keyed::{Fault, Workload};
use reqwest::StatusCode;
use serde_json::json;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// One outage at a time: the tests of this binary would otherwise run side by side.
static ONE_OUTAGE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn services(action: &str, service: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/services.sh");
    let status = Command::new(script)
        .args([action, service])
        .status()
        .unwrap();
    assert!(status.success(), "services.sh {action} {service} failed");
}

/// Brings a server back when the test ends, however it ends.
struct Back(&'static str);

impl Drop for Back {
    fn drop(&mut self) {
        services("up", self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_survive_a_kafka_outage_and_read_models_catch_up() {
    let _one = ONE_OUTAGE_AT_A_TIME.lock().await;
    let cluster = Cluster::new();
    cluster.migrate();
    let stack = cluster.full_stack().await;
    let (command, query) = (&stack.command, &stack.query);
    // Every charge carries an Idempotency-Key, as a client that may retry sends it.
    let charge = |user: i64, amount: i64, key: String| {
        let client = cluster.client.clone();
        let url = format!(
            "{}/v1/users/{user}/points/charge",
            command.url.as_deref().unwrap()
        );
        async move {
            let response = client
                .post(url)
                .header("Idempotency-Key", key)
                .json(&json!({"amount": amount}))
                .send()
                .await
                .unwrap();
            response.status()
        }
    };

    assert_eq!(
        charge(1, 100, "kafka-outage-first".to_owned()).await,
        StatusCode::OK
    );
    cluster
        .eventually(query, "/v1/users/1/points", Duration::from_secs(30), |v| {
            v["balance"] == 100
        })
        .await;

    let _back = Back("kafka");
    services("down", "kafka");
    let outage = Instant::now();
    let mut sent = 0;
    let mut keys = Vec::new();
    while outage.elapsed() < Duration::from_secs(10) {
        for user in 1..=20 {
            let key = format!("kafka-outage-{user}-{sent}");
            assert_eq!(
                charge(user, 10, key.clone()).await,
                StatusCode::OK,
                "a charge failed during the outage"
            );
            keys.push((user, key));
            sent += 1;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let rounds = sent / 20;
    let (_, during) = cluster.get(query, "/v1/users/2/points").await;
    assert!(
        during["balance"].as_i64().unwrap_or(0) < rounds * 10,
        "the read model moved without Kafka: {during}"
    );
    services("up", "kafka");

    cluster
        .eventually(query, "/v1/users/1/points", Duration::from_secs(90), |v| {
            v["balance"] == 100 + rounds * 10
        })
        .await;
    for user in 2..=20 {
        cluster
            .eventually(
                query,
                &format!("/v1/users/{user}/points"),
                Duration::from_secs(30),
                |v| v["balance"] == rounds * 10,
            )
            .await;
    }

    // Every charge sent again with its key, as a client unsure of its answer would: each
    // is answered as before and none takes effect twice (the store gains no event).
    let stored = || async {
        let mut db =
            <sqlx::MySqlConnection as sqlx::Connection>::connect(&cluster.names.database_url)
                .await
                .unwrap();
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM events")
            .fetch_one(&mut db)
            .await
            .unwrap()
    };
    let before = stored().await;
    for (user, key) in keys {
        assert_eq!(
            charge(user, 10, key).await,
            StatusCode::OK,
            "a replay failed"
        );
    }
    assert_eq!(
        charge(1, 100, "kafka-outage-first".to_owned()).await,
        StatusCode::OK
    );
    assert_eq!(stored().await, before, "a replay appended an event");
    let marker = charge(1, 1, "kafka-outage-marker".to_owned()).await;
    assert_eq!(marker, StatusCode::OK);
    cluster
        .eventually(query, "/v1/users/1/points", Duration::from_secs(30), |v| {
            v["balance"] == 100 + rounds * 10 + 1
        })
        .await;
    for user in 2..=20 {
        let (_, balance) = cluster
            .get(query, &format!("/v1/users/{user}/points"))
            .await;
        assert_eq!(balance["balance"], rounds * 10, "user {user}: {balance}");
    }
}

/// MariaDB killed with SIGKILL mid-rush (16 clients charging and ordering with keys) and
/// restarted 2 s later: every answer meanwhile is a retryable 503 (never a 500), every
/// request retried with its key settles, and the store holds each charge and each order
/// exactly once: balances to the won, stock to the unit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_killed_mid_rush_loses_nothing_acknowledged_and_doubles_nothing() {
    let _one = ONE_OUTAGE_AT_A_TIME.lock().await;
    const CLIENTS: i64 = 16;
    const ROUNDS: i64 = 30;
    let mut cluster = Cluster::new();
    cluster.migrate();
    cluster
        .extra_env
        .push(("SHOP_SAGA_RECOVER_AFTER_MS".into(), "1000".into()));
    let node = cluster.command_api().await;
    let base = node.url.clone().unwrap();
    let (status, product) = cluster
        .admin_post(
            &node,
            "/v1/products",
            json!({"name": "latte", "price": 10, "stock": 100_000}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{product}");
    let product_id = product["productId"].as_i64().unwrap();
    let work = Workload {
        clients: CLIENTS,
        rounds: ROUNDS,
        charge: 100,
        product_id,
        price: 10,
        stock: 100_000,
    };

    let down = Arc::new(Fault::default());
    let settled = Arc::new(AtomicUsize::new(0));
    let killer = {
        let (down, settled) = (down.clone(), settled.clone());
        async move {
            // Mid-rush: once a quarter of the requests are through.
            let quarter = (CLIENTS * ROUNDS * 2 / 4) as usize;
            while settled.load(Ordering::SeqCst) < quarter {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let back = Back("mariadb");
            down.start();
            let killed = Command::new("pkill")
                .args(["-KILL", "-x", "mariadbd"])
                .status()
                .unwrap();
            assert!(killed.success(), "no mariadbd to kill");
            tokio::time::sleep(Duration::from_secs(2)).await;
            drop(back); // restarts it (InnoDB recovers what was committed)
            down.end();
        }
    };
    let (runs, ()) = tokio::join!(work.run(&cluster, &base, &down, &settled), killer);
    // The group commit's retries may bridge the whole outage; what matters is that
    // requests were in flight while the server was dead, and none was answered wrong.
    work.assert_survived(&runs, &cluster.names.database_url)
        .await;
}

/// Redis restarted while charges flow: commands never notice, the projector's hot views
/// catch up once it is back, and the query API answers exact balances throughout (from
/// SQL while Redis is away).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_under_load_keeps_every_answer_exact() {
    let _one = ONE_OUTAGE_AT_A_TIME.lock().await;
    let cluster = Cluster::new();
    cluster.migrate();
    let stack = cluster.full_stack().await;
    let (command, query) = (&stack.command, &stack.query);
    let charge_url = |user: i64| {
        format!(
            "{}/v1/users/{user}/points/charge",
            command.url.as_deref().unwrap()
        )
    };
    let mut expected = [0i64; 11];
    let mut sent = 0;
    let started = Instant::now();
    let mut restarted = false;
    while started.elapsed() < Duration::from_secs(8) {
        if !restarted && started.elapsed() > Duration::from_secs(2) {
            let _back = Back("redis");
            services("down", "redis");
            restarted = true;
        }
        for user in 1..=10 {
            let response = cluster
                .client
                .post(charge_url(user))
                .header("Idempotency-Key", format!("redis-{user}-{sent}"))
                .json(&json!({"amount": 7}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK, "a charge failed");
            let token = response.headers()["consistency-token"]
                .to_str()
                .unwrap()
                .to_owned();
            expected[user as usize] += 7;
            // Read-your-write through whatever layer serves it: never stale, never 5xx.
            let (status, body) = cluster
                .get_with_token(query, &format!("/v1/users/{user}/points"), &token)
                .await;
            match status {
                StatusCode::OK => assert!(
                    body["balance"].as_i64().unwrap() >= expected[user as usize],
                    "a stale read after a token: {body}"
                ),
                StatusCode::SERVICE_UNAVAILABLE => assert!(
                    matches!(body["code"].as_str(), Some("overloaded" | "unavailable")),
                    "{body}"
                ),
                other => panic!("unexpected {other}: {body}"),
            }
        }
        sent += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(restarted);
    for user in 1..=10 {
        let want = expected[user as usize];
        cluster
            .eventually(
                query,
                &format!("/v1/users/{user}/points"),
                Duration::from_secs(60),
                |v| v["balance"] == want,
            )
            .await;
    }
}
