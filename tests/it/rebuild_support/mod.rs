//! What the rebuild tests share: a workload over HTTP that touches every read model, a
//! writer and a reader that keep going during a rebuild, a from-scratch projection of the
//! store to compare with, and dumps of the read-model tables.
#![allow(dead_code)]

use futures::StreamExt;
use futures::future::join_all;
use projections::{open_read_db, spawn_projections};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use shop::Settings;
use shop::feed::StoreFeed;
use sqlx::AnyPool;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

pub const USERS: i64 = 40;
const HISTORY: i64 = 3_000;

/// The data tables of every SQL projection, and how to read each row as one string.
fn dump_queries(mysql: bool) -> Vec<(&'static str, String)> {
    let date = if mysql {
        "CAST(sold_date AS CHAR)"
    } else {
        "sold_date"
    };
    vec![
        ("balances", "SELECT user_id, balance FROM balances".into()),
        (
            "products",
            "SELECT product_id, name, price, stock FROM products".into(),
        ),
        (
            "coupons",
            "SELECT coupon_id, name, discount_kind, discount_value, total_quantity, \
             issued_quantity, valid_from, valid_until FROM coupons"
                .into(),
        ),
        (
            "user_coupons",
            "SELECT user_coupon_id, coupon_id, user_id, sequence, status, issued_at, order_id \
             FROM user_coupons"
                .into(),
        ),
        (
            "orders",
            "SELECT order_id, user_id, status, total_amount, discount_amount, paid_amount, \
             reason, placed_at, updated FROM orders"
                .into(),
        ),
        (
            "order_lines",
            "SELECT order_id, product_id, quantity, unit_price FROM order_lines".into(),
        ),
        (
            "daily_sales",
            format!("SELECT {date}, product_id, sold_quantity FROM daily_sales"),
        ),
    ]
}

