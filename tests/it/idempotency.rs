//! Every command is safe to retry with an `Idempotency-Key`: a repeat (in a row or many at
//! once) answers the first outcome and changes nothing, a different body under the same
//! key is `422 idempotency-key-reused`, and a request running with the key makes its
//! concurrent repeats `409 idempotency-key-in-flight` (or the same answer once it is done).
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use crate::common;

use common::{ADMIN_TOKEN, TestApp, assert_problem, consistency_token, spawn_app};
use futures::future::join_all;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

async fn keyed_post(app: &TestApp, path: &str, key: &str, body: &Value) -> Response {
    app.client
        .post(format!("{}{path}", app.command))
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .expect("sent")
}

async fn keyed_admin_post(app: &TestApp, path: &str, key: &str, body: &Value) -> Response {
    app.client
        .post(format!("{}{path}", app.command))
        .bearer_auth(ADMIN_TOKEN)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .expect("sent")
}

async fn status_and_body(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    (status, response.json().await.expect("json"))
}

/// Every answer of a burst with one key is the first outcome or `409 in-flight`, and at
/// least one is the outcome.
fn assert_one_outcome(answers: &[(StatusCode, Value)], success: StatusCode) -> Value {
    let first = answers
        .iter()
        .find(|(status, _)| *status == success)
        .map(|(_, body)| body.clone())
        .expect("one request got through");
    for (status, body) in answers {
        match *status {
            s if s == success => assert_eq!(body, &first, "a repeat answered differently"),
            StatusCode::CONFLICT => assert_eq!(body["code"], "idempotency-key-in-flight"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    first
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_charges_with_one_key_charge_once() {
    let app = spawn_app().await;
    let charges = (0..50).map(|_| {
        let app = &app;
        async move {
            let response = keyed_post(
                app,
                "/v1/users/77/points/charge",
                "charge-once-please",
                &json!({"amount": 12_345}),
            )
            .await;
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
    let again = keyed_post(
        &app,
        "/v1/users/77/points/charge",
        "second",
        &json!({"amount": 5}),
    )
    .await;
    assert_eq!(
        again.json::<Value>().await.expect("json")["balance"],
        12_350
    );
    let reused = keyed_post(
        &app,
        "/v1/users/77/points/charge",
        "charge-once-please",
        &json!({"amount": 1}),
    )
    .await;
    assert_problem(
        reused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency-key-reused",
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyed_order_sent_twice_and_twenty_times_at_once_is_placed_once() {
    let app = spawn_app().await;
    let (product, _) = app.register_product(1_000, 100).await;
    app.charge(5, 100_000).await;
    let order = json!({"userId": 5, "items": [{"productId": product, "quantity": 2}]});

    // Twice in a row: the same order, completed, and one deduction.
    let first = status_and_body(keyed_post(&app, "/v1/orders", "order-a", &order).await).await;
    assert_eq!(first.0, StatusCode::CREATED, "{}", first.1);
    let again = status_and_body(keyed_post(&app, "/v1/orders", "order-a", &order).await).await;
    assert_eq!(again, first);

    // Twenty at once with a fresh key: one order, every 2xx the same order id.
    let burst =
        join_all(
            (0..20).map(|_| {
                let (app, order) = (&app, &order);
                async move {
                    status_and_body(keyed_post(app, "/v1/orders", "order-b", order).await).await
                }
            }),
        )
        .await;
    let second = assert_one_outcome(&burst, StatusCode::CREATED);
    assert_ne!(second["orderId"], first.1["orderId"]);
    // Once the burst is over, a repeat is the outcome, never in-flight.
    let after = status_and_body(keyed_post(&app, "/v1/orders", "order-b", &order).await).await;
    assert_eq!(after, (StatusCode::CREATED, second.clone()));

    // The same key with another body is refused and places nothing.
    let head = app.head().await;
    let other = json!({"userId": 5, "items": [{"productId": product, "quantity": 3}]});
    let reused = keyed_post(&app, "/v1/orders", "order-a", &other).await;
    assert_problem(
        reused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency-key-reused",
    )
    .await;
    assert_eq!(app.head().await, head, "a refused reuse wrote nothing");

    // Two orders of two units (4,000 points and 4 units), however often they were sent.
    let wallet = app.get_json("/v1/users/5/points").await;
    assert_eq!(wallet["balance"], 96_000);
    let stock = app.get_json(&format!("/v1/products/{product}")).await;
    assert_eq!(stock["stock"], 96);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyed_coupon_issue_replays_the_first_201_not_already_issued() {
    let app = spawn_app().await;
    let (coupon, _) = app.register_coupon(10).await;
    let path = format!("/v1/coupons/{coupon}/issue");
    let body = json!({"userId": 9});

    let first = status_and_body(keyed_post(&app, &path, "issue-9", &body).await).await;
    assert_eq!(first.0, StatusCode::CREATED, "{}", first.1);
    let again = status_and_body(keyed_post(&app, &path, "issue-9", &body).await).await;
    assert_eq!(again, first, "a replay is the first 201");

    // Without the key, the same request is a new command: the user already holds it.
    let unkeyed = app.post(&path, body.clone()).await;
    assert_problem(unkeyed, StatusCode::CONFLICT, "coupon-already-issued").await;

    // Twenty at once for another user: one coupon.
    let burst = join_all((0..20).map(|_| {
        let (app, path) = (&app, &path);
        async move {
            status_and_body(keyed_post(app, path, "issue-10", &json!({"userId": 10})).await).await
        }
    }))
    .await;
    let issued = assert_one_outcome(&burst, StatusCode::CREATED);
    assert_eq!(issued["sequence"], 2);

    // Another body under a used key: 422, nothing issued.
    let reused = keyed_post(&app, &path, "issue-9", &json!({"userId": 11})).await;
    // The scope is the caller: user 11 never used "issue-9", so this is a new request.
    assert_eq!(reused.status(), StatusCode::CREATED);
    let other_coupon = app.register_coupon(10).await.0;
    let reused = keyed_post(
        &app,
        &format!("/v1/coupons/{other_coupon}/issue"),
        "issue-9",
        &body,
    )
    .await;
    assert_problem(
        reused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency-key-reused",
    )
    .await;

    let view = app.get_json(&format!("/v1/coupons/{coupon}")).await;
    assert_eq!(view["issuedQuantity"], 3);
    let view = app.get_json(&format!("/v1/coupons/{other_coupon}")).await;
    assert_eq!(view["issuedQuantity"], 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_registrations_and_restocks_take_effect_once() {
    let app = spawn_app().await;
    let product = json!({"name": "카페라떼", "price": 4_500, "stock": 10});
    let first =
        status_and_body(keyed_admin_post(&app, "/v1/products", "p-1", &product).await).await;
    assert_eq!(first.0, StatusCode::CREATED, "{}", first.1);
    let again =
        status_and_body(keyed_admin_post(&app, "/v1/products", "p-1", &product).await).await;
    assert_eq!(again, first, "one product, registered once");
    let id = first.1["productId"].as_i64().unwrap();

    let restock = format!("/v1/products/{id}/restock");
    let quantity = json!({"quantity": 5});
    let burst =
        join_all(
            (0..10).map(|_| {
                let (app, restock, quantity) = (&app, &restock, &quantity);
                async move {
                    status_and_body(keyed_admin_post(app, restock, "r-1", quantity).await).await
                }
            }),
        )
        .await;
    let restocked = assert_one_outcome(&burst, StatusCode::OK);
    assert_eq!(restocked["stock"], 15);
    let reused = keyed_admin_post(&app, &restock, "r-1", &json!({"quantity": 6})).await;
    assert_problem(
        reused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency-key-reused",
    )
    .await;

    let coupon =
        json!({"name": "웰컴", "discount": {"kind": "fixed", "value": 500}, "totalQuantity": 3});
    let first = status_and_body(keyed_admin_post(&app, "/v1/coupons", "c-1", &coupon).await).await;
    assert_eq!(first.0, StatusCode::CREATED, "{}", first.1);
    let again = status_and_body(keyed_admin_post(&app, "/v1/coupons", "c-1", &coupon).await).await;
    assert_eq!(again, first, "one coupon, registered once");

    let view = app.get_json(&format!("/v1/products/{id}")).await;
    assert_eq!(view["stock"], 15);
    let products = app.get_json("/v1/products").await;
    let count = products["items"].as_array().map_or(0, Vec::len);
    assert_eq!(count, 1, "products: {products}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_key_is_400_and_changes_nothing() {
    let app = spawn_app().await;
    let head = app.head().await;
    // (Leading and trailing blanks are not part of a header value: HTTP strips them.)
    for key in ["", "tab\tinside", &"k".repeat(201)] {
        let response = keyed_post(
            &app,
            "/v1/users/3/points/charge",
            key,
            &json!({"amount": 10}),
        )
        .await;
        assert_problem(response, StatusCode::BAD_REQUEST, "validation-failed").await;
        let response = keyed_post(
            &app,
            "/v1/orders",
            key,
            &json!({"userId": 3, "items": [{"productId": 1, "quantity": 1}]}),
        )
        .await;
        assert_problem(response, StatusCode::BAD_REQUEST, "validation-failed").await;
    }
    assert_eq!(app.head().await, head);
    app.stop().await;
}

/// A command slower than `SHOP_REQUEST_TIMEOUT_MS` (its commit waits for a write lock held
/// elsewhere) is not cut off with "retry" while it may still commit: a decided command is
/// answered with its commit's real outcome; one still queued past the timeout is answered
/// 503 undecided. Either way the answer matches what the store holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_slower_than_the_request_timeout_is_answered_as_the_store_holds_it() {
    use sqlx::Connection;
    let app = common::spawn_app_with(|s| s.request_timeout_ms = 300).await;
    app.charge(21, 1_000).await;
    let events = format!("sqlite://{}", app.data_dir().join("shop.db").display());
    let mut lock = sqlx::SqliteConnection::connect(&events).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut lock)
        .await
        .unwrap();

    // The first is decided at once and waits on the lock; the second queues behind it in
    // the same wallet's mailbox past the timeout.
    let ten = json!({"amount": 10});
    let first = keyed_post(&app, "/v1/users/21/points/charge", "slow-1", &ten);
    let second = async {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        keyed_post(
            &app,
            "/v1/users/21/points/charge",
            "slow-2",
            &json!({"amount": 20}),
        )
        .await
    };
    let release = async {
        tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
        sqlx::query("ROLLBACK").execute(&mut lock).await.unwrap();
    };
    let (first, second, ()) = tokio::join!(first, second, release);
    let first = status_and_body(first).await;
    let second = status_and_body(second).await;

    let balance = app.get_json("/v1/users/21/points").await["balance"]
        .as_i64()
        .unwrap();
    let mut expected = 1_000;
    for ((status, body), amount) in [(&first, 10), (&second, 20)] {
        match *status {
            StatusCode::OK => expected += amount,
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(body["code"], "overloaded", "{body}");
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(
        first.0,
        StatusCode::OK,
        "a decided command waits for its commit"
    );
    assert_eq!(
        second.0,
        StatusCode::SERVICE_UNAVAILABLE,
        "a command queued past the timeout is not decided"
    );
    assert_eq!(
        balance, expected,
        "the answers match the store: {first:?} {second:?}"
    );

    // Retried with its key, the undecided one takes effect once.
    let retried = status_and_body(
        keyed_post(
            &app,
            "/v1/users/21/points/charge",
            "slow-2",
            &json!({"amount": 20}),
        )
        .await,
    )
    .await;
    assert_eq!(retried.0, StatusCode::OK);
    assert_eq!(retried.1["balance"], 1_030);
    app.stop().await;
}
