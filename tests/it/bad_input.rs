//! Bad input gets the right 4xx with a stable code, and writes nothing.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use crate::common;

use common::{ADMIN_TOKEN, assert_problem, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

const BAD: StatusCode = StatusCode::BAD_REQUEST;
const INVALID: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;

#[tokio::test]
async fn bad_charges_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let head = app.head().await;
    let charge = "/v1/users/5/points/charge";
    for (body, status) in [
        (json!({"amount": 0}), INVALID),
        (json!({"amount": -5}), INVALID),
        (json!({"amount": 10_000_001}), INVALID),
        (json!({"amount": "100"}), INVALID),
        (json!({"amount": 1.5}), INVALID),
        (json!({"amount": 1e30}), INVALID),
        (json!({}), INVALID),
        (json!([1, 2]), BAD),
    ] {
        let response = app.post(charge, body.clone()).await;
        assert_problem(response, status, "validation-failed").await;
    }
    let raw = |body: &'static str, content_type: Option<&'static str>| {
        let mut request = app
            .client
            .post(format!("{}{charge}", app.command))
            .body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request.send()
    };
    let malformed = raw("{\"amount\": ", Some("application/json"))
        .await
        .unwrap();
    assert_problem(malformed, BAD, "validation-failed").await;
    let untyped = raw("{\"amount\": 5}", None).await.unwrap();
    assert_problem(untyped, BAD, "validation-failed").await;
    let overflow = raw(
        "{\"amount\": 99999999999999999999999}",
        Some("application/json"),
    )
    .await
    .unwrap();
    assert_problem(overflow, INVALID, "validation-failed").await;

    for path in [
        "/v1/users/0/points/charge",
        "/v1/users/abc/points/charge",
        "/v1/users/-1/points/charge",
    ] {
        let response = app.post(path, json!({"amount": 5})).await;
        assert_problem(response, BAD, "validation-failed").await;
    }

    let huge = "x".repeat(2 * 1024 * 1024);
    let too_large = app
        .post(charge, json!({"amount": 5, "padding": huge}))
        .await;
    assert_problem(
        too_large,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
    )
    .await;

    assert_eq!(app.head().await, head, "a refused request wrote an event");
    let balance: Value = app
        .get("/v1/users/5/points", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(balance["balance"], 0);
    app.stop().await;
}

#[tokio::test]
async fn the_balance_cap_holds() {
    let app = spawn_app().await;
    for _ in 0..100 {
        let response = app
            .post("/v1/users/9/points/charge", json!({"amount": 10_000_000}))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let head = app.head().await;
    let over = app
        .post("/v1/users/9/points/charge", json!({"amount": 1}))
        .await;
    assert_problem(over, INVALID, "validation-failed").await;
    assert_eq!(app.head().await, head);
    app.stop().await;
}

#[tokio::test]
async fn admin_routes_need_the_token() {
    let app = spawn_app().await;
    let head = app.head().await;
    let body = json!({"name": "x", "price": 100, "stock": 1});
    let missing = app.post("/v1/products", body.clone()).await;
    assert_problem(missing, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let wrong = app
        .client
        .post(format!("{}/v1/products", app.command))
        .bearer_auth(format!("{ADMIN_TOKEN}x"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_problem(wrong, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let coupon = app
        .post(
            "/v1/coupons",
            json!({"name": "c", "discount": {"kind": "fixed", "value": 1}, "totalQuantity": 1}),
        )
        .await;
    assert_problem(coupon, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let restock = app
        .post("/v1/products/1/restock", json!({"quantity": 1}))
        .await;
    assert_problem(restock, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_eq!(app.head().await, head);
    app.stop().await;
}

#[tokio::test]
async fn bad_products_and_coupons_are_refused() {
    let app = spawn_app().await;
    let (product, _) = app.register_product(1_000, 5).await;
    let head = app.head().await;
    for body in [
        json!({"name": "x", "price": 0, "stock": 1}),
        json!({"name": "x", "price": -1, "stock": 1}),
        json!({"name": "x", "price": 100, "stock": -1}),
        json!({"name": "", "price": 100, "stock": 1}),
        json!({"price": 100, "stock": 1}),
    ] {
        assert_problem(
            app.admin_post("/v1/products", body).await,
            INVALID,
            "validation-failed",
        )
        .await;
    }
    for quantity in [0, -3] {
        let response = app
            .admin_post(
                &format!("/v1/products/{product}/restock"),
                json!({"quantity": quantity}),
            )
            .await;
        assert_problem(response, INVALID, "validation-failed").await;
    }
    let unknown = app
        .admin_post("/v1/products/999/restock", json!({"quantity": 1}))
        .await;
    assert_problem(unknown, StatusCode::NOT_FOUND, "not-found").await;

    for body in [
        json!({"name": "c", "discount": {"kind": "percent", "value": 101}, "totalQuantity": 1}),
        json!({"name": "c", "discount": {"kind": "percent", "value": 0}, "totalQuantity": 1}),
        json!({"name": "c", "discount": {"kind": "fixed", "value": -1}, "totalQuantity": 1}),
        json!({"name": "c", "discount": {"kind": "bogus", "value": 1}, "totalQuantity": 1}),
        json!({"name": "c", "discount": {"kind": "fixed", "value": 1}, "totalQuantity": 0}),
        json!({"name": "c", "discount": {"kind": "fixed", "value": 1}, "totalQuantity": 1,
               "validFrom": "2030-01-02T00:00:00Z", "validUntil": "2030-01-01T00:00:00Z"}),
        json!({"name": "c", "discount": {"kind": "fixed", "value": 1}, "totalQuantity": 1, "validFrom": "yesterday"}),
    ] {
        assert_problem(
            app.admin_post("/v1/coupons", body).await,
            INVALID,
            "validation-failed",
        )
        .await;
    }
    let unknown_coupon = app
        .post("/v1/coupons/4242/issue", json!({"userId": 1}))
        .await;
    assert_problem(unknown_coupon, StatusCode::NOT_FOUND, "not-found").await;
    assert_eq!(app.head().await, head, "a refused request wrote an event");

    let (coupon, _) = app.register_coupon(3).await;
    let head = app.head().await;
    for body in [json!({"userId": 0}), json!({"userId": "7"}), json!({})] {
        let response = app.post(&format!("/v1/coupons/{coupon}/issue"), body).await;
        assert_problem(response, INVALID, "validation-failed").await;
    }
    assert_eq!(app.head().await, head);

    let missing: reqwest::Response = app.get("/v1/products/999", None).await;
    assert_problem(missing, StatusCode::NOT_FOUND, "not-found").await;
    let no_route = app.get("/v1/nothing-here", None).await;
    assert_problem(no_route, StatusCode::NOT_FOUND, "not-found").await;
    app.stop().await;
}

#[tokio::test]
async fn a_coupon_outside_its_window_is_not_active() {
    let app = spawn_app().await;
    let response = app
        .admin_post(
            "/v1/coupons",
            json!({"name": "later", "discount": {"kind": "percent", "value": 10}, "totalQuantity": 5,
                   "validFrom": "2999-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let coupon = response.json::<Value>().await.unwrap()["couponId"]
        .as_i64()
        .unwrap();
    let head = app.head().await;
    let early = app
        .post(&format!("/v1/coupons/{coupon}/issue"), json!({"userId": 1}))
        .await;
    assert_problem(early, StatusCode::CONFLICT, "coupon-not-active").await;
    assert_eq!(app.head().await, head);
    app.stop().await;
}
