//! The read path: Redis hot view, then the in-process cache, then SQL. A request carrying
//! a consistency token skips the in-process cache (it may predate the write) and reads SQL
//! once the read model has caught up, unless a hot view already shows the write.

use crate::QueryState;
use crate::consistency::{Consistent, HotViewRule};
use crate::hot_view::{Fields, MalformedView};
use crate::redis_reader::Lookup;
use api_common::Problem;
use events::StreamId;
use events::names::hot_view::View;
use moka::future::Cache;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, Ordering};

/// One entity that may have a Redis hot view at `{prefix}{kind}:{id}`.
pub(crate) struct Entity {
    pub(crate) view: View,
    pub(crate) id: i64,
    /// The stream whose events make up the entity, to compare with the token's stream.
    pub(crate) stream: StreamId,
}

pub(crate) async fn read_entity<const P: u8, V, Parse, Load, Fut>(
    state: &QueryState,
    consistent: &Consistent<P>,
    entity: Entity,
    parse: Parse,
    cache: &Cache<i64, V>,
    load: Load,
) -> Result<V, Problem>
where
    V: Clone + Send + Sync + 'static,
    Parse: FnOnce(&Fields<'_>) -> Result<V, MalformedView>,
    Load: FnOnce() -> Fut,
    Fut: Future<Output = Result<V, sqlx::Error>>,
{
    if let Some(view) = from_redis(state, consistent, &entity, parse).await {
        tracing::Span::current().record("layer", "redis");
        return Ok(view);
    }
    read_cached(state, consistent, cache, entity.id, load).await
}

async fn from_redis<const P: u8, V, Parse>(
    state: &QueryState,
    consistent: &Consistent<P>,
    entity: &Entity,
    parse: Parse,
) -> Option<V>
where
    Parse: FnOnce(&Fields<'_>) -> Result<V, MalformedView>,
{
    let redis = state.redis.as_ref()?;
    let stats = &state.stats;
    let rule = consistent.hot_view_rule(&entity.stream);
    if rule == HotViewRule::Never {
        stats.redis_skipped.inc();
        return None;
    }
    match redis.hash(entity.view, entity.id).await {
        Lookup::Found(map) => {
            let fields = Fields(&map);
            match fields.version().and_then(|v| Ok((v, parse(&fields)?))) {
                Ok((version, view)) if rule.accepts(version) => {
                    stats.redis_hits.inc();
                    Some(view)
                }
                Ok(_) => {
                    stats.redis_stale.inc();
                    None
                }
                Err(error) => {
                    stats.redis_errors.inc();
                    redis.malformed(entity.view, entity.id, &error);
                    None
                }
            }
        }
        Lookup::Missing => {
            stats.redis_misses.inc();
            None
        }
        Lookup::Skipped => {
            stats.redis_skipped.inc();
            None
        }
        Lookup::Failed => {
            stats.redis_errors.inc();
            None
        }
    }
}

/// The in-process cache in front of SQL, or SQL directly (after the wait) for a request
/// that carries a consistency token.
pub(crate) async fn read_cached<const P: u8, K, V, Load, Fut>(
    state: &QueryState,
    consistent: &Consistent<P>,
    cache: &Cache<K, V>,
    key: K,
    load: Load,
) -> Result<V, Problem>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    Load: FnOnce() -> Fut,
    Fut: Future<Output = Result<V, sqlx::Error>>,
{
    let stats = &state.stats;
    let span = tracing::Span::current();
    if consistent.has_token() {
        consistent.caught_up(state).await?;
        stats.sql_reads.inc();
        span.record("layer", "sql");
        return load().await.map_err(|e| crate::db_problem(&e));
    }
    stats.moka_lookups.inc();
    // Only the request whose load runs sees `loaded`; the others waited on it and count as
    // hits, which is what coalescing buys.
    let loaded = AtomicBool::new(false);
    let view = cache
        .try_get_with(key, async {
            loaded.store(true, Ordering::Relaxed);
            stats.moka_loads.inc();
            stats.sql_reads.inc();
            load().await
        })
        .await
        .map_err(|e| crate::db_problem(&e))?;
    let layer = if loaded.load(Ordering::Relaxed) {
        "sql"
    } else {
        "moka"
    };
    span.record("layer", layer);
    Ok(view)
}
