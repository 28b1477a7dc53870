//! Mixed order load against the embedded service: keep-alive clients place orders of
//! 1-3 lines for random users, some with their coupon, some for a scarce product, some by
//! users who cannot pay. Prints throughput and latency per outcome, and checks money
//! conservation (charged - paid = balance, summed over users) through the query API.

use crate::rush::{self, HttpClient, ms};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use serde_json::{Value, json};
use shop::{Application, Settings};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const PRODUCTS: i64 = 20;
const RICH: i64 = 1_000_000;
const POOR: i64 = 2_000;

pub struct OrderLoad {
    pub clients: usize,
    pub orders: i64,
    pub users: i64,
}

#[derive(Default)]
struct Tally {
    latencies: Option<Histogram<u64>>,
    outcomes: BTreeMap<String, i64>,
    paid: i64,
    pending: Vec<i64>,
}

/// Deterministic per-client randomness, so runs are comparable.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: i64) -> i64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n.max(1) as u64) as i64
    }
}

pub async fn run(load: OrderLoad) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut settings = Settings::embedded_in(dir.path());
    // The production default: an fsync on every commit.
    settings.sqlite_sync = shop::settings::SqliteSync::Full;
    let shutdown = CancellationToken::new();
    let app = Application::build(settings, shutdown.clone()).await?;
    let command = app.command_url();
    let query = app.query_url();
    let admin = app.admin_token().expose().to_owned();
    let store = app.services().store().clone();
    let running = tokio::spawn(app.run_until_stopped());
    let http = rush::client(load.clients);

    let (products, scarce, coupon) = setup_catalog(&http, &command, &admin).await?;
    let (charged, held) = setup_users(&http, &command, coupon, load.users).await?;
    println!(
        "order mix (embedded): {} orders from {} clients; {} users ({}% cannot pay), \
         {PRODUCTS} products + 1 scarce, percent coupons held by {} users",
        load.orders,
        load.clients,
        load.users,
        10,
        load.users.min(2_000)
    );

    let next = Arc::new(AtomicI64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..load.clients {
        let (http, next, url) = (http.clone(), next.clone(), format!("{command}/v1/orders"));
        let (products, held) = (products.clone(), held.clone());
        let users = load.users;
        let total = load.orders;
        tasks.push(tokio::spawn(async move {
            let mut rng = Lcg(client as u64 + 1);
            let mut tally = Tally {
                latencies: Some(Histogram::new(3).expect("histogram")),
                ..Tally::default()
            };
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let body = order_body(&mut rng, &products, scarce, &held, users);
                place(&http, &url, body, &mut tally).await;
            }
            tally
        }));
    }
    let mut total = Tally {
        latencies: Some(Histogram::new(3)?),
        ..Tally::default()
    };
    for task in tasks {
        let tally = task.await?;
        if let (Some(all), Some(one)) = (total.latencies.as_mut(), tally.latencies) {
            all.add(one)?;
        }
        for (outcome, count) in tally.outcomes {
            *total.outcomes.entry(outcome).or_default() += count;
        }
        total.paid += tally.paid;
        total.pending.extend(tally.pending);
    }
    let elapsed = started.elapsed();

    // Orders still pending when answered: wait for their outcome on the query API.
    for order_id in std::mem::take(&mut total.pending) {
        let order = settled(&http, &query, order_id).await?;
        if order["status"] == "COMPLETED" {
            total.paid += order["paidAmount"].as_i64().unwrap_or(0);
        }
    }
    let head = store.head_position().await?.to_string();
    let mut balances = 0;
    for user in 1..=load.users {
        let url = format!("{query}/v1/users/{user}/points");
        let (status, body) = rush::get(&http, &url, Some(&head)).await?;
        anyhow::ensure!(status.is_success(), "balance of {user}: {status} {body}");
        let view: Value = serde_json::from_str(&body)?;
        balances += view["balance"].as_i64().unwrap_or(0);
    }
    shutdown.cancel();
    running.await??;

    let latencies = total.latencies.take().expect("histogram");
    let count: i64 = total.outcomes.values().sum();
    println!(
        "\n{:>10} {:>9} {:>9} {:>9} {:>9}",
        "orders/s", "p50 ms", "p95 ms", "p99 ms", "max ms"
    );
    println!(
        "{:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
        count as f64 / elapsed.as_secs_f64(),
        ms(&latencies, 0.50),
        ms(&latencies, 0.95),
        ms(&latencies, 0.99),
        latencies.max() as f64 / 1000.0
    );
    println!("outcomes: {:?}", total.outcomes);
    let exact = charged - balances == total.paid;
    println!(
        "money: charged {charged} - balances {balances} = {} ; paid by completed orders {} -> {}",
        charged - balances,
        total.paid,
        if exact { "exact" } else { "NOT EXACT" }
    );
    anyhow::ensure!(exact, "money is not conserved");
    Ok(())
}

