//! The query API over a real SQLite read database.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use read_side::{QueryState, WatchProgress, router};
use serde_json::{Value, json};
use sqlx::{AnyPool, AssertSqlSafe};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tower::ServiceExt;

struct Fixture {
    pool: AnyPool,
    progress: HashMap<&'static str, Arc<watch::Sender<i64>>>,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}/read.db?mode=rwc", dir.path().display());
    let pool = AnyPool::connect(&url).await.unwrap();
    for schema in [
        include_str!("../../../migrations/sqlite/read/0001_read_models.sql"),
        include_str!("../../../migrations/sqlite/read/0003_orders_and_sales.sql"),
    ] {
        sqlx::raw_sql(AssertSqlSafe(schema))
            .execute(&pool)
            .await
            .unwrap();
    }
    for sql in [
        "INSERT INTO balances VALUES (1, 5000)",
        "INSERT INTO products VALUES (1, 'Americano', 4500, 10), (2, 'Latte', 5000, 0), (3, 'Cake', 6500, 3)",
        "INSERT INTO coupons VALUES (1, 'Rush', 'percent', 10, 30, 2, NULL, NULL), \
         (2, 'Old', 'fixed', 1000, 5, 1, NULL, '2020-01-01T00:00:00Z')",
        "INSERT INTO user_coupons VALUES (10, 1, 1, 1, 'AVAILABLE', '2026-11-25T00:00:00Z', NULL), \
         (11, 2, 1, 1, 'AVAILABLE', '2019-12-01T00:00:00Z', NULL), \
         (12, 1, 2, 2, 'USED', '2026-11-25T00:00:01Z', 77)",
        "INSERT INTO orders VALUES (5, 1, 'COMPLETED', 9000, 0, 9000, NULL, \
         '2026-11-25T00:00:00Z', '2026-11-25T00:00:01Z')",
        "INSERT INTO order_lines VALUES (5, 1, 2, 4500)",
        "INSERT INTO daily_sales VALUES ('2026-11-20', 1, 50), ('2026-11-24', 1, 2), \
         ('2026-11-24', 3, 7), ('2026-11-25', 2, 2), ('2026-11-25', 1, 3)",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    let progress = ["balances", "catalog", "coupons", "orders", "sales"]
        .into_iter()
        .map(|name| (name, Arc::new(watch::Sender::new(10))))
        .collect();
    Fixture {
        pool,
        progress,
        _dir: dir,
    }
}

impl Fixture {
    async fn get(&self, uri: &str, token: Option<&str>) -> (StatusCode, String, Value) {
        let receivers = self
            .progress
            .iter()
            .map(|(name, sender)| (*name, sender.subscribe()))
            .collect::<HashMap<_, _>>();
        // "Today" is 2026-11-25 in Seoul.
        let now = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 11, 25, 3, 0, 0).unwrap();
        let state = QueryState::new(self.pool.clone(), Arc::new(WatchProgress::new(receivers)))
            .with_consistency_wait(Duration::from_millis(200))
            .with_clock(Arc::new(move || now));
        let mut request = Request::get(uri);
        if let Some(token) = token {
            request = request.header("consistency-token", token);
        }
        let response = router(state)
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            content_type,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }
}

#[tokio::test]
async fn every_route_answers_its_read_model() {
    let f = fixture().await;
    let (status, _, body) = f.get("/v1/users/1/points", None).await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"userId": 1, "balance": 5000}))
    );
    let (_, _, body) = f.get("/v1/users/99/points", None).await;
    assert_eq!(body, json!({"userId": 99, "balance": 0}));

    let (_, _, body) = f.get("/v1/products?page=0&size=2", None).await;
    assert_eq!(body["total"], 3);
    assert_eq!(body["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        body["items"][0],
        json!({"productId": 1, "name": "Americano", "price": 4500, "stock": 10})
    );
    let (_, _, body) = f.get("/v1/products?page=1&size=2", None).await;
    assert_eq!(body["items"][0]["productId"], 3);
    let (_, _, body) = f.get("/v1/products/2", None).await;
    assert_eq!(body["stock"], 0);

    let (_, _, body) = f.get("/v1/coupons/1", None).await;
    assert_eq!(body["discount"], json!({"kind": "percent", "value": 10}));
    assert_eq!(
        (body["issuedQuantity"].clone(), body["remaining"].clone()),
        (json!(2), json!(28))
    );

    let (_, _, body) = f.get("/v1/users/1/coupons", None).await;
    let statuses: Vec<_> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].clone())
        .collect();
    assert_eq!(statuses, vec![json!("AVAILABLE"), json!("EXPIRED")]);
    let (_, _, body) = f.get("/v1/users/2/coupons", None).await;
    assert_eq!(body["items"][0]["status"], "USED");
    let (_, _, body) = f.get("/v1/users/3/coupons", None).await;
    assert_eq!(body, json!({"items": []}));
}

