//! The full stack as real processes: `shop command-api`, `relay`, `projector` and
//! `query-api` over the MariaDB, Kafka and Redis that `scripts/services.sh up` runs. Every
//! cluster gets a fresh database, topic prefix and Redis prefix, so tests share the servers
//! without seeing each other.
#![allow(dead_code)]

pub mod keyed;
pub mod proxy;

use reqwest::{Client, StatusCode};
use serde_json::Value;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ADMIN_TOKEN: &str = "cluster-admin-token";

pub fn mysql_server() -> String {
    std::env::var("SHOP_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://shop:shop@127.0.0.1:3306".to_owned())
}

pub fn kafka_brokers() -> String {
    std::env::var("SHOP_TEST_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".to_owned())
}

pub fn redis_url() -> String {
    std::env::var("SHOP_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The names that isolate one cluster on shared servers.
#[derive(Clone)]
pub struct Names {
    pub database_url: String,
    pub topic_prefix: String,
    pub redis_prefix: String,
}

impl Names {
    pub fn fresh() -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        Self {
            database_url: format!("{}/shop_t_{id}", mysql_server()),
            topic_prefix: format!("t{id}."),
            redis_prefix: format!("t{id}:"),
        }
    }
}

pub struct Role {
    pub name: &'static str,
    pub child: Child,
    /// `http://127.0.0.1:port` for the HTTP roles.
    pub url: Option<String>,
}

impl Role {
    /// SIGKILL: no shutdown path runs.
    pub fn kill(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The roles of one deployment, started by `Cluster::full_stack`.
pub struct FullStack {
    pub command: Role,
    pub query: Role,
    _relay: Role,
    _projector: Role,
}

pub struct Cluster {
    pub names: Names,
    pub client: Client,
    pub extra_env: Vec<(String, String)>,
}

impl Cluster {
    pub fn new() -> Self {
        Self {
            names: Names::fresh(),
            client: Client::builder()
                .pool_max_idle_per_host(256)
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
            extra_env: Vec::new(),
        }
    }

    fn command(&self, role: &str) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_shop"));
        command
            .arg(role)
            .env("SHOP_DATABASE_URL", &self.names.database_url)
            .env("SHOP_KAFKA_BROKERS", kafka_brokers())
            .env("SHOP_REDIS_URL", redis_url())
            .env("SHOP_KAFKA_TOPIC_PREFIX", &self.names.topic_prefix)
            .env("SHOP_REDIS_PREFIX", &self.names.redis_prefix)
            .env("SHOP_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("SHOP_DEMO_DATA", "false")
            .env(
                "SHOP_LOG",
                std::env::var("SHOP_TEST_LOG").unwrap_or_else(|_| "warn".to_owned()),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (key, value) in &self.extra_env {
            command.env(key, value);
        }
        command
    }

    /// Runs a one-shot `shop` command (e.g. `rebuild all`) with `env` added to its end,
    /// capturing stdout.
    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
        let mut command = self.command(args[0]);
        command.args(&args[1..]).stdout(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        command.output().expect("shop runs")
    }

    /// Creates the schema once, so roles started together do not race on migrations.
    pub fn migrate(&self) {
        let status = self.command("migrate").status().expect("shop migrate runs");
        assert!(status.success(), "shop migrate failed");
    }

    pub async fn command_api(&self) -> Role {
        self.http_role("command-api", "SHOP_COMMAND_ADDR", &[])
            .await
    }

    /// A command API with extra environment (e.g. its own `SHOP_DATABASE_URL`).
    pub async fn command_api_with(&self, env: &[(&str, &str)]) -> Role {
        self.http_role("command-api", "SHOP_COMMAND_ADDR", env)
            .await
    }

    pub async fn query_api(&self) -> Role {
        self.http_role("query-api", "SHOP_QUERY_ADDR", &[]).await
    }

    pub async fn query_api_with(&self, env: &[(&str, &str)]) -> Role {
        self.http_role("query-api", "SHOP_QUERY_ADDR", env).await
    }

    pub fn relay(&self) -> Role {
        self.background_role("relay")
    }

    pub fn projector(&self) -> Role {
        self.background_role("projector")
    }

    fn background_role(&self, name: &'static str) -> Role {
        self.background_role_with(name, &[])
    }

    /// A role without an HTTP API, with extra environment (e.g. `SHOP_OPS_ADDR`).
    pub fn background_role_with(&self, name: &'static str, env: &[(&str, &str)]) -> Role {
        let mut command = self.command(name);
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().expect("shop starts");
        Role {
            name,
            child,
            url: None,
        }
    }

    async fn http_role(&self, name: &'static str, addr_var: &str, env: &[(&str, &str)]) -> Role {
        let port = free_port();
        let mut command = self.command(name);
        command.env(addr_var, format!("127.0.0.1:{port}"));
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().expect("shop starts");
        let url = format!("http://127.0.0.1:{port}");
        let mut role = Role {
            name,
            child,
            url: Some(url.clone()),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(response) = self.client.get(format!("{url}/healthz")).send().await
                && response.status().is_success()
            {
                return role;
            }
            if let Ok(Some(status)) = role.child.try_wait() {
                panic!("{name} exited at start-up: {status}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        role.kill();
        panic!("{name} did not become ready");
    }

    pub async fn admin_post(&self, role: &Role, path: &str, body: Value) -> (StatusCode, Value) {
        let response = self
            .client
            .post(format!(
                "{}{path}",
                role.url.as_deref().expect("an HTTP role")
            ))
            .bearer_auth(ADMIN_TOKEN)
            .json(&body)
            .send()
            .await
            .expect("request sent");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Every role once: a command API, the relay, a projector and a query API. The relay
    /// and the projector stop when the stack is dropped.
    pub async fn full_stack(&self) -> FullStack {
        let command = self.command_api().await;
        let relay = self.relay();
        let projector = self.projector();
        let query = self.query_api().await;
        FullStack {
            command,
            query,
            _relay: relay,
            _projector: projector,
        }
    }

    /// `get` with a Consistency-Token.
    pub async fn get_with_token(
        &self,
        role: &Role,
        path: &str,
        token: &str,
    ) -> (StatusCode, Value) {
        let response = self
            .client
            .get(format!(
                "{}{path}",
                role.url.as_deref().expect("an HTTP role")
            ))
            .header("Consistency-Token", token)
            .send()
            .await
            .expect("request sent");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, role: &Role, path: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .get(format!(
                "{}{path}",
                role.url.as_deref().expect("an HTTP role")
            ))
            .send()
            .await
            .expect("request sent");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Polls `path` until `done` holds for its body, or panics with the last body.
    pub async fn eventually(
        &self,
        role: &Role,
        path: &str,
        within: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let (status, body) = self.get(role, path).await;
            if status == StatusCode::OK && done(&body) {
                return body;
            }
            if Instant::now() >= deadline {
                panic!("{path} never converged; last answer {status} {body}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
