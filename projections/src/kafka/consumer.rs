//! The rdkafka consumer a projector reads with, and the context that turns librdkafka's
//! statistics into `ProjectionLag::consumer_lag` and its logs into tracing events.

use crate::error::ProjectionError;
use crate::lag::ProjectionLag;
use rdkafka::ClientConfig;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{Consumer, ConsumerContext, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use tokio::sync::watch;

/// How often librdkafka reports statistics (and so how fresh `consumer_lag` is).
const STATISTICS_INTERVAL_MS: &str = "5000";

pub(crate) type ProjectorConsumer = StreamConsumer<ProjectorContext>;

pub(crate) struct ProjectorContext {
    name: &'static str,
    lag: watch::Sender<ProjectionLag>,
}

impl ClientContext for ProjectorContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        let projection = self.name;
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => {
                tracing::error!(projection, facility, "librdkafka: {message}")
            }
            RDKafkaLogLevel::Warning => {
                tracing::warn!(projection, facility, "librdkafka: {message}")
            }
            _ => tracing::debug!(projection, facility, "librdkafka: {message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        // librdkafka retries these itself (a broker restarting, say); they are worth a
        // line, not a restart of the consumer.
        if is_missing_topic(&error) {
            tracing::debug!(projection = self.name, %error, reason, "Kafka client error");
        } else {
            tracing::warn!(projection = self.name, %error, reason, "Kafka client error");
        }
    }

    fn stats_raw(&self, statistics: &[u8]) {
        if let Some(total) = consumer_lag(statistics) {
            self.lag.send_modify(|lag| lag.consumer_lag = Some(total));
        }
    }
}

impl ConsumerContext for ProjectorContext {}

/// Sums `consumer_lag` over the partitions this consumer holds (librdkafka reports -1 for
/// the others). Read from the raw JSON rather than rdkafka's full `Statistics` struct so
/// fields added or dropped by other librdkafka versions cannot break it.
fn consumer_lag(statistics: &[u8]) -> Option<i64> {
    let stats: serde_json::Value = serde_json::from_slice(statistics).ok()?;
    let topics = stats.get("topics")?.as_object()?;
    let total = topics
        .values()
        .filter_map(|topic| topic.get("partitions")?.as_object())
        .flat_map(|partitions| partitions.iter())
        .filter(|(id, _)| id.as_str() != "-1")
        .filter_map(|(_, partition)| partition.get("consumer_lag")?.as_i64())
        .filter(|lag| *lag >= 0)
        .sum();
    Some(total)
}

/// See `create`: a fetch waits for this much data (1 MiB, more than 50 ms of a rush) ...
const FETCH_MIN_BYTES: &str = "1048576";
/// ... or this long, whichever comes first.
const FETCH_WAIT_MAX_MS: &str = "50";

/// A consumer in `group_id` subscribed to `topics`. Offsets are stored by hand, only
/// after the read-model write committed, and auto-committed from there.
pub(crate) fn create(
    name: &'static str,
    brokers: &str,
    group_id: &str,
    topics: &[String],
    lag: watch::Sender<ProjectionLag>,
) -> Result<ProjectorConsumer, ProjectionError> {
    let consumer: ProjectorConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group_id)
        .set("client.id", format!("shop-projector-{name}"))
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        // Subscribing must work before the relay has published anything (the worker
        // creates the topics first; a topic recreated later is noticed within seconds).
        .set("allow.auto.create.topics", "true")
        .set("topic.metadata.refresh.interval.ms", "5000")
        // A projector that died (SIGKILL) holds its partitions until its session times
        // out; the broker's minimum keeps that to seconds instead of the default 45 s.
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "1500")
        // A request queued to a broker that restarted can sit unsent until this runs out
        // (60 s by default), and the group's rejoin waits behind it: seen as a projector
        // idle for over 90 s after a Kafka restart. 10 s bounds that stall.
        .set("socket.timeout.ms", "10000")
        .set("statistics.interval.ms", STATISTICS_INTERVAL_MS)
        // librdkafka asks for more as soon as a fetch returns, and by default the broker
        // answers a fetch as soon as it has one byte: under load, fetch after fetch per
        // group, each over every partition, a few messages each, and the broker's CPU per
        // order was mostly that. Letting the broker hold a fetch until it has
        // FETCH_MIN_BYTES or FETCH_WAIT_MAX_MS passed makes it about one fetch per group
        // every 50 ms whatever the load; it adds at most that wait to a projection's lag
        // (docs/performance.md, "Kafka fetches"). 50 rather than 10: a caught-up relay
        // publishes in bursts (it looks for new events every 200 ms), so most 10 ms
        // fetches came back empty, and the broker's CPU per charge halved at 50.
        .set("fetch.min.bytes", FETCH_MIN_BYTES)
        .set("fetch.wait.max.ms", FETCH_WAIT_MAX_MS)
        .create_with_context(ProjectorContext { name, lag })
        .map_err(ProjectionError::kafka("create a consumer"))?;
    let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
    consumer
        .subscribe(&topics)
        .map_err(ProjectionError::kafka("subscribe"))?;
    Ok(consumer)
}

/// A subscribed topic nothing was published to yet: normal before the relay's first
/// event of a kind (the subscription asks the broker to create it).
pub(super) fn is_missing_topic(error: &KafkaError) -> bool {
    matches!(
        error,
        KafkaError::MessageConsumption(RDKafkaErrorCode::UnknownTopicOrPartition)
            | KafkaError::Global(RDKafkaErrorCode::UnknownTopicOrPartition)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumer_lag_sums_held_partitions_only() {
        let stats = br#"{"topics": {
            "shop.wallet": {"partitions": {
                "0": {"consumer_lag": 5}, "1": {"consumer_lag": -1}, "-1": {"consumer_lag": 9}
            }},
            "shop.coupon": {"partitions": {"2": {"consumer_lag": 2}}}
        }}"#;
        assert_eq!(consumer_lag(stats), Some(7));
        assert_eq!(consumer_lag(b"{}"), None);
    }
}
