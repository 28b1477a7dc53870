//! Projectors fed by Kafka: one consumer group for every SQL projection
//! (`{prefix}projector.read-models`, one transaction per batch across them) and one for the
//! Redis views (`{prefix}projector.redis-views`), each applying batches effectively once and
//! storing offsets only after its write.

mod consumer;
mod message;
mod sink;
mod sql_sink;
mod topics;
mod worker;

pub(crate) use message::InboundEvent;
pub(crate) use sink::Sink;

use crate::handles::ProjectionHandles;
use crate::lag::{ProjectionLag, spawn_lag_logger};
use crate::redis::{RedisSink, RedisViews};
use chrono_tz::Tz;
use sql_sink::SqlSink;
use sqlx::AnyPool;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The stream categories the relay publishes, one topic each.
const CATEGORIES: [&str; 4] = events::Category::NAMES;

#[derive(Debug, Clone)]
pub struct KafkaProjectorConfig {
    /// Kafka bootstrap servers, `host:port[,host:port...]`.
    pub brokers: String,
    /// Prepended to topic and consumer group names: `shop.` reads `shop.wallet`, ... in
    /// groups `shop.projector.read-models` and `shop.projector.redis-views`.
    pub topic_prefix: String,
    /// `SHOP_TIMEZONE`: the calendar a sale's day is counted in (SQL and Redis).
    pub timezone: Tz,
}

impl KafkaProjectorConfig {
    fn group_id(&self, projection: &str) -> String {
        format!("{}projector.{projection}", self.topic_prefix)
    }

    fn topics(&self) -> Vec<String> {
        CATEGORIES
            .iter()
            .map(|category| format!("{}{category}", self.topic_prefix))
            .collect()
    }
}

/// Starts one consumer for the SQL projections, plus one for `redis-views` when `redis` is
/// given. The two are independent: one that cannot write (Redis down, say) retries with
/// backoff and holds the other back not at all. Lag is published by projection name (the
/// SQL projections share their consumer's, see `ProjectionHandles::lag`) and logged every
/// 30 s.
pub fn spawn_kafka_projections(
    pool: AnyPool,
    redis: Option<RedisViews>,
    config: KafkaProjectorConfig,
    shutdown: CancellationToken,
) -> ProjectionHandles {
    let sql = SqlSink::new(pool, crate::all(config.timezone));
    let sql_names: Vec<&'static str> = sql.names().collect();
    let mut sinks: Vec<(Arc<dyn Sink>, Vec<&'static str>)> = vec![(Arc::new(sql), sql_names)];
    if let Some(views) = redis {
        let sink = RedisSink::new(views, config.timezone);
        let name = sink.name();
        sinks.push((Arc::new(sink), vec![name]));
    }
    let mut lag = HashMap::new();
    let mut tasks = Vec::new();
    for (sink, names) in sinks {
        let (sender, receiver) = watch::channel(ProjectionLag::default());
        for name in names {
            lag.insert(name, receiver.clone());
        }
        let settings = worker::ConsumerSettings {
            brokers: config.brokers.clone(),
            group_id: config.group_id(sink.name()),
            topics: config.topics(),
        };
        tasks.push(tokio::spawn(worker::run(
            sink,
            settings,
            sender,
            shutdown.clone(),
        )));
    }
    tasks.push(spawn_lag_logger(lag.clone(), shutdown));
    ProjectionHandles {
        progress: HashMap::new(),
        lag,
        tasks,
    }
}
