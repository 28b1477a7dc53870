//! A fresh MariaDB database and Redis key prefix per test, on the services the project's
//! scripts start (`scripts/services.sh up`). A test fails, never skips, if they are down.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

pub mod flaky_proxy;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use read_side::{QueryState, RedisReader, StreamProgress, router};
use redis::aio::MultiplexedConnection;
use serde_json::Value;
use sqlx::mysql::MySqlConnection;
use sqlx::{AnyPool, AssertSqlSafe, Connection};
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

pub struct FullStack {
    pub pool: AnyPool,
    pub prefix: String,
    pub database_url: String,
    server_url: String,
    database: String,
    redis: MultiplexedConnection,
}

pub fn mysql_url() -> String {
    std::env::var("SHOP_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://shop:shop@127.0.0.1:3306".into())
}

pub fn redis_url() -> String {
    std::env::var("SHOP_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// `mysql://user:pass@host:port[/db][?opts]` without the database part.
fn server_part(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a mysql:// URL");
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    format!("{scheme}://{authority}")
}

impl FullStack {
    pub async fn new() -> Self {
        sqlx::any::install_default_drivers();
        // Redis first: a missing service then fails the test before anything is created.
        let url = redis_url();
        let redis = redis::Client::open(url.as_str())
            .unwrap()
            // The client's 500 ms default is too short for a loaded CI machine: a slow
            // answer is not what these tests are about.
            .get_multiplexed_async_connection_with_config(
                &redis::AsyncConnectionConfig::new()
                    .set_response_timeout(Some(std::time::Duration::from_secs(10))),
            )
            .await
            .unwrap_or_else(|e| panic!("Redis at {url} is required (scripts/services.sh up): {e}"));
        let server_url = server_part(&mysql_url());
        let mut admin = MySqlConnection::connect(&server_url)
            .await
            .unwrap_or_else(|e| {
                panic!("MariaDB at {server_url} is required (scripts/services.sh up): {e}")
            });
        let database = format!("shop_t_{}", uuid::Uuid::new_v4().simple());
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE `{database}`")))
            .execute(&mut admin)
            .await
            .unwrap();
        let database_url = format!("{server_url}/{database}");
        let stack = Self {
            pool: AnyPool::connect(&database_url).await.unwrap(),
            prefix: format!("t{}:", uuid::Uuid::new_v4().simple()),
            database_url,
            server_url,
            database,
            redis,
        };
        let mut setup = MySqlConnection::connect(&stack.database_url).await.unwrap();
        for file in ["0002_read_models.sql", "0003_orders_and_sales.sql"] {
            let schema_path = format!("{}/../migrations/mysql/{file}", env!("CARGO_MANIFEST_DIR"));
            let schema = std::fs::read_to_string(&schema_path)
                .unwrap_or_else(|e| panic!("the MySQL read-model schema {schema_path}: {e}"));
            sqlx::raw_sql(AssertSqlSafe(schema))
                .execute(&mut setup)
                .await
                .unwrap();
        }
        stack
    }

    pub async fn sql(&self, statement: &str) {
        sqlx::raw_sql(AssertSqlSafe(statement.to_owned()))
            .execute(&self.pool)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }

    /// Runs a raw Redis command under the test's prefix: `key` is prefixed.
    pub async fn redis_command(&self, name: &str, key: &str, args: &[&str]) {
        let mut redis = self.redis.clone();
        let mut command = redis::cmd(name);
        command.arg(format!("{}{key}", self.prefix));
        for arg in args {
            command.arg(*arg);
        }
        command.query_async::<()>(&mut redis).await.unwrap();
    }

    /// Writes a hot view the way the projector does: one `HSET` of every field.
    pub async fn hot_view(&self, key: &str, fields: &[(&str, &str)]) {
        let mut redis = self.redis.clone();
        let mut command = redis::cmd("HSET");
        command.arg(format!("{}{key}", self.prefix));
        for (field, value) in fields {
            command.arg(*field).arg(*value);
        }
        command.query_async::<()>(&mut redis).await.unwrap();
    }

    /// A reader on the test's prefix, connected before it is returned.
    pub async fn redis_reader(&self) -> RedisReader {
        // The tests that use this reader check which path answered, not how fast: a
        // loaded machine (CI) can exceed the production 50 ms budget, and one slow read
        // would send the following ones to SQL for the back-off.
        let reader = RedisReader::new(&redis_url(), &self.prefix)
            .unwrap()
            .with_timeout(Duration::from_secs(10));
        for _ in 0..500 {
            if reader.is_connected() {
                return reader;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the Redis reader did not connect within 5 s");
    }

    /// The full-mode query state: MySQL, Redis, per-stream progress.
    pub async fn state(&self) -> QueryState {
        QueryState::new(
            self.pool.clone(),
            Arc::new(StreamProgress::new(self.pool.clone())),
        )
        .with_redis(self.redis_reader().await)
    }
}

/// Drops the database and the Redis keys even when the test panics. Drop cannot await, so
/// the MySQL part runs on a runtime of its own in a helper thread.
impl Drop for FullStack {
    fn drop(&mut self) {
        let (server_url, database) = (self.server_url.clone(), self.database.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let mut admin = MySqlConnection::connect(&server_url).await.unwrap();
                sqlx::raw_sql(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS `{database}`"
                )))
                .execute(&mut admin)
                .await
                .unwrap();
            });
        })
        .join();
        if dropped.is_err() {
            eprintln!("could not drop the test database {}", self.database);
        }
        let keys = redis::Client::open(redis_url().as_str()).and_then(|client| {
            let mut redis = client.get_connection()?;
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{}*", self.prefix))
                .query(&mut redis)?;
            if !keys.is_empty() {
                redis::cmd("DEL").arg(keys).query::<()>(&mut redis)?;
            }
            Ok(())
        });
        if let Err(error) = keys {
            eprintln!("could not delete the Redis keys {}*: {error}", self.prefix);
        }
    }
}

/// A GET through the whole router (extractors, layers, problem mapping).
pub async fn get(state: &QueryState, uri: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut request = Request::get(uri);
    if let Some(token) = token {
        request = request.header("consistency-token", token);
    }
    let response = router(state.clone())
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The rows every full-mode test starts from.
pub async fn seed(stack: &FullStack) {
    for statement in [
        "INSERT INTO balances VALUES (1, 5000), (2, 100)",
        "INSERT INTO products VALUES (1, 'Americano', 4500, 10), (2, 'Latte', 5000, 0), (3, 'Cake', 6500, 3)",
        "INSERT INTO coupons VALUES (1, 'Rush', 'percent', 10, 30, 2, NULL, NULL), \
         (2, 'Old', 'fixed', 1000, 5, 1, NULL, '2020-01-01T00:00:00Z')",
        "INSERT INTO user_coupons VALUES (10, 1, 1, 1, 'AVAILABLE', '2026-11-25T00:00:00Z', NULL), \
         (11, 2, 1, 1, 'AVAILABLE', '2019-12-01T00:00:00Z', NULL)",
    ] {
        stack.sql(statement).await;
    }
}
