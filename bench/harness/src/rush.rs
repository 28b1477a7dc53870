//! The load generator: keep-alive HTTP clients issue one coupon to distinct users as fast
//! as they can, spread over one or more command nodes, recording latency per request and,
//! for a sample of wins, how long the query API took to show them (write -> read lag).

use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

pub fn client(connections: usize) -> HttpClient {
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(connections)
        .build_http()
}

pub struct Rush {
    pub elapsed: Duration,
    pub latencies: Histogram<u64>,
    pub created: i64,
    pub sold_out: i64,
    pub other: i64,
    /// Highest global position among the answers' consistency tokens.
    pub last_position: i64,
    /// Write -> visible in the query API, for every `lag_every`-th win (microseconds).
    pub lag: Histogram<u64>,
}

pub struct Target<'a> {
    pub command_urls: &'a [String],
    pub query_url: &'a str,
    pub coupon: i64,
    pub clients: usize,
    pub requests: i64,
    /// Measure read lag on every n-th win (0: never).
    pub lag_every: i64,
}

pub async fn run(http: &HttpClient, target: Target<'_>) -> anyhow::Result<Rush> {
    let next_user = Arc::new(AtomicI64::new(1));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..target.clients {
        let http = http.clone();
        let next_user = next_user.clone();
        let base = target.command_urls[client % target.command_urls.len()].clone();
        let url = format!("{base}/v1/coupons/{}/issue", target.coupon);
        let query = target.query_url.to_owned();
        let (requests, lag_every) = (target.requests, target.lag_every);
        tasks.push(tokio::spawn(async move {
            let mut rush = Rush::empty();
            let mut lag_probes = Vec::new();
            loop {
                let user = next_user.fetch_add(1, Ordering::Relaxed);
                if user > requests {
                    break;
                }
                let sent = Instant::now();
                let request = Request::builder()
                    .method(Method::POST)
                    .uri(&url)
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(format!(r#"{{"userId":{user}}}"#))))
                    .expect("request");
                let Ok(response) = http.request(request).await else {
                    rush.other += 1;
                    continue;
                };
                let status = response.status();
                let token = response
                    .headers()
                    .get("consistency-token")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                if let Some(parsed) = token
                    .as_deref()
                    .and_then(|v| v.parse::<events::ConsistencyToken>().ok())
                {
                    rush.last_position = rush.last_position.max(parsed.position);
                }
                let _ = response.into_body().collect().await;
                let acked = Instant::now();
                rush.latencies
                    .record((acked - sent).as_micros() as u64)
                    .expect("latency fits");
                match status {
                    StatusCode::CREATED => {
                        rush.created += 1;
                        if lag_every > 0
                            && rush.created % lag_every == 0
                            && let Some(token) = token
                        {
                            let http = http.clone();
                            let url = format!("{query}/v1/users/{user}/coupons");
                            lag_probes.push(tokio::spawn(visible_after(http, url, token, acked)));
                        }
                    }
                    StatusCode::CONFLICT => rush.sold_out += 1,
                    _ => rush.other += 1,
                }
            }
            rush.elapsed = started.elapsed();
            for probe in lag_probes {
                if let Ok(Some(lag)) = probe.await {
                    rush.lag.record(lag.as_micros() as u64).expect("lag fits");
                }
            }
            rush
        }));
    }
    let mut total = Rush::empty();
    for task in tasks {
        total.add(task.await?)?;
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

/// Reads a user's coupons with the win's consistency token (the query API waits until its
/// read model has applied the write, and then bypasses its short-lived caches) until the
/// coupon shows; None if it never does within 30 s.
async fn visible_after(
    http: HttpClient,
    url: String,
    token: String,
    acked: Instant,
) -> Option<Duration> {
    while acked.elapsed() < Duration::from_secs(30) {
        let (status, body) = get(&http, &url, Some(&token)).await.ok()?;
        if status == StatusCode::OK && body.contains("userCouponId") {
            return Some(acked.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    None
}

impl Rush {
    fn empty() -> Self {
        Self {
            elapsed: Duration::ZERO,
            latencies: Histogram::new(3).expect("histogram"),
            created: 0,
            sold_out: 0,
            other: 0,
            last_position: 0,
            lag: Histogram::new(3).expect("histogram"),
        }
    }

    fn add(&mut self, other: Rush) -> anyhow::Result<()> {
        self.latencies.add(other.latencies)?;
        self.lag.add(other.lag)?;
        self.created += other.created;
        self.sold_out += other.sold_out;
        self.other += other.other;
        self.last_position = self.last_position.max(other.last_position);
        Ok(())
    }

    pub fn requests_per_second(&self) -> f64 {
        (self.created + self.sold_out + self.other) as f64 / self.elapsed.as_secs_f64()
    }
}

pub async fn post(
    http: &HttpClient,
    url: &str,
    bearer: Option<&str>,
    body: String,
) -> anyhow::Result<(StatusCode, String)> {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(url)
        .header("content-type", "application/json");
    if let Some(token) = bearer {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = http
        .request(request.body(Full::new(Bytes::from(body)))?)
        .await?;
    let status = response.status();
    let bytes = response.into_body().collect().await?.to_bytes();
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}

pub async fn get(
    http: &HttpClient,
    url: &str,
    consistency_token: Option<&str>,
) -> anyhow::Result<(StatusCode, String)> {
    let mut request = Request::builder().method(Method::GET).uri(url);
    if let Some(token) = consistency_token {
        request = request.header("consistency-token", token);
    }
    let response = http.request(request.body(Full::new(Bytes::new()))?).await?;
    let status = response.status();
    let bytes = response.into_body().collect().await?.to_bytes();
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}

/// Registers a fixed-discount coupon of `quantity` and returns its id.
pub async fn register_coupon(
    http: &HttpClient,
    command_url: &str,
    admin_token: &str,
    quantity: i64,
) -> anyhow::Result<i64> {
    let (status, body) = post(
        http,
        &format!("{command_url}/v1/coupons"),
        Some(admin_token),
        format!(
            r#"{{"name":"bench","discount":{{"kind":"fixed","value":1000}},"totalQuantity":{quantity}}}"#
        ),
    )
    .await?;
    anyhow::ensure!(
        status == StatusCode::CREATED,
        "cannot register the coupon: {status} {body}"
    );
    let coupon: serde_json::Value = serde_json::from_str(&body)?;
    coupon["couponId"]
        .as_i64()
        .ok_or_else(|| anyhow::anyhow!("no couponId in {body}"))
}

pub fn ms(histogram: &Histogram<u64>, quantile: f64) -> f64 {
    histogram.value_at_quantile(quantile) as f64 / 1000.0
}
