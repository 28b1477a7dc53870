//! The first-come-first-served rush over real HTTP: exactly N coupons, one per user,
//! sequences 1..N, everybody else told sold-out or already-issued.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use crate::common;

use common::{consistency_token, spawn_app};
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::HashSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_users_and_a_hundred_repeats_rush_a_coupon_of_thirty() {
    let app = spawn_app().await;
    let (coupon, _) = app.register_coupon(30).await;

    let users = (1..=1_000).chain(1..=100);
    let requests = users.map(|user| {
        let app = &app;
        async move {
            let response = app
                .post(
                    &format!("/v1/coupons/{coupon}/issue"),
                    json!({"userId": user}),
                )
                .await;
            let status = response.status();
            let token = response
                .headers()
                .get("consistency-token")
                .map(|_| consistency_token(&response));
            let body: Value = response.json().await.expect("json body");
            (user, status, token, body)
        }
    });
    let answers = join_all(requests).await;

    let mut sequences = Vec::new();
    let mut winners = HashSet::new();
    let mut last_token = 0;
    for (user, status, token, body) in &answers {
        match *status {
            StatusCode::CREATED => {
                assert!(winners.insert(*user), "user {user} won twice");
                assert_eq!(body["userId"], *user);
                assert_eq!(body["couponId"], coupon);
                sequences.push(body["sequence"].as_i64().expect("sequence"));
                last_token = last_token.max(token.expect("token"));
            }
            StatusCode::CONFLICT => {
                let code = body["code"].as_str().expect("code");
                assert!(
                    code == "coupon-sold-out" || code == "coupon-already-issued",
                    "unexpected code {code}"
                );
            }
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    sequences.sort_unstable();
    assert_eq!(sequences, (1..=30).collect::<Vec<_>>());
    assert_eq!(winners.len(), 30);

    let coupon_view: Value = app
        .get(&format!("/v1/coupons/{coupon}"), Some(last_token))
        .await
        .json()
        .await
        .expect("coupon json");
    assert_eq!(coupon_view["issuedQuantity"], 30);
    assert_eq!(coupon_view["remaining"], 0);

    let winner = *winners.iter().next().expect("a winner");
    let held: Value = app
        .get(&format!("/v1/users/{winner}/coupons"), Some(last_token))
        .await
        .json()
        .await
        .expect("user coupons json");
    assert_eq!(held["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(held["items"][0]["status"], "AVAILABLE");
    app.stop().await;
}

#[tokio::test]
async fn requests_sent_one_after_another_are_issued_in_that_order() {
    let app = spawn_app().await;
    let (coupon, _) = app.register_coupon(5).await;
    for (i, user) in [501, 7, 333, 42, 9, 1000].into_iter().enumerate() {
        let response = app
            .post(
                &format!("/v1/coupons/{coupon}/issue"),
                json!({"userId": user}),
            )
            .await;
        if i < 5 {
            assert_eq!(response.status(), StatusCode::CREATED);
            let body: Value = response.json().await.expect("json");
            assert_eq!(body["sequence"], i as i64 + 1);
            assert_eq!(body["remaining"], 4 - i as i64);
        } else {
            common::assert_problem(response, StatusCode::CONFLICT, "coupon-sold-out").await;
        }
    }
    app.stop().await;
}
