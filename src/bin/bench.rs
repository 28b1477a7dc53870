//! `cargo run --release --bin bench -- coupon-rush`: starts the embedded service, rushes
//! one hot coupon with many concurrent HTTP clients and prints throughput, latency
//! percentiles and the count issued, for the mailbox executor (group commit) and the naive
//! direct one (one optimistic append per command) side by side.

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use shop::settings::{ExecutorStrategy, SqliteSync};
use shop::{Application, Settings};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// Distinct users rush one coupon; 3/4 of them can win.
    CouponRush {
        /// Concurrent HTTP clients (each a keep-alive connection).
        #[arg(long, default_value_t = 64)]
        clients: usize,
        /// Issue requests per run of the mailbox executor.
        #[arg(long, default_value_t = 40_000)]
        requests: i64,
        /// Issue requests per run of the direct executor: it manages a few hundred a
        /// second under this contention, so a full-size run would take minutes.
        #[arg(long, default_value_t = 2_000)]
        direct_requests: i64,
        /// `both`, `mailbox` or `direct`.
        #[arg(long, default_value = "both")]
        strategy: String,
        /// SQLite fsync policy for the run.
        #[arg(long, default_value = "full")]
        sync: String,
    },
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

struct RunResult {
    label: &'static str,
    elapsed: Duration,
    latencies: Histogram<u64>,
    created: i64,
    sold_out: i64,
    other: i64,
    issued_in_read_model: i64,
    total_quantity: i64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Scenario::CouponRush {
        clients,
        requests,
        direct_requests,
        strategy,
        sync,
    } = Cli::parse().scenario;
    let sync = match sync.as_str() {
        "full" => SqliteSync::Full,
        "normal" => SqliteSync::Normal,
        other => bail!("--sync must be full or normal, not {other}"),
    };
    let strategies: &[(&'static str, ExecutorStrategy)] = match strategy.as_str() {
        "both" => &[
            ("mailbox (group commit)", ExecutorStrategy::Mailbox),
            ("direct (naive optimistic)", ExecutorStrategy::Direct),
        ],
        "mailbox" => &[("mailbox (group commit)", ExecutorStrategy::Mailbox)],
        "direct" => &[("direct (naive optimistic)", ExecutorStrategy::Direct)],
        other => bail!("--strategy must be both, mailbox or direct, not {other}"),
    };
    println!(
        "coupon rush: distinct users rush one coupon of 3/4 as many as requests, \
         {clients} concurrent clients, SQLite synchronous={sync:?}"
    );
    let mut results = Vec::new();
    for &(label, executor) in strategies {
        let requests = match executor {
            ExecutorStrategy::Mailbox => requests,
            ExecutorStrategy::Direct => direct_requests,
        };
        results.push(run(label, executor, sync, clients, requests).await?);
    }
    print_table(&results);
    for result in &results {
        if result.created != result.total_quantity
            || result.issued_in_read_model != result.total_quantity
        {
            bail!("{}: not exact", result.label);
        }
    }
    Ok(())
}

async fn run(
    label: &'static str,
    executor: ExecutorStrategy,
    sync: SqliteSync,
    clients: usize,
    requests: i64,
) -> anyhow::Result<RunResult> {
    let dir = tempfile::tempdir()?;
    let mut settings = Settings::embedded_in(dir.path());
    settings.executor = executor;
    settings.sqlite_sync = sync;
    let shutdown = CancellationToken::new();
    let app = Application::build(settings, shutdown.clone()).await?;
    let command = app.command_url();
    let query = app.query_url();
    let token = app.admin_token().expose().to_owned();
    let running = tokio::spawn(app.run_until_stopped());

    let http: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(clients)
        .build_http();
    let total_quantity = requests * 3 / 4;
    let (status, body) = send(
        &http,
        Method::POST,
        &format!("{command}/v1/coupons"),
        Some(&token),
        format!(
            r#"{{"name":"bench","discount":{{"kind":"fixed","value":1000}},"totalQuantity":{total_quantity}}}"#
        ),
    )
    .await?;
    if status != StatusCode::CREATED {
        bail!("cannot register the coupon: {status} {body}");
    }
    let coupon: serde_json::Value = serde_json::from_str(&body)?;
    let coupon = coupon["couponId"].as_i64().context("couponId")?;

    let next_user = Arc::new(AtomicI64::new(1));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let http = http.clone();
        let next_user = next_user.clone();
        let url = format!("{command}/v1/coupons/{coupon}/issue");
        tasks.push(tokio::spawn(async move {
            let mut latencies = Histogram::<u64>::new(3).expect("histogram");
            let (mut created, mut sold_out, mut other, mut last_token) = (0i64, 0i64, 0i64, 0i64);
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
                match http.request(request).await {
                    Ok(response) => {
                        let status = response.status();
                        if let Some(token) = response
                            .headers()
                            .get("consistency-token")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.parse::<events::ConsistencyToken>().ok())
                            .map(|token| token.position)
                        {
                            last_token = last_token.max(token);
                        }
                        let _ = response.into_body().collect().await;
                        latencies
                            .record(sent.elapsed().as_micros() as u64)
                            .expect("latency fits");
                        match status {
                            StatusCode::CREATED => created += 1,
                            StatusCode::CONFLICT => sold_out += 1,
                            _ => other += 1,
                        }
                    }
                    Err(_) => other += 1,
                }
            }
            (latencies, created, sold_out, other, last_token)
        }));
    }
    let mut latencies = Histogram::<u64>::new(3)?;
    let (mut created, mut sold_out, mut other, mut last_token) = (0, 0, 0, 0);
    for task in tasks {
        let (h, c, s, o, t) = task.await?;
        latencies.add(h)?;
        created += c;
        sold_out += s;
        other += o;
        last_token = last_token.max(t);
    }
    let elapsed = started.elapsed();

    let (status, body) =
        get_with_token(&http, &format!("{query}/v1/coupons/{coupon}"), last_token).await?;
    if status != StatusCode::OK {
        bail!("cannot read the coupon back: {status} {body}");
    }
    let view: serde_json::Value = serde_json::from_str(&body)?;
    let issued_in_read_model = view["issuedQuantity"].as_i64().context("issuedQuantity")?;

    shutdown.cancel();
    running.await??;
    Ok(RunResult {
        label,
        elapsed,
        latencies,
        created,
        sold_out,
        other,
        issued_in_read_model,
        total_quantity,
    })
}

