//! SIGKILL the relay and the projector in the middle of 500 charges, start them again; or
//! cut the projector's database for 3 s in the middle of them: every balance the query
//! API shows is exact (nothing lost, nothing applied twice).
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use crate::cluster;

use cluster::proxy::Proxy;
use cluster::{Cluster, Role};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

const USERS: i64 = 100;
const CHARGES: i64 = 500;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_relay_and_projector_resume_without_loss_or_double_counting() {
    let cluster = Cluster::new();
    cluster.migrate();
    let command = cluster.command_api().await;
    let mut relay = cluster.relay();
    let mut projector = cluster.projector();
    let query = cluster.query_api().await;

    let mut killed = false;
    let mut restarted = false;
    let expected = charge_spread(&cluster, &command, |done| {
        if done == 150 && !killed {
            relay.kill();
            projector.kill();
            killed = true;
        }
        if done == 300 && !restarted {
            relay = cluster.relay();
            projector = cluster.projector();
            restarted = true;
        }
    })
    .await;
    assert!(killed && restarted);

    balances_end_exact(&cluster, &query, &expected).await;
    drop((relay, projector));
}

/// The projector's database cut for 3 s while it consumes (a TCP proxy resets every
/// connection and refuses new ones): it fails its batch, restarts its consumer from the
/// committed offsets once the database is back, and every balance ends exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_projector_whose_database_is_cut_mid_stream_ends_exact() {
    let cluster = Cluster::new();
    cluster.migrate();
    let command = cluster.command_api().await;
    let _relay = cluster.relay();
    let (proxy, proxied) = Proxy::for_database(&cluster.names.database_url).await;
    let _projector = cluster.background_role_with("projector", &[("SHOP_DATABASE_URL", &proxied)]);
    let query = cluster.query_api().await;

    let expected = charge_spread(&cluster, &command, |done| {
        if done == 150 {
            proxy.cut();
        }
    })
    .await;
    // The charges after the cut went on through the command API's own connection; the
    // projector's stays cut for 3 s in all.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    proxy.restore();

    balances_end_exact(&cluster, &query, &expected).await;
}

/// Sends CHARGES charges, spread over a couple of seconds so what `each_answer` does lands
/// mid-stream; it is called with the number answered so far, each answer a 200. Charge i
/// goes to user (i % USERS) + 1 and is worth i won, so every balance is a distinct sum
/// that a lost or doubled event would change. Returns the balance each user must end at.
async fn charge_spread(
    cluster: &Cluster,
    command: &Role,
    mut each_answer: impl FnMut(i64),
) -> Vec<i64> {
    let mut expected = vec![0i64; USERS as usize + 1];
    let mut charges = FuturesUnordered::new();
    for i in 1..=CHARGES {
        let user = i % USERS + 1;
        expected[user as usize] += i;
        let client = cluster.client.clone();
        let url = format!(
            "{}/v1/users/{user}/points/charge",
            command.url.as_deref().unwrap()
        );
        charges.push(async move {
            tokio::time::sleep(Duration::from_millis((i * 5) as u64)).await;
            let response = client
                .post(url)
                .json(&json!({"amount": i}))
                .send()
                .await
                .unwrap();
            response.status()
        });
    }
    let mut done = 0;
    while let Some(status) = charges.next().await {
        assert_eq!(status, StatusCode::OK);
        done += 1;
        each_answer(done);
    }
    expected
}

/// Every user's balance on the query API reaches `expected`, and is still that 2 s later:
/// converged is not enough, a doubled event could arrive late.
async fn balances_end_exact(cluster: &Cluster, query: &Role, expected: &[i64]) {
    for user in 1..=USERS {
        let want = expected[user as usize];
        let view = cluster
            .eventually(
                query,
                &format!("/v1/users/{user}/points"),
                Duration::from_secs(60),
                |v| v["balance"] == want,
            )
            .await;
        assert_eq!(view["balance"], want, "user {user}");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    for user in 1..=USERS {
        let (_, view) = cluster
            .get(query, &format!("/v1/users/{user}/points"))
            .await;
        assert_eq!(
            view["balance"], expected[user as usize],
            "user {user} after settling"
        );
    }
}
