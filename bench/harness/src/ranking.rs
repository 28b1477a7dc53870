//! `bench ranking`: the original service's top-5 query over 2,000,000 `daily_sales` rows in
//! MariaDB, without and with the covering index, against `GET /v1/rankings/top-products`
//! served by the query API from Redis and moka. Needs `scripts/services.sh up`.

use crate::rush::{self, ms};
use chrono::{Days, NaiveDate, Utc};
use hdrhistogram::Histogram;
use http_body_util::BodyExt;
use hyper::StatusCode;
use read_side::{QueryState, RedisReader, StreamProgress};
use sqlx::mysql::MySqlPoolOptions;
use sqlx::{AssertSqlSafe, MySqlPool};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

const DATABASE: &str = "shop_bench_ranking";
const ROWS_PER_INSERT: usize = 2_000;
const LOADERS: usize = 4;

pub struct Options {
    pub rows: usize,
    pub days: usize,
    pub sql_runs: usize,
    pub requests: usize,
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// The seed's query, verbatim but for the table name.
fn top5(table: &str) -> String {
    format!(
        "SELECT product_id, SUM(sold_quantity) FROM {table} WHERE sold_date BETWEEN ? AND ? \
         GROUP BY product_id ORDER BY SUM(sold_quantity) DESC LIMIT 5"
    )
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    let server = env_or("SHOP_BENCH_MYSQL_URL", "mysql://shop:shop@127.0.0.1:3306");
    let redis_url = env_or("SHOP_BENCH_REDIS_URL", "redis://127.0.0.1:6379");
    let database_url = format!("{server}/{DATABASE}");
    let admin = MySqlPool::connect(&server).await?;
    sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {DATABASE}")))
        .execute(&admin)
        .await?;
    // Creates the database and the read-model schema (daily_sales with its covering index).
    let any_pool = projections::open_read_db(&database_url).await?;
    let pool = MySqlPoolOptions::new()
        .max_connections(LOADERS as u32)
        .connect(&database_url)
        .await?;

    let today = Utc::now()
        .with_timezone(&read_side::DEFAULT_TIMEZONE)
        .date_naive();
    let first = today
        .checked_sub_days(Days::new(options.days as u64 - 1))
        .ok_or_else(|| anyhow::anyhow!("--days too large"))?;
    let products = options.rows / options.days;
    println!(
        "loading {} daily_sales rows ({} days x {products} products) into MariaDB...",
        products * options.days,
        options.days
    );
    let started = Instant::now();
    load(&pool, first, options.days, products).await?;
    println!("  loaded in {:.1} s", started.elapsed().as_secs_f64());
    // The seed's table shape: a surrogate key and, at first, no index on the columns.
    sqlx::raw_sql(
        "CREATE TABLE sales_plain (id BIGINT AUTO_INCREMENT PRIMARY KEY, sold_date DATE NOT NULL, \
         product_id BIGINT NOT NULL, sold_quantity BIGINT NOT NULL) ENGINE = InnoDB; \
         INSERT INTO sales_plain (sold_date, product_id, sold_quantity) \
         SELECT sold_date, product_id, sold_quantity FROM daily_sales ORDER BY product_id, sold_date; \
         ANALYZE TABLE daily_sales, sales_plain",
    )
    .execute(&pool)
    .await?;

    let three = (
        day(today.checked_sub_days(Days::new(2)).unwrap_or(today)),
        day(today),
    );
    let thirty = (day(first), day(today));
    let mut rows = Vec::new();
    for (label, table) in [("no index (id PK only)", "sales_plain")] {
        rows.push(time_sql(&pool, label, table, &three, "3 days", options.sql_runs).await?);
        rows.push(time_sql(&pool, label, table, &thirty, "30 days", options.sql_runs).await?);
    }
    sqlx::raw_sql(
        "ALTER TABLE sales_plain ADD INDEX covering (sold_date, product_id, sold_quantity)",
    )
    .execute(&pool)
    .await?;
    for (label, table) in [
        ("covering index", "sales_plain"),
        ("daily_sales (PK + covering)", "daily_sales"),
    ] {
        rows.push(time_sql(&pool, label, table, &three, "3 days", options.sql_runs).await?);
        rows.push(time_sql(&pool, label, table, &thirty, "30 days", options.sql_runs).await?);
    }
    println!(
        "\n{:<30} {:>8} {:>11} {:>11}",
        "SQL top-5 (seed's query)", "window", "median ms", "p99 ms"
    );
    for row in &rows {
        println!(
            "{:<30} {:>8} {:>11.2} {:>11.2}",
            row.label, row.window, row.median_ms, row.p99_ms
        );
    }

    let prefix = format!("b{}:", uuid::Uuid::new_v4().simple());
    let outcome = api(
        &any_pool,
        &redis_url,
        &prefix,
        first,
        options.days,
        products,
        &options,
    )
    .await;
    clean_redis(&redis_url, &prefix).await;
    let api = outcome?;
    let indexed = rows
        .iter()
        .find(|r| r.label == "covering index" && r.window == "3 days")
        .map_or(f64::NAN, |r| r.median_ms);
    println!(
        "\n{:<44} {:>9} {:>9} {:>9}",
        "GET /v1/rankings/top-products?days=3&limit=5", "p50 ms", "p99 ms", "max ms"
    );
    for (label, histogram) in [
        ("HTTP, one keep-alive connection, sequential", &api.http),
        ("in-process (router.oneshot, no socket)", &api.in_process),
        ("cold: Redis top-100 of 3 days + names (SQL)", &api.cold),
    ] {
        println!(
            "{:<44} {:>9.3} {:>9.3} {:>9.3}",
            label,
            ms(histogram, 0.50),
            ms(histogram, 0.99),
            histogram.max() as f64 / 1000.0
        );
    }
    println!(
        "\nindexed SQL median {indexed:.2} ms / API p99 {:.3} ms = {:.0}x; / API p50 = {:.0}x \
         (HTTP req/s {:.0})",
        ms(&api.http, 0.99),
        indexed / ms(&api.http, 0.99),
        indexed / ms(&api.http, 0.50),
        api.http_per_second
    );
    anyhow::ensure!(api.same_answer, "the API's top 5 differs from SQL's");
    sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {DATABASE}")))
        .execute(&admin)
        .await?;
    Ok(())
}

fn day(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// `days x products` rows, quantities from a fixed pseudo-random sequence, inserted by a
/// few connections in parallel.
async fn load(
    pool: &MySqlPool,
    first: NaiveDate,
    days: usize,
    products: usize,
) -> anyhow::Result<()> {
    let total = days * products;
    let chunks: Vec<(usize, usize)> = (0..total)
        .step_by(ROWS_PER_INSERT)
        .map(|start| (start, (start + ROWS_PER_INSERT).min(total)))
        .collect();
    let chunks = Arc::new(std::sync::Mutex::new(chunks));
    let mut tasks = Vec::new();
    for _ in 0..LOADERS {
        let (pool, chunks) = (pool.clone(), chunks.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let next = chunks
                    .lock()
                    .map_err(|_| anyhow::anyhow!("poisoned"))?
                    .pop();
                let Some((start, end)) = next else {
                    return Ok::<_, anyhow::Error>(());
                };
                let mut sql = String::from(
                    "INSERT INTO daily_sales (sold_date, product_id, sold_quantity) VALUES ",
                );
                for row in start..end {
                    let date = first
                        .checked_add_days(Days::new((row / products) as u64))
                        .unwrap_or(first);
                    let product = row % products + 1;
                    if row > start {
                        sql.push(',');
                    }
                    sql.push_str(&format!(
                        "('{}',{product},{})",
                        day(date),
                        quantity(row as u64)
                    ));
                }
                sqlx::raw_sql(AssertSqlSafe(sql)).execute(&pool).await?;
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// 1..=100, skewed so a few products sell far more (like a real catalog).
fn quantity(row: u64) -> u64 {
    let mixed = row.wrapping_mul(6_364_136_223_846_793_005).rotate_left(17);
    let base = mixed % 100 + 1;
    if mixed.is_multiple_of(97) {
        base * 20
    } else {
        base
    }
}

struct SqlRow {
    label: &'static str,
    window: &'static str,
    median_ms: f64,
    p99_ms: f64,
}

async fn time_sql(
    pool: &MySqlPool,
    label: &'static str,
    table: &str,
    (from, to): &(String, String),
    window: &'static str,
    runs: usize,
) -> anyhow::Result<SqlRow> {
    let sql = top5(table);
    let mut times = Vec::with_capacity(runs);
    for run in 0..=runs {
        let started = Instant::now();
        let rows = sqlx::query(AssertSqlSafe(sql.clone()))
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?;
        anyhow::ensure!(
            rows.len() == 5,
            "the top 5 came back with {} rows",
            rows.len()
        );
        // The first run warms the buffer pool.
        if run > 0 {
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    Ok(SqlRow {
        label,
        window,
        median_ms: at(0.5),
        p99_ms: at(0.99),
    })
}

struct ApiTimes {
    http: Histogram<u64>,
    http_per_second: f64,
    in_process: Histogram<u64>,
    cold: Histogram<u64>,
    same_answer: bool,
}

/// Fills the Redis day keys as the projector would, serves the query API and times it.
async fn api(
    pool: &sqlx::AnyPool,
    redis_url: &str,
    prefix: &str,
    first: NaiveDate,
    days: usize,
    products: usize,
    options: &Options,
) -> anyhow::Result<ApiTimes> {
    let client = redis::Client::open(redis_url)?;
    let mut redis = client.get_multiplexed_async_connection().await?;
    for offset in 0..days {
        let date = first
            .checked_add_days(Days::new(offset as u64))
            .unwrap_or(first);
        let mut pipe = redis::pipe();
        let key = format!("{prefix}sales:{}", day(date));
        let mut members = Vec::with_capacity(1_000);
        for product in 1..=products {
            let row = (offset * products + product - 1) as u64;
            members.push((quantity(row), product));
            if members.len() == 1_000 || product == products {
                pipe.zadd_multiple(&key, &members).ignore();
                members.clear();
            }
        }
        pipe.query_async::<()>(&mut redis).await?;
    }
    redis::cmd("SET")
        .arg(format!("{prefix}sales:ready"))
        .arg(1)
        .query_async::<()>(&mut redis)
        .await?;
    // A few products so the answer carries names; the rest are nameless in this bench.
    sqlx::query("INSERT INTO products (product_id, name, price, stock) VALUES (1, 'one', 1, 1)")
        .execute(pool)
        .await?;

    let state = || async {
        let reader = RedisReader::new(redis_url, prefix)?;
        for _ in 0..500 {
            if reader.is_connected() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok::<_, anyhow::Error>(
            QueryState::new(pool.clone(), Arc::new(StreamProgress::new(pool.clone())))
                .with_redis(reader),
        )
    };
    let serving = state().await?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!(
        "http://{}/v1/rankings/top-products?days=3&limit=5",
        listener.local_addr()?
    );
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(api_common::serve::serve(
        listener,
        read_side::router(serving.clone()),
        shutdown.clone(),
    ));

    // The API's answer must be SQL's (ties aside, which this data has none of at the top).
    let http = rush::client(1);
    let (status, body) = rush::get(&http, &url, None).await?;
    anyhow::ensure!(status == StatusCode::OK, "{status} {body}");
    let answer: serde_json::Value = serde_json::from_str(&body)?;
    let sql_state = QueryState::new(pool.clone(), Arc::new(StreamProgress::new(pool.clone())));
    let sql_answer = in_process(&read_side::router(sql_state)).await?;
    let same_answer = answer["items"] == sql_answer["items"];

    let mut http_times = Histogram::<u64>::new(3)?;
    for _ in 0..1_000 {
        rush::get(&http, &url, None).await?;
    }
    let started = Instant::now();
    for _ in 0..options.requests {
        let sent = Instant::now();
        let (status, _) = rush::get(&http, &url, None).await?;
        anyhow::ensure!(status == StatusCode::OK, "{status}");
        http_times.record(sent.elapsed().as_micros() as u64)?;
    }
    let http_per_second = options.requests as f64 / started.elapsed().as_secs_f64();

    let mut in_process_times = Histogram::<u64>::new(3)?;
    let router = read_side::router(serving.clone());
    for _ in 0..options.requests {
        let sent = Instant::now();
        in_process(&router).await?;
        in_process_times.record(sent.elapsed().as_micros() as u64)?;
    }

    // A miss in moka: Redis ranks the window (threshold algorithm), then the names.
    let mut cold = Histogram::<u64>::new(3)?;
    for _ in 0..20 {
        let fresh = read_side::router(state().await?);
        let sent = Instant::now();
        in_process(&fresh).await?;
        cold.record(sent.elapsed().as_micros() as u64)?;
    }
    anyhow::ensure!(
        serving.cache_stats().redis_hits > 0,
        "the API never read Redis: {:?}",
        serving.cache_stats()
    );
    shutdown.cancel();
    server.await??;
    Ok(ApiTimes {
        http: http_times,
        http_per_second,
        in_process: in_process_times,
        cold,
        same_answer,
    })
}

/// One request through the router without a socket.
async fn in_process(router: &axum::Router) -> anyhow::Result<serde_json::Value> {
    let request = axum::http::Request::get("/v1/rankings/top-products?days=3&limit=5")
        .body(axum::body::Body::empty())?;
    let response = router.clone().oneshot(request).await?;
    anyhow::ensure!(response.status() == StatusCode::OK, "{}", response.status());
    let bytes = response.into_body().collect().await?.to_bytes();
    Ok(serde_json::from_slice(&bytes)?)
}

async fn clean_redis(url: &str, prefix: &str) {
    let Ok(client) = redis::Client::open(url) else {
        return;
    };
    let Ok(mut redis) = client.get_multiplexed_async_connection().await else {
        return;
    };
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut redis)
        .await
        .unwrap_or_default();
    if !keys.is_empty() {
        let _: Result<(), _> = redis::cmd("DEL").arg(keys).query_async(&mut redis).await;
    }
}
