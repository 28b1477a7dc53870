//! `shop projector`: keeps the read models up to date, from Kafka in the full mode or
//! straight from the event store in the embedded one.

use crate::feed::StoreFeed;
use crate::settings::Settings;
use anyhow::Context;
use chrono_tz::Tz;
use event_store::EventStore;
use projections::{KafkaProjectorConfig, ProjectionHandles, RedisViews};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Projectors fed by Kafka (SQL read models, and Redis views when Redis is configured).
pub fn spawn_from_kafka(
    settings: &Settings,
    brokers: &str,
    pool: sqlx::AnyPool,
    shutdown: CancellationToken,
) -> anyhow::Result<ProjectionHandles> {
    let redis = match &settings.redis_url {
        Some(url) => Some(
            RedisViews::connect(url, &settings.redis_prefix).with_context(|| {
                format!(
                    "SHOP_REDIS_URL={} is not usable",
                    crate::secret::SecretUrl::from(url.as_str())
                )
            })?,
        ),
        None => None,
    };
    let config = KafkaProjectorConfig {
        brokers: brokers.to_owned(),
        topic_prefix: settings.kafka_topic_prefix.clone(),
        timezone: settings.timezone,
    };
    Ok(projections::spawn_kafka_projections(
        pool, redis, config, shutdown,
    ))
}

/// Projectors that follow the event store's global order in-process. `timezone`
/// (`SHOP_TIMEZONE`) decides which day a sale counts on.
pub fn spawn_from_store(
    store: Arc<dyn EventStore>,
    pool: sqlx::AnyPool,
    timezone: Tz,
    shutdown: CancellationToken,
) -> ProjectionHandles {
    projections::spawn_projections(pool, Arc::new(StoreFeed(store)), timezone, shutdown)
}
