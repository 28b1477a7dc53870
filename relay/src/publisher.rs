//! The Kafka side of the relay: an idempotent producer, and sending a batch in order and
//! waiting until Kafka has acknowledged every message of it.

use super::config::RelayConfig;
use super::message::OutgoingMessage;
use rdkafka::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("cannot create the Kafka producer: {0}")]
    Create(#[source] KafkaError),
    #[error("cannot queue a message for {topic}: {source}")]
    Enqueue {
        topic: String,
        #[source]
        source: KafkaError,
    },
    #[error("Kafka did not acknowledge a message for {topic}: {source}")]
    Delivery {
        topic: String,
        #[source]
        source: KafkaError,
    },
    #[error("the Kafka producer dropped a message without a delivery report")]
    Canceled,
}

/// How long to wait for room when librdkafka's local queue is full.
const QUEUE_FULL_PAUSE: Duration = Duration::from_millis(10);

pub(crate) struct Publisher {
    producer: FutureProducer,
}

impl Publisher {
    pub(crate) fn new(config: &RelayConfig) -> Result<Self, PublishError> {
        let timeout_ms = config.delivery_timeout.as_millis().max(1).to_string();
        let producer = ClientConfig::new()
            .set("bootstrap.servers", &config.brokers)
            .set("client.id", format!("shop-relay-{}", config.reader))
            // Idempotence keeps each partition's order and drops duplicates across
            // librdkafka's internal retries; it needs every in-sync replica's ack.
            .set("enable.idempotence", "true")
            .set("acks", "all")
            // A message that fails must not leave a hole before later ones of its
            // partition: librdkafka then fails the producer instead, and the relay
            // republishes from its checkpoint, in order.
            .set("enable.gapless.guarantee", "true")
            .set("message.timeout.ms", timeout_ms)
            // The Java client's default partitioner, so consumers and tools in other
            // languages map a stream id to the same partition we do.
            .set("partitioner", "murmur2_random")
            .create()
            .map_err(PublishError::Create)?;
        Ok(Self { producer })
    }

    /// Queues every message in order, then waits for every delivery report. Returns only
    /// when Kafka has acknowledged all of them, or at the first failure.
    pub(crate) async fn publish(
        &self,
        messages: Vec<OutgoingMessage<'_>>,
    ) -> Result<(), PublishError> {
        let mut deliveries = Vec::with_capacity(messages.len());
        for message in messages {
            let topic = message.topic;
            let mut record = FutureRecord::to(topic)
                .key(message.key)
                .payload(message.payload.as_slice())
                .headers(message.headers);
            // Queued one by one in position order: that is the order within a partition.
            let delivery = loop {
                match self.producer.send_result(record) {
                    Ok(delivery) => break delivery,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        // The producer's own thread drains the queue; messages time out
                        // after `delivery_timeout` at worst, so this wait ends.
                        record = back;
                        tokio::time::sleep(QUEUE_FULL_PAUSE).await;
                    }
                    Err((source, _)) => {
                        return Err(PublishError::Enqueue {
                            topic: topic.to_owned(),
                            source,
                        });
                    }
                }
            };
            deliveries.push((delivery, topic));
        }
        for (delivery, topic) in deliveries {
            match delivery.await {
                Ok(Ok(_)) => {}
                Ok(Err((source, _))) => {
                    return Err(PublishError::Delivery {
                        topic: topic.to_owned(),
                        source,
                    });
                }
                Err(_) => return Err(PublishError::Canceled),
            }
        }
        Ok(())
    }

    /// Drops the producer off the async runtime: librdkafka purges what is still queued
    /// and joins its thread, which blocks for up to half a second.
    pub(crate) async fn close(self) {
        let producer = self.producer;
        if let Err(error) = tokio::task::spawn_blocking(move || drop(producer)).await {
            tracing::warn!(%error, "closing the Kafka producer");
        }
    }
}
