//! What each API's `/readyz` checks and what its `/metrics` exports besides the counters
//! the crates record themselves: the dependencies this process is configured with, the
//! query side's cache counters and the in-process projections' lag.

use api_common::ops::{Ops, ReadinessProbe};
use async_trait::async_trait;
use event_store::EventStore;
use projections::ProjectionLag;
use rdkafka::consumer::{BaseConsumer, Consumer};
use read_side::QueryState;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The command API: the event store, and Kafka when this process also relays.
pub fn command_ops(store: Arc<dyn EventStore>, kafka_brokers: Option<String>) -> Ops {
    let ops = Ops::default().probe(EventStoreProbe(store));
    match kafka_brokers {
        Some(brokers) => ops.probe(KafkaProbe(brokers)),
        None => ops,
    }
}

/// The query API: its read models, Redis when configured, and what it reads through.
pub fn query_ops(
    pool: sqlx::AnyPool,
    redis_url: Option<&str>,
    state: QueryState,
    lags: HashMap<&'static str, watch::Receiver<ProjectionLag>>,
) -> Ops {
    let mut ops = Ops::default()
        .probe(ReadModelProbe(pool.clone()))
        .probe(SearchIndexProbe(pool))
        .on_scrape(move || export_cache_stats(&state))
        .on_scrape(move || export_projection_lag(&lags));
    if let Some(client) = redis_url.and_then(|url| redis::Client::open(url).ok()) {
        ops = ops.probe(RedisProbe(client));
    }
    ops
}

/// A projector process: its read models, Redis and Kafka as configured, and its lag.
pub fn projector_ops(
    pool: sqlx::AnyPool,
    redis_url: Option<&str>,
    kafka_brokers: Option<String>,
    lags: HashMap<&'static str, watch::Receiver<ProjectionLag>>,
) -> Ops {
    let mut ops = Ops::default()
        .probe(ReadModelProbe(pool))
        .on_scrape(move || export_projection_lag(&lags));
    if let Some(client) = redis_url.and_then(|url| redis::Client::open(url).ok()) {
        ops = ops.probe(RedisProbe(client));
    }
    match kafka_brokers {
        Some(brokers) => ops.probe(KafkaProbe(brokers)),
        None => ops,
    }
}

/// Serves `/healthz`, `/readyz` and `/metrics` alone, for the roles without an API.
pub async fn serve(
    addr: std::net::SocketAddr,
    ops: Ops,
    shutdown: tokio_util::sync::CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<std::io::Result<()>>> {
    use anyhow::Context;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on SHOP_OPS_ADDR={addr}"))?;
    tracing::info!(url = %format!("http://{}", listener.local_addr()?), "operations endpoints listening");
    let router = ops
        .router()
        .route("/healthz", axum::routing::get(|| async { "ok" }));
    Ok(tokio::spawn(api_common::serve::serve(
        listener, router, shutdown,
    )))
}

fn export_cache_stats(state: &QueryState) {
    let stats = state.cache_stats();
    for (layer, result, value) in [
        ("redis", "hit", stats.redis_hits),
        ("redis", "miss", stats.redis_misses),
        ("redis", "stale", stats.redis_stale),
        ("redis", "error", stats.redis_errors),
        ("redis", "skipped", stats.redis_skipped),
        ("moka", "hit", stats.moka_hits),
        ("moka", "miss", stats.moka_misses),
        ("sql", "read", stats.sql_reads),
    ] {
        metrics::counter!("shop_cache_requests_total", "layer" => layer, "result" => result)
            .absolute(value);
    }
}

/// Lag of the projections running in this process (none in a lone `shop query-api`).
pub fn export_projection_lag(lags: &HashMap<&'static str, watch::Receiver<ProjectionLag>>) {
    for (&projection, lag) in lags {
        let lag = lag.borrow().clone();
        metrics::counter!("shop_projection_events_total", "projection" => projection)
            .absolute(lag.events);
        metrics::counter!("shop_projection_duplicates_total", "projection" => projection)
            .absolute(lag.duplicates);
        metrics::counter!("shop_projection_errors_total", "projection" => projection)
            .absolute(lag.errors);
        if let Some(age) = lag.event_age {
            metrics::gauge!("shop_projection_lag_seconds", "projection" => projection)
                .set(age.as_secs_f64());
        }
        if let Some(consumer_lag) = lag.consumer_lag {
            metrics::gauge!("shop_projection_consumer_lag_messages", "projection" => projection)
                .set(consumer_lag as f64);
        }
    }
}

struct EventStoreProbe(Arc<dyn EventStore>);

#[async_trait]
impl ReadinessProbe for EventStoreProbe {
    fn name(&self) -> &'static str {
        "database"
    }

    async fn check(&self) -> Result<(), String> {
        self.0
            .head_position()
            .await
            .map(|_| ())
            .map_err(|_| "the event store does not answer".to_owned())
    }
}

struct ReadModelProbe(sqlx::AnyPool);

#[async_trait]
impl ReadinessProbe for ReadModelProbe {
    fn name(&self) -> &'static str {
        "database"
    }

    async fn check(&self) -> Result<(), String> {
        sqlx::query("SELECT 1")
            .execute(&self.0)
            .await
            .map(|_| ())
            .map_err(|_| "the read models do not answer".to_owned())
    }
}

/// The product-name search index: its tables answer (a read database migrated before the
/// index existed, or a broken one, shows here by name rather than as failing searches).
/// How far it lags is `shop_projection_lag_seconds{projection="search"}` in `/metrics`.
struct SearchIndexProbe(sqlx::AnyPool);

#[async_trait]
impl ReadinessProbe for SearchIndexProbe {
    fn name(&self) -> &'static str {
        events::ProjectionName::Search.name()
    }

    async fn check(&self) -> Result<(), String> {
        sqlx::query("SELECT product_id FROM search_products LIMIT 1")
            .fetch_optional(&self.0)
            .await
            .map(|_| ())
            .map_err(|_| "the search index does not answer".to_owned())
    }
}

struct RedisProbe(redis::Client);

#[async_trait]
impl ReadinessProbe for RedisProbe {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn check(&self) -> Result<(), String> {
        let mut connection = self
            .0
            .get_multiplexed_async_connection()
            .await
            .map_err(|_| "cannot connect".to_owned())?;
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .map(|_| ())
            .map_err(|_| "PING failed".to_owned())
    }
}

struct KafkaProbe(String);

#[async_trait]
impl ReadinessProbe for KafkaProbe {
    fn name(&self) -> &'static str {
        "kafka"
    }

    async fn check(&self) -> Result<(), String> {
        let brokers = self.0.clone();
        // librdkafka's metadata call blocks; keep it off the async workers.
        tokio::task::spawn_blocking(move || {
            let consumer: BaseConsumer = rdkafka::ClientConfig::new()
                .set("bootstrap.servers", &brokers)
                .create()
                .map_err(|_| "cannot create a client".to_owned())?;
            consumer
                .fetch_metadata(None, Duration::from_millis(1_500))
                .map(|_| ())
                .map_err(|_| "no broker answers".to_owned())
        })
        .await
        .map_err(|_| "the check panicked".to_owned())?
    }
}
