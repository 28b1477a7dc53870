//! The coupon rush against the full stack as separate processes: two `shop command-api`
//! nodes on one MySQL, the relay, the projector and the query API, over the MariaDB, Kafka
//! and Redis of `scripts/services.sh up`. Uses the release `shop` binary beside this one.

use crate::embedded::Outcome;
use crate::rush::{self, Target};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ADMIN_TOKEN: &str = "bench-admin-token";

struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

pub async fn run(clients: usize, requests: i64) -> anyhow::Result<Outcome> {
    let shop = std::env::current_exe()?.with_file_name("shop");
    anyhow::ensure!(
        shop.exists(),
        "{} is missing: cargo build --release --bin shop",
        shop.display()
    );
    let id = uuid::Uuid::new_v4().simple().to_string();
    let mysql = env_or("SHOP_BENCH_MYSQL_URL", "mysql://shop:shop@127.0.0.1:3306");
    let environment = [
        ("SHOP_DATABASE_URL", format!("{mysql}/shop_bench_{id}")),
        (
            "SHOP_KAFKA_BROKERS",
            env_or("SHOP_BENCH_KAFKA_BROKERS", "127.0.0.1:9092"),
        ),
        (
            "SHOP_REDIS_URL",
            env_or("SHOP_BENCH_REDIS_URL", "redis://127.0.0.1:6379"),
        ),
        ("SHOP_KAFKA_TOPIC_PREFIX", format!("b{id}.")),
        ("SHOP_REDIS_PREFIX", format!("b{id}:")),
        ("SHOP_ADMIN_TOKEN", ADMIN_TOKEN.to_owned()),
        ("SHOP_DEMO_DATA", "false".to_owned()),
        ("SHOP_LOG", "warn".to_owned()),
    ];
    let command = |role: &str, extra: Option<(&str, String)>| {
        let mut command = Command::new(&shop);
        command
            .arg(role)
            .envs(environment.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some((key, value)) = extra {
            command.env(key, value);
        }
        command
    };
    anyhow::ensure!(
        command("migrate", None).status()?.success(),
        "shop migrate failed (is scripts/services.sh up?)"
    );
    let mut children = Children(Vec::new());
    let mut command_urls = Vec::new();
    for _ in 0..2 {
        let port = free_port()?;
        let addr = format!("127.0.0.1:{port}");
        children
            .0
            .push(command("command-api", Some(("SHOP_COMMAND_ADDR", addr))).spawn()?);
        command_urls.push(format!("http://127.0.0.1:{port}"));
    }
    let query_port = free_port()?;
    let query_url = format!("http://127.0.0.1:{query_port}");
    children.0.push(
        command(
            "query-api",
            Some(("SHOP_QUERY_ADDR", format!("127.0.0.1:{query_port}"))),
        )
        .spawn()?,
    );
    children.0.push(command("relay", None).spawn()?);
    children.0.push(command("projector", None).spawn()?);

    let http = rush::client(clients);
    for url in command_urls.iter().chain([&query_url]) {
        wait_healthy(&http, url).await?;
    }
    let total_quantity = requests * 3 / 4;
    let coupon =
        rush::register_coupon(&http, &command_urls[0], ADMIN_TOKEN, total_quantity).await?;
    let outcome = rush::run(
        &http,
        Target {
            command_urls: &command_urls,
            query_url: &query_url,
            coupon,
            clients,
            requests,
            lag_every: 100,
        },
    )
    .await?;

    // Read models converge after the rush; wait for the count to settle.
    let url = format!("{query_url}/v1/coupons/{coupon}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut issued_in_read_model = -1;
    while Instant::now() < deadline {
        let (_, body) = rush::get(&http, &url, None).await?;
        let view: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        issued_in_read_model = view["issuedQuantity"].as_i64().unwrap_or(-1);
        if issued_in_read_model == total_quantity {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(children);
    Ok(Outcome {
        rush: outcome,
        issued_in_read_model,
        total_quantity,
    })
}

async fn wait_healthy(http: &rush::HttpClient, url: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok((status, _)) = rush::get(http, &format!("{url}/healthz"), None).await
            && status.is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("{url} did not become healthy")
}
