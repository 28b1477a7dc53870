//! A real embedded `shop serve` process on a data directory, for tests that kill it and
//! start it again on the same data.
#![allow(dead_code)]

use reqwest::Client;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const ADMIN_TOKEN: &str = "process-test-token";

pub struct Node {
    pub child: Child,
    pub command: String,
    pub query: String,
}

/// A test that fails half-way must not leave its `shop` running (and holding the test
/// harness's output pipe open).
impl Drop for Node {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts `shop serve` on `data` (fsync on every commit, no demo data) with `env` added,
/// and waits until both APIs answer `/healthz`.
pub async fn start(data: &Path, env: &[(&str, &str)]) -> Node {
    start_with_stderr(data, env, Stdio::inherit()).await
}

/// `start`, with the process's logs (stderr) written to `log`.
pub async fn start_logging_to(data: &Path, env: &[(&str, &str)], log: &Path) -> Node {
    let file = std::fs::File::create(log).expect("a log file");
    start_with_stderr(data, env, Stdio::from(file)).await
}

async fn start_with_stderr(data: &Path, env: &[(&str, &str)], stderr: Stdio) -> Node {
    let (command_port, query_port) = (free_port(), free_port());
    let mut command = Command::new(env!("CARGO_BIN_EXE_shop"));
    command
        .arg("serve")
        .env(
            "SHOP_DATABASE_URL",
            format!("sqlite://{}/shop.db", data.display()),
        )
        .env("SHOP_COMMAND_ADDR", format!("127.0.0.1:{command_port}"))
        .env("SHOP_QUERY_ADDR", format!("127.0.0.1:{query_port}"))
        .env("SHOP_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("SHOP_DEMO_DATA", "false")
        .env("SHOP_SQLITE_SYNC", "full")
        .env("SHOP_LOG", "warn")
        .env_remove("FAILPOINTS")
        // Embedded means embedded, whatever the caller's shell exports (for example
        // `eval "$(scripts/services.sh env)"`): no Kafka, no Redis.
        .env_remove("SHOP_KAFKA_BROKERS")
        .env_remove("SHOP_REDIS_URL")
        .stdout(Stdio::null())
        .stderr(stderr);
    for (key, value) in env {
        command.env(key, value);
    }
    let node = Node {
        child: command.spawn().expect("shop starts"),
        command: format!("http://127.0.0.1:{command_port}"),
        query: format!("http://127.0.0.1:{query_port}"),
    };
    let client = Client::new();
    for _ in 0..400 {
        let command = client.get(format!("{}/healthz", node.command)).send().await;
        let query = client.get(format!("{}/healthz", node.query)).send().await;
        if command.is_ok_and(|r| r.status().is_success())
            && query.is_ok_and(|r| r.status().is_success())
        {
            return node;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("shop did not become ready");
}
