//! SIGKILL a real `shop` process in the middle of a rush, start it again on the same data
//! directory: every acknowledged command is there, the read models converge, and nothing
//! is applied twice.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::embedded_process;

use embedded_process::{ADMIN_TOKEN as TOKEN, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_a_rush_loses_no_acknowledged_command() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut node = start(dir.path(), &[]).await;
    let client = Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();

    let coupon: Value = client
        .post(format!("{}/v1/coupons", node.command))
        .bearer_auth(TOKEN)
        .json(&json!({"name": "crash", "discount": {"kind": "fixed", "value": 100}, "totalQuantity": 100}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let coupon = coupon["couponId"].as_i64().unwrap();

    // Charges (user u gets u won) and coupon issues, in flight together, until the kill.
    let acked = Arc::new(AtomicUsize::new(0));
    let mut requests = FuturesUnordered::new();
    for user in 1..=3_000i64 {
        let client = client.clone();
        let base = node.command.clone();
        let acked = acked.clone();
        requests.push(async move {
            let (path, body) = if user % 3 == 0 {
                (
                    format!("/v1/coupons/{coupon}/issue"),
                    json!({"userId": user}),
                )
            } else {
                (
                    format!("/v1/users/{user}/points/charge"),
                    json!({"amount": user}),
                )
            };
            let response = client
                .post(format!("{base}{path}"))
                .json(&body)
                .send()
                .await;
            let outcome = match response {
                Ok(r) if r.status().is_success() => {
                    acked.fetch_add(1, Ordering::SeqCst);
                    Some((r.status(), r.json::<Value>().await.ok()))
                }
                _ => None,
            };
            (user, outcome)
        });
    }
    let mut acknowledged: HashMap<i64, (StatusCode, Option<Value>)> = HashMap::new();
    let mut killed = false;
    while let Some((user, outcome)) = requests.next().await {
        if let Some((status, body)) = outcome
            && body.is_some()
        {
            acknowledged.insert(user, (status, body));
        }
        if !killed && acked.load(Ordering::SeqCst) >= 400 {
            node.child.kill().expect("SIGKILL");
            node.child.wait().expect("reaped");
            killed = true;
        }
    }
    assert!(killed, "the rush ended before the kill");
    assert!(acknowledged.len() >= 400);
    assert!(
        acknowledged.len() < 3_000,
        "every request finished before the kill; the test proves nothing"
    );

    let node = start(dir.path(), &[]).await;
    let head: i64 = {
        // A charge after the restart: its token orders after everything recovered.
        let response = client
            .post(format!("{}/v1/users/999999/points/charge", node.command))
            .json(&json!({"amount": 1}))
            .send()
            .await
            .unwrap();
        let token: events::ConsistencyToken = response.headers()["consistency-token"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        token.position
    };

    let mut issued_acked = 0;
    for (user, (status, body)) in &acknowledged {
        let body = body.as_ref().unwrap();
        if user % 3 == 0 {
            assert_eq!(*status, StatusCode::CREATED);
            issued_acked += 1;
            let held: Value = client
                .get(format!("{}/v1/users/{user}/coupons", node.query))
                .header("Consistency-Token", head)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(
                held["items"][0]["userCouponId"], body["userCouponId"],
                "user {user}"
            );
        } else {
            assert_eq!(body["balance"], *user);
        }
    }
    // Every user's balance is 0 or exactly one charge: acknowledged ones exactly one.
    for user in (1..=3_000i64).filter(|u| u % 3 != 0) {
        let balance: Value = client
            .get(format!("{}/v1/users/{user}/points", node.query))
            .header("Consistency-Token", head)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let balance = balance["balance"].as_i64().unwrap();
        if acknowledged.contains_key(&user) {
            assert_eq!(balance, user, "acknowledged charge of user {user}");
        } else {
            assert!(balance == 0 || balance == user, "user {user} has {balance}");
        }
    }
    let coupon_view: Value = client
        .get(format!("{}/v1/coupons/{coupon}", node.query))
        .header("Consistency-Token", head)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let issued = coupon_view["issuedQuantity"].as_i64().unwrap();
    assert!(
        issued >= issued_acked && issued <= 100,
        "issued {issued}, acked {issued_acked}"
    );
    let mut node = node;
    node.child.kill().ok();
    node.child.wait().ok();
}
