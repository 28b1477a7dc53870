//! Access control and limits over real HTTP: user JWTs (401 without, 403 for another
//! user), the per-user rate limit (429 with Retry-After), and the in-flight cap (503
//! `overloaded` with Retry-After).
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use crate::common;

use common::{ADMIN_TOKEN, assert_problem};
use futures::future::join_all;
use jsonwebtoken::{EncodingKey, Header, encode};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use shop::{Application, Settings};
use sqlx::Connection;
use tokio_util::sync::CancellationToken;

const SECRET: &str = "test-secret-of-enough-bytes";

struct App {
    command: String,
    query: String,
    client: Client,
    shutdown: CancellationToken,
    running: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

async fn start(configure: impl FnOnce(&mut Settings)) -> App {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::embedded_in(dir.path());
    configure(&mut settings);
    let shutdown = CancellationToken::new();
    let app = Application::build(settings, shutdown.clone())
        .await
        .unwrap();
    App {
        command: app.command_url(),
        query: app.query_url(),
        client: Client::new(),
        shutdown: shutdown.clone(),
        running: tokio::spawn(app.run_until_stopped()),
        _dir: dir,
    }
}

impl App {
    async fn stop(self) {
        self.shutdown.cancel();
        self.running.await.unwrap().unwrap();
    }

    async fn post(&self, path: String, body: Value, jwt: Option<&str>) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!("{}{path}", self.command))
            .json(&body);
        if let Some(jwt) = jwt {
            request = request.bearer_auth(jwt);
        }
        request.send().await.unwrap()
    }

    async fn admin(&self, path: &str, body: Value) -> Value {
        let response = self
            .client
            .post(format!("{}{path}", self.command))
            .bearer_auth(ADMIN_TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }
}

fn jwt(sub: Value) -> String {
    let exp = chrono::Utc::now().timestamp() + 600;
    encode(
        &Header::default(),
        &json!({"sub": sub, "exp": exp}),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_jwt_secret_users_act_only_for_themselves() {
    let app = start(|s| s.jwt_secret = Some(SECRET.into())).await;
    let product = app
        .admin(
            "/v1/products",
            json!({"name": "cup", "price": 100, "stock": 5}),
        )
        .await["productId"]
        .clone();
    let charge = json!({"amount": 1_000});
    let path = "/v1/users/7/points/charge";

    assert_problem(
        app.post(path.to_owned(), charge.clone(), None).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_problem(
        app.post(path.to_owned(), charge.clone(), Some("not-a-jwt"))
            .await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_problem(
        app.post(path.to_owned(), charge.clone(), Some(&jwt(json!(8))))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_eq!(
        app.post(path.to_owned(), charge, Some(&jwt(json!("7"))))
            .await
            .status(),
        StatusCode::OK
    );

    let order = json!({"userId": 7, "items": [{"productId": product, "quantity": 1}]});
    assert_problem(
        app.post("/v1/orders".to_owned(), order.clone(), Some(&jwt(json!(8))))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_eq!(
        app.post("/v1/orders".to_owned(), order, Some(&jwt(json!(7))))
            .await
            .status(),
        StatusCode::CREATED
    );

    let balance = format!("{}/v1/users/7/points", app.query);
    let anonymous = app.client.get(&balance).send().await.unwrap();
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let other = app
        .client
        .get(&balance)
        .bearer_auth(jwt(json!(8)))
        .send()
        .await
        .unwrap();
    assert_problem(other, StatusCode::FORBIDDEN, "forbidden").await;
    let own = app
        .client
        .get(&balance)
        .bearer_auth(jwt(json!(7)))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), StatusCode::OK);
    // Catalog reads stay public.
    let catalog = app
        .client
        .get(format!("{}/v1/products", app.query))
        .send()
        .await
        .unwrap();
    assert_eq!(catalog.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_over_the_rate_limit_is_told_when_to_retry() {
    let app = start(|s| {
        s.user_rate_per_sec = 1;
        s.user_rate_burst = 2;
    })
    .await;
    let mut coupons = Vec::new();
    for _ in 0..3 {
        let coupon = app
            .admin("/v1/coupons", json!({"name": "c", "discount": {"kind": "fixed", "value": 10}, "totalQuantity": 5}))
            .await;
        coupons.push(coupon["couponId"].as_i64().unwrap());
    }
    let issue = |coupon: i64, user: i64| {
        app.post(
            format!("/v1/coupons/{coupon}/issue"),
            json!({"userId": user}),
            None,
        )
    };
    assert_eq!(issue(coupons[0], 5).await.status(), StatusCode::CREATED);
    assert_eq!(issue(coupons[1], 5).await.status(), StatusCode::CREATED);
    let limited = issue(coupons[2], 5).await;
    assert_eq!(limited.headers()["retry-after"], "1");
    assert_problem(limited, StatusCode::TOO_MANY_REQUESTS, "rate-limited").await;
    // Another user is not held back.
    assert_eq!(issue(coupons[2], 6).await.status(), StatusCode::CREATED);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_in_flight_cap_commands_are_shed_with_retry_after() {
    let app = start(|s| s.max_in_flight = 1).await;
    let answers = join_all((1..=200).map(|user| {
        app.post(
            format!("/v1/users/{user}/points/charge"),
            json!({"amount": 10}),
            None,
        )
    }))
    .await;
    let mut shed = 0;
    for response in answers {
        match response.status() {
            StatusCode::OK => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                shed += 1;
                assert_eq!(response.headers()["retry-after"], "1");
                assert_problem(response, StatusCode::SERVICE_UNAVAILABLE, "overloaded").await;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(
        shed > 0,
        "200 concurrent charges against a cap of 1 shed none"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_size_and_request_time_are_limited_as_configured() {
    let app = start(|s| {
        s.max_body_bytes = 1_024;
        s.request_timeout_ms = 300;
    })
    .await;
    let padded = json!({"amount": 10, "padding": "x".repeat(2_000)});
    let response = app
        .post("/v1/users/1/points/charge".to_owned(), padded, None)
        .await;
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large").await;

    // A read waiting for a genuine write its read model has not applied outlives the
    // 300 ms budget. (A token beyond the store's head would be refused at once instead.)
    // Holding the read models' write lock keeps the projectors from applying it.
    let read_models = format!(
        "sqlite://{}",
        app._dir.path().join("shop-read.db").display()
    );
    let mut lock = sqlx::SqliteConnection::connect(&read_models).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut lock)
        .await
        .unwrap();
    let charged = app
        .post(
            "/v1/users/1/points/charge".to_owned(),
            json!({"amount": 10}),
            None,
        )
        .await;
    assert_eq!(charged.status(), StatusCode::OK);
    let token = charged.headers()["consistency-token"].clone();
    let started = std::time::Instant::now();
    let response = app
        .client
        .get(format!("{}/v1/users/1/points", app.query))
        .header("Consistency-Token", token)
        .send()
        .await
        .unwrap();
    assert!(started.elapsed() < std::time::Duration::from_millis(1_500));
    assert_eq!(response.headers()["retry-after"], "1");
    assert_problem(response, StatusCode::SERVICE_UNAVAILABLE, "overloaded").await;
    sqlx::query("ROLLBACK").execute(&mut lock).await.unwrap();
    app.stop().await;
}