/// Every row of every read-model table, sorted, as text.
pub async fn dump(pool: &AnyPool, mysql: bool) -> BTreeMap<&'static str, Vec<String>> {
    use sqlx::Row;
    let mut tables = BTreeMap::new();
    for (table, query) in dump_queries(mysql) {
        let rows = sqlx::query(sqlx::AssertSqlSafe(query))
            .fetch_all(pool)
            .await
            .unwrap();
        let mut lines: Vec<String> = rows
            .iter()
            .map(|row| {
                (0..row.columns().len())
                    .map(|i| {
                        if let Ok(value) = row.try_get::<Option<i64>, _>(i) {
                            format!("{value:?}")
                        } else {
                            format!("{:?}", row.try_get::<Option<String>, _>(i).unwrap())
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect();
        lines.sort();
        tables.insert(table, lines);
    }
    tables
}

/// Projects the whole event store of `settings` into a fresh read database at `url` with
/// the embedded projectors, and waits until every projection reached the head.
pub async fn project_from_scratch(settings: &Settings, url: &str) -> AnyPool {
    let events = shop::backend::open_event_store(settings).await.unwrap();
    let head = events.store.head_position().await.unwrap();
    let pool = open_read_db(url).await.unwrap();
    let stop = CancellationToken::new();
    let handles = spawn_projections(
        pool.clone(),
        Arc::new(StoreFeed(events.store)),
        settings.timezone,
        stop.clone(),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let positions: Vec<i64> = sqlx::query_scalar("SELECT position FROM projection_checkpoints")
            .fetch_all(&pool)
            .await
            .unwrap();
        if positions.len() == projections::all(settings.timezone).len()
            && positions.iter().all(|position| *position >= head)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the fresh projection never reached {head}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    handles.join().await;
    pool
}

/// Polls until the live read models equal `expected`, or panics with the difference.
pub async fn converge(live: &AnyPool, mysql: bool, expected: &BTreeMap<&str, Vec<String>>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = dump(live, mysql).await;
        if &now == expected {
            return;
        }
        if Instant::now() >= deadline {
            for (table, rows) in expected {
                let live_rows = &now[table];
                if live_rows != rows {
                    let missing: Vec<_> = rows.iter().filter(|r| !live_rows.contains(r)).collect();
                    let extra: Vec<_> = live_rows.iter().filter(|r| !rows.contains(r)).collect();
                    eprintln!("{table}: missing {missing:?}\n  extra {extra:?}");
                }
            }
            panic!("the live read models never matched a from-scratch projection");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub struct Api {
    pub client: Client,
    pub command: String,
    pub admin_token: String,
}

impl Api {
    async fn post(&self, path: &str, body: Value, admin: bool) -> (StatusCode, Value) {
        let mut request = self
            .client
            .post(format!("{}{path}", self.command))
            .json(&body);
        if admin {
            request = request.bearer_auth(&self.admin_token);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn charge(&self, user: i64, amount: i64) {
        let (status, body) = self
            .post(
                &format!("/v1/users/{user}/points/charge"),
                json!({"amount": amount}),
                false,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// Products, a coupon, balances, issued coupons, and orders that complete, use a
    /// coupon or are refused: rows in every read-model table.
    pub async fn workload(&self) -> Vec<i64> {
        let mut products = Vec::new();
        for (price, stock) in [(1_000, 500), (2_500, 30), (700, 3)] {
            let (status, body) = self
                .post(
                    "/v1/products",
                    json!({"name": format!("item {price}"), "price": price, "stock": stock}),
                    true,
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            products.push(body["productId"].as_i64().unwrap());
        }
        let (status, coupon) = self
            .post(
                "/v1/coupons",
                json!({"name": "ten off", "discount": {"kind": "percent", "value": 10}, "totalQuantity": 20}),
                true,
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{coupon}");
        let coupon = coupon["couponId"].as_i64().unwrap();
        join_all((1..=USERS).map(|user| self.charge(user, 20_000))).await;
        // Enough history that the replay takes a while and the writer overlaps it.
        futures::stream::iter(0..HISTORY)
            .for_each_concurrent(32, |turn| self.charge(1 + turn % USERS, 10))
            .await;
        let issued = join_all((1..=20).map(|user| async move {
            let path = format!("/v1/coupons/{coupon}/issue");
            self.post(&path, json!({"userId": user}), false).await
        }))
        .await;
        let orders = join_all((1..=USERS).map(|user| {
            let mut body = json!({"userId": user, "items": [
                {"productId": products[1 + (user % 2) as usize], "quantity": 1},
                {"productId": products[0], "quantity": 2}
            ]});
            if user <= 10 {
                body["userCouponId"] = issued[(user - 1) as usize].1["userCouponId"].clone();
            }
            self.post("/v1/orders", body, false)
        }))
        .await;
        let completed = orders
            .iter()
            .filter(|(status, _)| *status == StatusCode::CREATED)
            .count();
        let refused = orders
            .iter()
            .filter(|(status, _)| *status == StatusCode::CONFLICT)
            .count();
        assert!(completed > 20 && refused > 0, "{orders:?}");
        products
    }
}

/// Charges 1 point to users in turn until stopped; counts what it charged.
pub fn keep_writing(api: Arc<Api>, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let mut charged = 0;
        while !stop.load(Ordering::Relaxed) {
            api.charge(1 + charged as i64 % USERS, 1).await;
            charged += 1;
        }
        charged
    })
}

/// Reads balances and products from the query API until stopped; every answer must be a
/// 200 with the value present (a rebuild never shows an empty or half-copied table).
pub fn keep_reading(
    client: Client,
    query: String,
    products: Vec<i64>,
    stop: Arc<AtomicBool>,
    reads: Arc<AtomicU64>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut turn = 0i64;
        while !stop.load(Ordering::Relaxed) {
            let user = 1 + turn % USERS;
            let product = products[(turn % products.len() as i64) as usize];
            for path in [
                format!("/v1/users/{user}/points"),
                format!("/v1/products/{product}"),
                "/v1/rankings/top-products?days=1&limit=5".to_owned(),
            ] {
                let response = client.get(format!("{query}{path}")).send().await.unwrap();
                let status = response.status();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                assert_eq!(
                    status,
                    StatusCode::OK,
                    "GET {path} during the rebuild: {body}"
                );
                reads.fetch_add(1, Ordering::Relaxed);
            }
            turn += 1;
        }
    })
}