async fn setup_catalog(
    http: &HttpClient,
    command: &str,
    admin: &str,
) -> anyhow::Result<(Arc<Vec<i64>>, i64, i64)> {
    let mut products = Vec::new();
    for i in 0..=PRODUCTS {
        let stock = if i == PRODUCTS { 200 } else { 1_000_000 };
        let body =
            json!({"name": format!("product {i}"), "price": 1_000 * (i % 7 + 1), "stock": stock});
        let created = admin_post(http, &format!("{command}/v1/products"), admin, body).await?;
        products.push(created["productId"].as_i64().unwrap_or(0));
    }
    let scarce = products.pop().unwrap_or(0);
    let body = json!({"name": "10%", "discount": {"kind": "percent", "value": 10}, "totalQuantity": 2_000});
    let coupon = admin_post(http, &format!("{command}/v1/coupons"), admin, body).await?;
    Ok((
        Arc::new(products),
        scarce,
        coupon["couponId"].as_i64().unwrap_or(0),
    ))
}

/// Charges every user (every tenth only a little) and issues the coupon to the first
/// 2,000; answers the total charged and each user's coupon (0: none), indexed by user.
async fn setup_users(
    http: &HttpClient,
    command: &str,
    coupon: i64,
    users: i64,
) -> anyhow::Result<(i64, Arc<Vec<i64>>)> {
    let mut charged = 0;
    let mut held = vec![0; users as usize + 1];
    let mut pending = Vec::new();
    for user in 1..=users {
        let amount = if user % 10 == 0 { POOR } else { RICH };
        charged += amount;
        let http = http.clone();
        let command = command.to_owned();
        pending.push(tokio::spawn(async move {
            let url = format!("{command}/v1/users/{user}/points/charge");
            let (status, body) =
                rush::post(&http, &url, None, json!({"amount": amount}).to_string()).await?;
            anyhow::ensure!(status.is_success(), "charge {user}: {status} {body}");
            if user > 2_000 {
                return Ok((user, 0));
            }
            let url = format!("{command}/v1/coupons/{coupon}/issue");
            let (status, body) =
                rush::post(&http, &url, None, json!({"userId": user}).to_string()).await?;
            anyhow::ensure!(status.is_success(), "issue to {user}: {status} {body}");
            let issued: Value = serde_json::from_str(&body)?;
            Ok((user, issued["userCouponId"].as_i64().unwrap_or(0)))
        }));
        if pending.len() >= 64 || user == users {
            for task in pending.drain(..) {
                let (user, user_coupon) = task.await??;
                held[user as usize] = user_coupon;
            }
        }
    }
    Ok((charged, Arc::new(held)))
}

fn order_body(rng: &mut Lcg, products: &[i64], scarce: i64, held: &[i64], users: i64) -> String {
    let user = 1 + rng.below(users);
    let lines = 1 + rng.below(3);
    let first = rng.below(products.len() as i64);
    let mut items: Vec<Value> = (0..lines)
        .map(|i| {
            let product = products[((first + i) as usize) % products.len()];
            json!({"productId": product, "quantity": 1 + rng.below(2)})
        })
        .collect();
    if rng.below(20) == 0 {
        items.push(json!({"productId": scarce, "quantity": 1}));
    }
    let mut body = json!({"userId": user, "items": items});
    let user_coupon = held[user as usize];
    if user_coupon > 0 && rng.below(4) == 0 {
        body["userCouponId"] = json!(user_coupon);
    }
    body.to_string()
}

async fn place(http: &HttpClient, url: &str, body: String, tally: &mut Tally) {
    let sent = Instant::now();
    let request = Request::builder()
        .method(Method::POST)
        .uri(url)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("request");
    let outcome = match http.request(request).await {
        Ok(response) => {
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let answer: Value = serde_json::from_slice(&bytes).unwrap_or_default();
            match status {
                StatusCode::CREATED => {
                    tally.paid += answer["paidAmount"].as_i64().unwrap_or(0);
                    "201 COMPLETED".to_owned()
                }
                StatusCode::ACCEPTED => {
                    tally.pending.push(answer["orderId"].as_i64().unwrap_or(0));
                    "202 PENDING".to_owned()
                }
                StatusCode::CONFLICT => format!("409 {}", answer["code"].as_str().unwrap_or("?")),
                other => format!("{other}"),
            }
        }
        Err(_) => "transport error".to_owned(),
    };
    if let Some(latencies) = tally.latencies.as_mut() {
        latencies
            .record(sent.elapsed().as_micros() as u64)
            .expect("latency fits");
    }
    *tally.outcomes.entry(outcome).or_default() += 1;
}

async fn settled(http: &HttpClient, query: &str, order_id: i64) -> anyhow::Result<Value> {
    let url = format!("{query}/v1/orders/{order_id}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let (status, body) = rush::get(http, &url, None).await?;
        if status == StatusCode::OK {
            let order: Value = serde_json::from_str(&body)?;
            if order["status"] != "PENDING" {
                return Ok(order);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("order {order_id} never settled")
}

async fn admin_post(
    http: &HttpClient,
    url: &str,
    admin: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let (status, text) = rush::post(http, url, Some(admin), body.to_string()).await?;
    anyhow::ensure!(status == StatusCode::CREATED, "{url}: {status} {text}");
    Ok(serde_json::from_str(&text)?)
}
