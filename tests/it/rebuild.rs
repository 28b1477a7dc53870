//! `shop rebuild all` as an operator runs it, beside live services: the read models are
//! corrupted on purpose, a writer and a reader keep going during the rebuild, and the
//! result must equal a from-scratch projection of the store once the live projectors
//! caught up with what came after the swap. Embedded (SQLite) and full (MySQL, Kafka
//! projectors, and the Redis views the query API answers from) each.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use crate::cluster;
use crate::embedded_process;
use crate::rebuild_support;

use projections::open_read_db;
use rebuild_support::{Api, converge, dump, keep_reading, keep_writing, project_from_scratch};
use redis::AsyncCommands;
use reqwest::Client;
use shop::Settings;
use sqlx::AnyPool;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Damage no projector would repair by itself: only a rebuild puts these right.
async fn corrupt(live: &AnyPool, products: &[i64]) {
    for statement in [
        "UPDATE balances SET balance = balance + 1000000 WHERE user_id <= 5".to_owned(),
        format!("DELETE FROM products WHERE product_id = {}", products[2]),
        "UPDATE coupons SET issued_quantity = 0".to_owned(),
        "UPDATE user_coupons SET status = 'USED'".to_owned(),
        "DELETE FROM order_lines".to_owned(),
        "UPDATE orders SET status = 'PENDING'".to_owned(),
        "UPDATE daily_sales SET sold_quantity = sold_quantity * 7".to_owned(),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(live)
            .await
            .unwrap();
    }
}

/// Runs `rebuild` while a writer charges points and a reader reads (the products that
/// were not damaged); checks both kept going and the command reported its figures.
async fn rebuild_under_load(
    api: Arc<Api>,
    query: String,
    products: &[i64],
    rebuild: impl FnOnce() -> Output + Send + 'static,
) -> String {
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let writer = keep_writing(api.clone(), stop.clone());
    let reader = keep_reading(
        Client::new(),
        query,
        products[..2].to_vec(),
        stop.clone(),
        reads.clone(),
    );
    let output = tokio::task::spawn_blocking(rebuild).await.unwrap();
    stop.store(true, Ordering::Relaxed);
    let charged = writer.await.unwrap();
    reader.await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "shop rebuild all failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let reads = reads.load(Ordering::Relaxed);
    eprintln!("{stdout}during the rebuild: {charged} charges, {reads} reads");
    assert!(charged > 0 && reads > 0);
    assert!(stdout.contains("events/s"), "{stdout}");
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_rebuild_all_replaces_damaged_read_models_while_traffic_goes_on() {
    let data = tempfile::tempdir().unwrap();
    let node = embedded_process::start(data.path(), &[]).await;
    let api = Arc::new(Api {
        client: Client::new(),
        command: node.command.clone(),
        admin_token: embedded_process::ADMIN_TOKEN.to_owned(),
    });
    let products = api.workload().await;
    let settings = Settings::embedded_in(data.path());
    let live = open_read_db(&settings.read_model_url()).await.unwrap();
    corrupt(&live, &products).await;

    let database_url = settings.database_url.expose().to_owned();
    let stdout = rebuild_under_load(api, node.query.clone(), &products, move || {
        Command::new(env!("CARGO_BIN_EXE_shop"))
            .args(["rebuild", "all"])
            .env("SHOP_DATABASE_URL", database_url)
            .env("SHOP_LOG", "warn")
            .output()
            .unwrap()
    })
    .await;
    assert!(
        stdout.contains("balances, catalog, coupons, orders, sales"),
        "{stdout}"
    );
    assert!(
        !data.path().join("shop-read.db.rebuild").exists(),
        "the shadow file is removed"
    );

    let scratch = tempfile::tempdir().unwrap();
    let fresh = project_from_scratch(
        &settings,
        &format!("sqlite://{}", scratch.path().join("fresh.db").display()),
    )
    .await;
    converge(&live, false, &dump(&fresh, false).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn full_rebuild_all_replaces_damaged_read_models_under_kafka_projectors() {
    let cluster = Arc::new(cluster::Cluster::new());
    cluster.migrate();
    let command = cluster.command_api().await;
    let _relay = cluster.relay();
    let _projector = cluster.projector();
    let query = cluster.query_api().await;
    let api = Arc::new(Api {
        client: Client::new(),
        command: command.url.clone().unwrap(),
        admin_token: cluster::ADMIN_TOKEN.to_owned(),
    });
    let products = api.workload().await;
    let mut settings = Settings::embedded_in(std::path::Path::new("."));
    settings.database_url = cluster.names.database_url.clone().into();
    let live = open_read_db(settings.database_url.expose()).await.unwrap();
    corrupt(&live, &products).await;
    let prefix = cluster.names.redis_prefix.clone();
    let mut redis = redis::Client::open(cluster::redis_url())
        .unwrap()
        // The client's 500 ms default is too short for a loaded CI machine: a slow
        // answer is not what these tests are about.
        .get_multiplexed_async_connection_with_config(
            &redis::AsyncConnectionConfig::new()
                .set_response_timeout(Some(std::time::Duration::from_secs(10))),
        )
        .await
        .unwrap();
    let _: () = redis
        .hset(format!("{prefix}balance:1"), "balance", 424_242)
        .await
        .unwrap();
    let _: () = redis
        .hset(format!("{prefix}order:999999"), "status", "COMPLETED")
        .await
        .unwrap();

    let runner = cluster.clone();
    let stdout = rebuild_under_load(api, query.url.clone().unwrap(), &products, move || {
        runner.run(&["rebuild", "all"], &[])
    })
    .await;
    assert!(
        stdout.contains("balances, catalog, coupons, orders, sales"),
        "{stdout}"
    );
    let leftover: Option<String> = sqlx::query_scalar(
        "SELECT schema_name FROM information_schema.schemata WHERE schema_name = ?",
    )
    .bind(format!(
        "{}_rebuild",
        settings.database_url.expose().rsplit('/').next().unwrap()
    ))
    .fetch_optional(&live)
    .await
    .unwrap();
    assert_eq!(leftover, None, "the shadow database is dropped");

    assert!(stdout.contains("rebuilt the Redis views"), "{stdout}");
    let bogus: bool = redis.exists(format!("{prefix}order:999999")).await.unwrap();
    assert!(!bogus, "a view with no events behind it is gone");

    let fresh = project_from_scratch(
        &settings,
        &format!("{}_fresh", settings.database_url.expose()),
    )
    .await;
    converge(&live, true, &dump(&fresh, true).await).await;
    // The query API answers balances from the Redis views first: they agree too.
    let balances: Vec<(i64, i64)> = sqlx::query_as("SELECT user_id, balance FROM balances")
        .fetch_all(&fresh)
        .await
        .unwrap();
    for (user, balance) in balances {
        cluster
            .eventually(
                &query,
                &format!("/v1/users/{user}/points"),
                std::time::Duration::from_secs(30),
                |body| body["balance"] == balance,
            )
            .await;
    }
}