#[tokio::test]
async fn bad_requests_and_unknown_ids_are_problems() {
    let f = fixture().await;
    for (uri, status, code) in [
        ("/v1/products/404", StatusCode::NOT_FOUND, "not-found"),
        ("/v1/coupons/404", StatusCode::NOT_FOUND, "not-found"),
        (
            "/v1/products/0",
            StatusCode::BAD_REQUEST,
            "validation-failed",
        ),
        (
            "/v1/products/abc",
            StatusCode::BAD_REQUEST,
            "validation-failed",
        ),
        (
            "/v1/users/-4/points",
            StatusCode::BAD_REQUEST,
            "validation-failed",
        ),
        (
            "/v1/products?size=0",
            StatusCode::BAD_REQUEST,
            "validation-failed",
        ),
        (
            "/v1/products?size=101",
            StatusCode::BAD_REQUEST,
            "validation-failed",
        ),
        (
            "/v1/products?page=-1",
            StatusCode::BAD_REQUEST,
            "validation-failed",
        ),
        (
            "/v1/products?page=x",
            StatusCode::BAD_REQUEST,
            "validation-failed",
        ),
    ] {
        let (actual, content_type, body) = f.get(uri, None).await;
        assert_eq!(actual, status, "{uri}: {body}");
        assert_eq!(content_type, "application/problem+json", "{uri}");
        assert_eq!(body["code"], code, "{uri}");
    }
    let (status, _, body) = f.get("/v1/users/1/points", Some("soon")).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::BAD_REQUEST, json!("validation-failed"))
    );
}

#[tokio::test]
async fn a_token_ahead_of_the_read_model_waits_then_gives_up() {
    let f = fixture().await;
    let (status, _, _) = f.get("/v1/users/1/points", Some("10")).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a token already applied answers at once"
    );

    let (status, _, body) = f.get("/v1/users/1/points", Some("11")).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::SERVICE_UNAVAILABLE, json!("overloaded"))
    );

    // The projection catches up while the query waits.
    let balances = f.progress["balances"].clone();
    let catch_up = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        balances.send_replace(11);
    });
    let (status, _, _) = f.get("/v1/users/1/points?consistencyToken=11", None).await;
    assert_eq!(status, StatusCode::OK);
    catch_up.await.unwrap();
}

#[tokio::test]
async fn rankings_and_orders_read_from_sqlite() {
    let f = fixture().await;
    let (status, _, body) = f
        .get("/v1/rankings/top-products?days=2&limit=2", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"from": "2026-11-24", "to": "2026-11-25", "items": [
            {"rank": 1, "productId": 3, "name": "Cake", "soldQuantity": 7},
            {"rank": 2, "productId": 1, "name": "Americano", "soldQuantity": 5}
        ]})
    );
    let (status, _, body) = f
        .get("/v1/rankings/top-products", Some("9:order-5:5"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["items"][2]["productId"], 2);

    let (status, _, body) = f.get("/v1/orders/5", Some("10:order-5:5")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"orderId": 5, "userId": 1, "status": "COMPLETED",
               "items": [{"productId": 1, "quantity": 2, "unitPrice": 4500}],
               "totalAmount": 9000, "discountAmount": 0, "paidAmount": 9000})
    );
    let (status, _, body) = f.get("/v1/orders/6", None).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::NOT_FOUND, json!("not-found"))
    );
    let (status, _, _) = f.get("/v1/rankings/top-products?limit=0", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
