//! `shop rebuild all` dying (a test-only failpoint aborts the process, as a SIGKILL would)
//! after filling its shadow, and again inside its swap transaction: none of it shows in
//! the live read models, which the live projectors keep moving, and the next rebuild
//! starts (the dead one's lock went with it, its shadow is dropped) and completes.
//! Embedded (SQLite) and full (MySQL, Kafka projectors). Needs `--features failpoints`.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use crate::cluster;
use crate::embedded_process;
use crate::rebuild_support;

use projections::open_read_db;
use rebuild_support::{Api, converge, dump, project_from_scratch};
use reqwest::Client;
use shop::Settings;
use sqlx::AnyPool;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CRASH_POINTS: [&str; 2] = ["rebuild-before-swap", "rebuild-before-swap-commit"];
const DAMAGE: i64 = 1_000_000;
const SIGABRT: i32 = 6;

async fn balance(live: &AnyPool, user: i64) -> i64 {
    sqlx::query_scalar("SELECT balance FROM balances WHERE user_id = ?")
        .bind(user)
        .fetch_one(live)
        .await
        .unwrap()
}

/// Crashes a rebuild at each point, checks nothing of it shows and the live projector is
/// not held, then rebuilds for real and compares with a from-scratch projection.
async fn crash_then_rebuild(
    api: &Api,
    live: &AnyPool,
    settings: &Settings,
    fresh_url: &str,
    mysql: bool,
    rebuild: impl Fn(&[(&str, &str)]) -> Output,
) {
    api.workload().await;
    // Caught up first, so that any later change to the damaged rows is the rebuild's.
    let caught_up = project_from_scratch(settings, &format!("{fresh_url}_before")).await;
    converge(live, mysql, &dump(&caught_up, mysql).await).await;
    let mut damaged = Vec::new();
    for user in 1..=5 {
        // Only a completed rebuild puts this right.
        sqlx::query("UPDATE balances SET balance = balance + ? WHERE user_id = ?")
            .bind(DAMAGE)
            .bind(user)
            .execute(live)
            .await
            .unwrap();
        damaged.push(balance(live, user).await);
    }
    for point in CRASH_POINTS {
        let failpoints = format!("{point}=return");
        let output = rebuild(&[("FAILPOINTS", failpoints.as_str())]);
        assert_eq!(
            output.status.signal(),
            Some(SIGABRT),
            "the rebuild should have died at {point}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        for user in 1..=5 {
            assert_eq!(
                balance(live, user).await,
                damaged[(user - 1) as usize],
                "a rebuild that died at {point} changed the live balance of {user}"
            );
        }
        // The live projector is not held by the dead rebuild's locks.
        let before = balance(live, 6).await;
        api.charge(6, 1).await;
        let deadline = Instant::now() + Duration::from_secs(30);
        while balance(live, 6).await != before + 1 {
            assert!(
                Instant::now() < deadline,
                "the live projector stalled after {point}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let output = rebuild(&[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the rebuild after the crashes failed: {stdout}"
    );
    assert!(stdout.contains("events/s"), "{stdout}");

    let fresh = project_from_scratch(settings, fresh_url).await;
    converge(live, mysql, &dump(&fresh, mysql).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_a_rebuild_that_dies_changes_nothing_and_the_next_one_completes() {
    let data = tempfile::tempdir().unwrap();
    let node = embedded_process::start(data.path(), &[]).await;
    let api = Api {
        client: Client::new(),
        command: node.command.clone(),
        admin_token: embedded_process::ADMIN_TOKEN.to_owned(),
    };
    let settings = Settings::embedded_in(data.path());
    let live = open_read_db(&settings.read_model_url()).await.unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let fresh_url = format!("sqlite://{}", scratch.path().join("fresh.db").display());
    let database_url = settings.database_url.expose().to_owned();
    crash_then_rebuild(&api, &live, &settings, &fresh_url, false, |env| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_shop"));
        command
            .args(["rebuild", "all"])
            .env("SHOP_DATABASE_URL", &database_url)
            .env("SHOP_LOG", "error");
        for (key, value) in env {
            command.env(key, value);
        }
        command.output().unwrap()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn full_a_rebuild_that_dies_changes_nothing_and_the_next_one_completes() {
    let cluster = Arc::new(cluster::Cluster::new());
    cluster.migrate();
    let command = cluster.command_api().await;
    let _relay = cluster.relay();
    let _projector = cluster.projector();
    let api = Api {
        client: Client::new(),
        command: command.url.clone().unwrap(),
        admin_token: cluster::ADMIN_TOKEN.to_owned(),
    };
    let mut settings = Settings::embedded_in(std::path::Path::new("."));
    settings.database_url = cluster.names.database_url.clone().into();
    let live = open_read_db(settings.database_url.expose()).await.unwrap();
    let fresh_url = format!("{}_fresh", settings.database_url.expose());
    crash_then_rebuild(&api, &live, &settings, &fresh_url, true, |env| {
        cluster.run(&["rebuild", "all"], env)
    })
    .await;
}
