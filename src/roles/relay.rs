//! `shop relay`: publishes every stored event to Kafka, in order, none skipped.

use crate::backend::EventStoreHandle;
use crate::settings::Settings;
use anyhow::Context;
use relay::{LeaderLock, MySqlLeaderLock, NoLeaderLock, RelayConfig};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Starts the relay. With MySQL, relays in several processes elect one publisher through
/// a database lock; an embedded store has one process, so it needs none.
pub fn spawn(
    settings: &Settings,
    events: &EventStoreHandle,
    shutdown: CancellationToken,
) -> anyhow::Result<JoinHandle<anyhow::Result<()>>> {
    let brokers = settings
        .kafka_brokers
        .clone()
        .context("the relay publishes to Kafka: set SHOP_KAFKA_BROKERS")?;
    let config = RelayConfig {
        brokers,
        topic_prefix: settings.kafka_topic_prefix.clone(),
        cloudevents_source: settings.cloudevents_source.clone(),
        ..RelayConfig::default()
    };
    let lock: Box<dyn LeaderLock> = match &events.mysql {
        Some(pool) => Box::new(MySqlLeaderLock::new(pool.clone(), &config.reader)),
        None => Box::new(NoLeaderLock),
    };
    let store = events.store.clone();
    Ok(tokio::spawn(async move {
        relay::run(store, lock, config, shutdown)
            .await
            .context("the relay stopped")
    }))
}
