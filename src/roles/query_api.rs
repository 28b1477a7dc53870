//! `shop query-api`: serves the read models (Redis, then moka, then SQL).

use crate::settings::Settings;
use anyhow::Context;
use projections::ProjectionLag;
use read_side::{QueryState, ReadProgress, RedisReader, StoreWrites};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub struct QueryApi {
    pub addr: SocketAddr,
    pub server: JoinHandle<std::io::Result<()>>,
}

/// `lags`: the projections running in this process, for `/metrics` (none for a lone
/// query API). `writes`: the event store, which Consistency-Tokens are checked against.
pub async fn start(
    settings: &Settings,
    pool: sqlx::AnyPool,
    progress: Arc<dyn ReadProgress>,
    writes: Arc<dyn StoreWrites>,
    lags: HashMap<&'static str, watch::Receiver<ProjectionLag>>,
    shutdown: CancellationToken,
) -> anyhow::Result<QueryApi> {
    let mut state = QueryState::new(pool.clone(), progress)
        .with_store_writes(writes)
        .with_timezone(settings.timezone)
        .with_users(settings.user_guard())
        .with_http_limits(settings.http_limits());
    if let Some(url) = &settings.redis_url {
        let reader = RedisReader::new(url, &settings.redis_prefix).with_context(|| {
            format!(
                "SHOP_REDIS_URL={} is not usable",
                crate::secret::SecretUrl::from(url.as_str())
            )
        })?;
        state = state.with_redis(reader);
    }
    let listener = TcpListener::bind(settings.query_addr)
        .await
        .with_context(|| format!("cannot listen on SHOP_QUERY_ADDR={}", settings.query_addr))?;
    let addr = listener.local_addr()?;
    let ops = crate::ops::query_ops(pool, settings.redis_url.as_deref(), state.clone(), lags);
    let server = tokio::spawn(api_common::serve::serve(
        listener,
        read_side::router(state).merge(ops.router()),
        shutdown,
    ));
    Ok(QueryApi { addr, server })
}

/// How a query API in its own process learns what the projectors have applied: per stream
/// version when they read Kafka, by checkpoint when they follow the store's global order.
pub fn progress_from_other_processes(
    settings: &Settings,
    pool: sqlx::AnyPool,
) -> Arc<dyn ReadProgress> {
    if settings.kafka_brokers.is_some() {
        Arc::new(read_side::StreamProgress::new(pool))
    } else {
        Arc::new(read_side::PollingProgress::new(pool))
    }
}
