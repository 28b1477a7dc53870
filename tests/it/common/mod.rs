//! An embedded `shop` started in-process on port 0 against a fresh data directory.
#![allow(dead_code)]

use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use shop::{Application, Settings};
use tokio_util::sync::CancellationToken;

pub const ADMIN_TOKEN: &str = "test-admin-token";

pub struct TestApp {
    pub command: String,
    pub query: String,
    pub client: Client,
    pub services: std::sync::Arc<write_side::commands::CommandServices>,
    shutdown: CancellationToken,
    running: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// `spawn_app` with settings changed by `customize`.
pub async fn spawn_app_with(customize: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::embedded_in(dir.path());
    customize(&mut settings);
    let shutdown = CancellationToken::new();
    let app = Application::build(settings, shutdown.clone())
        .await
        .expect("the application starts");
    let command = app.command_url();
    let query = app.query_url();
    let services = app.services().clone();
    let running = tokio::spawn(app.run_until_stopped());
    TestApp {
        command,
        query,
        client: Client::builder()
            .pool_max_idle_per_host(256)
            .build()
            .expect("http client"),
        services,
        shutdown,
        running,
        _dir: dir,
    }
}

impl TestApp {
    pub async fn admin_post(&self, path: &str, body: Value) -> Response {
        self.client
            .post(format!("{}{path}", self.command))
            .bearer_auth(ADMIN_TOKEN)
            .json(&body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.client
            .post(format!("{}{path}", self.command))
            .json(&body)
            .send()
            .await
            .expect("request sent")
    }

    /// GET on the query API, waiting for the write behind `token` if one is given.
    pub async fn get(&self, path: &str, token: Option<i64>) -> Response {
        let mut request = self.client.get(format!("{}{path}", self.query));
        if let Some(token) = token {
            request = request.header("Consistency-Token", token);
        }
        request.send().await.expect("request sent")
    }

    pub async fn register_coupon(&self, total_quantity: i64) -> (i64, i64) {
        let response = self
            .admin_post(
                "/v1/coupons",
                json!({"name": "rush", "discount": {"kind": "fixed", "value": 1000}, "totalQuantity": total_quantity}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let token = consistency_token(&response);
        let body: Value = response.json().await.expect("json");
        (body["couponId"].as_i64().expect("couponId"), token)
    }

    pub async fn register_product(&self, price: i64, stock: i64) -> (i64, i64) {
        let response = self
            .admin_post(
                "/v1/products",
                json!({"name": "thing", "price": price, "stock": stock}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let token = consistency_token(&response);
        let body: Value = response.json().await.expect("json");
        (body["productId"].as_i64().expect("productId"), token)
    }

    pub async fn charge(&self, user: i64, amount: i64) {
        let response = self
            .post(
                &format!("/v1/users/{user}/points/charge"),
                json!({"amount": amount}),
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "charge {amount} to {user}"
        );
    }

    /// Issues `coupon` to `user` and answers the user coupon id.
    pub async fn issue(&self, coupon: i64, user: i64) -> i64 {
        let response = self
            .post(
                &format!("/v1/coupons/{coupon}/issue"),
                json!({"userId": user}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "issue to {user}");
        let body: Value = response.json().await.expect("json");
        body["userCouponId"].as_i64().expect("userCouponId")
    }

    /// Places an order; answers the status and the body (an order or a problem).
    pub async fn order(&self, body: Value) -> (StatusCode, Value) {
        let response = self.post("/v1/orders", body).await;
        let status = response.status();
        (status, response.json().await.expect("json body"))
    }

    /// A query-API GET that waits until the read models caught up with every write so far.
    pub async fn get_json(&self, path: &str) -> Value {
        let head = self.head().await;
        let response = self.get(path, Some(head)).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.expect("json")
    }

    /// Where the SQLite event store (`shop.db`) and read models (`shop-read.db`) live.
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// The event store's head: unchanged means no event was written.
    pub async fn head(&self) -> i64 {
        self.services
            .store()
            .head_position()
            .await
            .expect("head position")
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        self.running
            .await
            .expect("app task")
            .expect("app stops cleanly");
    }
}

/// The global position in a response's consistency token (`position:stream:version`);
/// a bare position is a token too, which is what these tests send back.
pub fn consistency_token(response: &Response) -> i64 {
    let token: events::ConsistencyToken = response
        .headers()
        .get("consistency-token")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a consistency token header");
    assert!(token.stream.is_some(), "the token names the stream written");
    token.position
}

/// Asserts a problem+json answer with the given status and code.
pub async fn assert_problem(response: Response, status: StatusCode, code: &str) -> Value {
    let actual = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body: Value = response.json().await.expect("problem json");
    assert_eq!(actual, status, "status of {body}");
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(body["code"], code, "problem body {body}");
    body
}
