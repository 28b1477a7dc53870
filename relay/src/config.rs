//! What a relay needs to know: where Kafka is, how topics are named, under which name its
//! position is checkpointed, and how it paces itself.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Kafka bootstrap servers, `host:port[,host:port...]`.
    pub brokers: String,
    /// Prepended to the stream category to name the topic: `shop.` gives `shop.wallet`.
    pub topic_prefix: String,
    /// The CloudEvents `source` every message names (`ce_source`), a URI reference.
    pub cloudevents_source: String,
    /// Checkpoint name in the event store. Relays sharing it share one position and one
    /// leader lock; a relay with another name publishes everything again on its own.
    pub reader: String,
    /// Events read, sent and acknowledged before the checkpoint moves.
    pub batch_size: usize,
    /// How often a caught-up relay looks for events other processes appended (appends in
    /// this process wake it at once).
    pub poll_interval: Duration,
    /// How long Kafka may take to acknowledge a message (`message.timeout.ms`) before the
    /// relay gives up on the batch, backs off and publishes again from its checkpoint.
    pub delivery_timeout: Duration,
}

// Everything but the brokers, which have no sensible default: a relay without them
// fails to start (`RelayError::Config`).
impl Default for RelayConfig {
    fn default() -> Self {
        Self::new("")
    }
}

impl RelayConfig {
    pub const DEFAULT_TOPIC_PREFIX: &'static str = "shop.";
    pub const DEFAULT_READER: &'static str = "relay";

    /// Defaults for everything but the brokers.
    pub fn new(brokers: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            topic_prefix: Self::DEFAULT_TOPIC_PREFIX.to_owned(),
            cloudevents_source: events::contract::cloudevents::DEFAULT_SOURCE.to_owned(),
            reader: Self::DEFAULT_READER.to_owned(),
            batch_size: 500,
            poll_interval: Duration::from_millis(200),
            delivery_timeout: Duration::from_secs(30),
        }
    }

    /// The topic that carries a stream category's events.
    pub fn topic(&self, category: &str) -> String {
        format!("{}{category}", self.topic_prefix)
    }
}