async fn send(
    http: &HttpClient,
    method: Method,
    url: &str,
    bearer: Option<&str>,
    body: String,
) -> anyhow::Result<(StatusCode, String)> {
    let mut request = Request::builder()
        .method(method)
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

async fn get_with_token(
    http: &HttpClient,
    url: &str,
    token: i64,
) -> anyhow::Result<(StatusCode, String)> {
    let request = Request::builder()
        .method(Method::GET)
        .uri(url)
        .header("consistency-token", token)
        .body(Full::new(Bytes::new()))?;
    let response = http.request(request).await?;
    let status = response.status();
    let bytes = response.into_body().collect().await?.to_bytes();
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}

fn print_table(results: &[RunResult]) {
    println!(
        "\n{:<28} {:>10} {:>9} {:>9} {:>9} {:>9} {:>8} {:>9} {:>6} {:>10}",
        "executor",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "201",
        "409",
        "other",
        "read model"
    );
    for r in results {
        let total = (r.created + r.sold_out + r.other) as f64;
        let ms = |q: f64| r.latencies.value_at_quantile(q) as f64 / 1000.0;
        println!(
            "{:<28} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>8} {:>9} {:>6} {:>10}",
            r.label,
            total / r.elapsed.as_secs_f64(),
            ms(0.50),
            ms(0.95),
            ms(0.99),
            r.latencies.max() as f64 / 1000.0,
            r.created,
            r.sold_out,
            r.other,
            format!("{}/{}", r.issued_in_read_model, r.total_quantity),
        );
    }
}
