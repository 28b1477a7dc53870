//! One Idempotency-Key sent by fifty clients at once charges once, and every caller sees
//! the same answer.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

mod common;

use common::{consistency_token, spawn_app};
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_charges_with_one_key_charge_once() {
    let app = spawn_app().await;
    let charges = (0..50).map(|_| {
        let app = &app;
        async move {
            let response = app
                .client
                .post(format!("{}/v1/users/77/points/charge", app.command))
                .header("Idempotency-Key", "charge-once-please")
                .json(&json!({"amount": 12_345}))
                .send()
                .await
                .expect("sent");
            assert_eq!(response.status(), StatusCode::OK);
            let token = consistency_token(&response);
            let body: Value = response.json().await.expect("json");
            (body, token)
        }
    });
    let answers = join_all(charges).await;
    for (body, _) in &answers {
        assert_eq!(body, &json!({"userId": 77, "balance": 12_345}));
    }
    let token = answers.iter().map(|(_, t)| *t).max().expect("answers");

    let balance: Value = app
        .get("/v1/users/77/points", Some(token))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(balance, json!({"userId": 77, "balance": 12_345}));

    // A new key charges again; reusing the first key with another amount is refused.
    let again = app
        .client
        .post(format!("{}/v1/users/77/points/charge", app.command))
        .header("Idempotency-Key", "second")
        .json(&json!({"amount": 5}))
        .send()
        .await
        .expect("sent");
    assert_eq!(
        again.json::<Value>().await.expect("json")["balance"],
        12_350
    );
    let reused = app
        .client
        .post(format!("{}/v1/users/77/points/charge", app.command))
        .header("Idempotency-Key", "charge-once-please")
        .json(&json!({"amount": 1}))
        .send()
        .await
        .expect("sent");
    common::assert_problem(
        reused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;
    app.stop().await;
}
