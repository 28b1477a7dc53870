//! What the Kafka projector tests share: a fresh MySQL database, topic prefix and Redis
//! prefix per test (on the services `scripts/services.sh up` starts; a test fails, never
//! skips, when they are down), a history of events in the Kafka contract, a plain
//! producer for it, and snapshots of the read models to compare.
#![allow(dead_code)]

pub mod history;
pub mod model;

use history::Message;
use model::{Model, SqlModels};
use projections::{KafkaProjectorConfig, ProjectionHandles, RedisViews, spawn_kafka_projections};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use sqlx::migrate::MigrateDatabase;
use sqlx::{AnyPool, MySql};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub const WAIT: Duration = Duration::from_secs(20);

pub fn mysql_server() -> String {
    std::env::var("SHOP_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://shop:shop@127.0.0.1:3306".to_owned())
}

pub fn brokers() -> String {
    std::env::var("SHOP_TEST_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".to_owned())
}

pub fn redis_url() -> String {
    std::env::var("SHOP_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

pub struct TestEnv {
    pub database_url: String,
    pub pool: AnyPool,
    pub topic_prefix: String,
    pub redis_prefix: String,
    pub redis: MultiplexedConnection,
    producer: FutureProducer,
}

impl TestEnv {
    pub async fn new() -> Self {
        // `SHOP_TEST_LOG=projections=debug` shows what the projectors do.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(std::env::var("SHOP_TEST_LOG").unwrap_or_else(|_| "warn".to_owned()))
            .with_test_writer()
            .try_init();
        let id = uuid::Uuid::new_v4().simple().to_string();
        let database_url = format!("{}/shop_t_{id}", mysql_server());
        let pool = projections::open_read_db(&database_url)
            .await
            .unwrap_or_else(|e| panic!("MySQL is required (scripts/services.sh up): {e}"));
        let redis = redis::Client::open(redis_url())
            .unwrap()
            // The client's 500 ms default is too short for a loaded CI machine: a slow
            // answer is not what these tests are about.
            .get_multiplexed_async_connection_with_config(
                &redis::AsyncConnectionConfig::new()
                    .set_response_timeout(Some(std::time::Duration::from_secs(10))),
            )
            .await
            .unwrap_or_else(|e| panic!("Redis is required (scripts/services.sh up): {e}"));
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", brokers())
            .set("enable.idempotence", "true")
            .set("linger.ms", "5")
            .set("message.timeout.ms", "10000")
            .create()
            .unwrap();
        Self {
            database_url,
            pool,
            topic_prefix: format!("t{id}."),
            redis_prefix: format!("t{id}:"),
            redis,
            producer,
        }
    }

    pub fn config(&self) -> KafkaProjectorConfig {
        KafkaProjectorConfig {
            brokers: brokers(),
            topic_prefix: self.topic_prefix.clone(),
            timezone: chrono_tz::Asia::Seoul,
        }
    }

    pub fn views(&self) -> RedisViews {
        RedisViews::connect(&redis_url(), &self.redis_prefix).unwrap()
    }

    pub fn spawn(
        &self,
        redis: Option<RedisViews>,
        shutdown: &CancellationToken,
    ) -> ProjectionHandles {
        spawn_kafka_projections(self.pool.clone(), redis, self.config(), shutdown.clone())
    }

    /// Projectors on a runtime and pool of their own, so `Crashable::crash` can stop
    /// them the way a killed process stops: mid-statement, sockets closed.
    pub async fn spawn_crashable(&self) -> Crashable {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let url = self.database_url.clone();
        let views = self.views();
        let config = self.config();
        let handles = runtime
            .spawn(async move {
                let pool = projections::open_read_db(&url).await.unwrap();
                spawn_kafka_projections(pool, Some(views), config, CancellationToken::new())
            })
            .await
            .unwrap();
        Crashable {
            runtime,
            _handles: handles,
        }
    }

    /// Produces `messages` in order (per partition, Kafka keeps that order) and waits
    /// until every one is acknowledged. Fails if Kafka is down.
    pub async fn produce(&self, messages: &[Message]) {
        let mut deliveries = Vec::with_capacity(messages.len());
        for message in messages {
            let topic = format!("{}{}", self.topic_prefix, message.category);
            let headers = message.headers.iter().fold(
                OwnedHeaders::new_with_capacity(message.headers.len()),
                |headers, (key, value)| {
                    headers.insert(Header {
                        key,
                        value: Some(value.as_str()),
                    })
                },
            );
            let record = FutureRecord::to(&topic)
                .key(&message.key)
                .payload(&message.value)
                .headers(headers);
            let delivery = self
                .producer
                .send_result(record)
                .unwrap_or_else(|(e, _)| panic!("Kafka is required (scripts/services.sh up): {e}"));
            deliveries.push(delivery);
        }
        self.producer.flush(Duration::from_secs(15)).unwrap();
        for delivery in deliveries {
            delivery
                .await
                .unwrap()
                .unwrap_or_else(|(e, _)| panic!("Kafka did not take a message: {e}"));
        }
    }

    pub async fn sql(&self) -> SqlModels {
        SqlModels::read(&self.pool).await
    }

    /// Every entity view under this test's prefix, by key. Order views and the sales
    /// ranking's keys are left out: the model here covers wallets, products and coupons
    /// (orders have tests of their own, `projections/tests/it/ranking.rs`).
    pub async fn redis_views(&mut self) -> BTreeMap<String, BTreeMap<String, String>> {
        let keys: Vec<String> = self
            .redis
            .keys(format!("{}*", self.redis_prefix))
            .await
            .unwrap();
        let mut views = BTreeMap::new();
        let orders = format!("{}order:", self.redis_prefix);
        let sales = format!("{}sales:", self.redis_prefix);
        for key in keys {
            if key.starts_with(&orders) || key.starts_with(&sales) {
                continue;
            }
            let view: BTreeMap<String, String> = self.redis.hgetall(&key).await.unwrap();
            views.insert(key, view);
        }
        views
    }

    /// Waits until SQL (and Redis, if `with_redis`) equal `expected`, or fails showing
    /// the difference.
    pub async fn wait_for(&mut self, expected: &Model, with_redis: bool) {
        let deadline = Instant::now() + WAIT;
        loop {
            let sql = self.sql().await;
            let redis = if with_redis {
                self.redis_views().await
            } else {
                expected.redis.clone()
            };
            if sql == expected.sql && redis == expected.redis {
                return;
            }
            if Instant::now() > deadline {
                assert_eq!(sql, expected.sql, "SQL read models");
                assert_eq!(redis, expected.redis, "Redis views");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

pub struct Crashable {
    runtime: tokio::runtime::Runtime,
    _handles: ProjectionHandles,
}

impl Crashable {
    /// Drops every task wherever it is. (Aborting tasks on the test's own runtime would
    /// not do: a sqlx connection dropped mid-statement never returns to its pool, but
    /// dropping the runtime closes its sockets, so MySQL rolls back as after a crash.)
    pub fn crash(self) {
        self.runtime.shutdown_background();
    }
}

impl TestEnv {
    /// Forgets every projector's committed offsets, as if a crash had come before any
    /// commit: the next run reads each topic from the start again. Retries while the
    /// crashed consumers are still leaving their groups.
    pub async fn forget_offsets(&self) {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", brokers())
            .create()
            .unwrap();
        let groups: Vec<String> = [events::names::SQL_READ_MODELS, "redis-views"]
            .iter()
            .map(|name| format!("{}projector.{name}", self.topic_prefix))
            .collect();
        let mut pending: Vec<&str> = groups.iter().map(String::as_str).collect();
        let deadline = Instant::now() + WAIT;
        while !pending.is_empty() {
            let results = admin
                .delete_groups(&pending, &AdminOptions::new())
                .await
                .unwrap();
            pending = results
                .iter()
                .filter_map(|result| match result {
                    Ok(_) => None,
                    // Never joined: nothing to forget.
                    Err((_, RDKafkaErrorCode::GroupIdNotFound)) => None,
                    Err((group, _)) => groups.iter().find(|g| *g == group).map(String::as_str),
                })
                .collect();
            assert!(Instant::now() < deadline, "groups not deleted: {pending:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Drops what the test made: the database, the topics and the Redis keys.
    pub async fn clean_up(mut self) {
        self.pool.close().await;
        let _ = MySql::drop_database(&self.database_url).await;
        let keys: Vec<String> = self
            .redis
            .keys(format!("{}*", self.redis_prefix))
            .await
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<(), _> = self.redis.del(keys).await;
        }
        if let Ok(admin) = ClientConfig::new()
            .set("bootstrap.servers", brokers())
            .create::<AdminClient<DefaultClientContext>>()
        {
            let topics: Vec<String> = ["wallet", "product", "coupon", "order"]
                .iter()
                .map(|category| format!("{}{category}", self.topic_prefix))
                .collect();
            let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
            let _ = admin.delete_topics(&topics, &AdminOptions::new()).await;
        }
    }
}
