//! One Kafka projector: consume a batch, apply it to the sink (retrying until it lands),
//! store the offsets, repeat. A message that cannot be read stops the projector at that
//! message (it is retried from there, never skipped); everything else is retried in place.

use super::consumer::{self, ProjectorConsumer, is_missing_topic};
use super::message::Inbound;
use super::{InboundEvent, Sink};
use crate::error::ProjectionError;
use crate::lag::ProjectionLag;
use crate::retry::{MIN_BACKOFF, doubled};
use futures::{FutureExt, StreamExt};
use rdkafka::consumer::Consumer;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Messages per batch (one transaction, or one Redis pipeline).
const MAX_BATCH: usize = 1_000;
/// Ceiling for restarting the consumer after an unreadable message or a Kafka failure.
const MAX_RESTART_BACKOFF: Duration = Duration::from_secs(30);

pub(crate) struct ConsumerSettings {
    pub brokers: String,
    pub group_id: String,
    pub topics: Vec<String>,
}

pub(crate) async fn run(
    sink: Arc<dyn Sink>,
    settings: ConsumerSettings,
    lag: watch::Sender<ProjectionLag>,
    shutdown: CancellationToken,
) {
    let name = sink.name();
    let mut backoff = MIN_BACKOFF;
    while !shutdown.is_cancelled() {
        let ready = super::topics::ensure(&settings.brokers, &settings.topics).await;
        let result = match ready.and_then(|()| {
            consumer::create(
                name,
                &settings.brokers,
                &settings.group_id,
                &settings.topics,
                lag.clone(),
            )
        }) {
            Ok(consumer) => {
                let result = consume(&consumer, sink.as_ref(), &lag, &shutdown).await;
                close(consumer).await;
                result
            }
            Err(error) => Err(error),
        };
        match result {
            Ok(()) => backoff = MIN_BACKOFF,
            Err(error) => {
                lag.send_modify(|lag| lag.errors += 1);
                tracing::error!(projection = name, %error, ?backoff, "projector stopped; restarting its consumer");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {},
                    () = shutdown.cancelled() => {},
                }
                backoff = (backoff * 2).min(MAX_RESTART_BACKOFF);
            }
        }
    }
}

/// Dropping a consumer leaves the group and commits the stored offsets, blocking while it
/// does, so it happens off the async workers.
async fn close(consumer: ProjectorConsumer) {
    if let Err(error) = tokio::task::spawn_blocking(move || drop(consumer)).await {
        tracing::error!(%error, "closing a Kafka consumer panicked");
    }
}

/// A batch as consumed: the events this sink reads, and the offset to store per partition
/// (covering the messages passed over, too).
#[derive(Default)]
struct Batch {
    messages: usize,
    events: Vec<InboundEvent>,
    offsets: HashMap<(String, i32), i64>,
}

impl Batch {
    fn push(&mut self, inbound: Inbound) {
        self.messages += 1;
        self.offsets
            .insert((inbound.topic, inbound.partition), inbound.offset);
        self.events.extend(inbound.event);
    }

    fn is_empty(&self) -> bool {
        self.messages == 0
    }
}

/// Consumes until shutdown (`Ok`) or until a message cannot be read (`Err`, after the
/// messages before it were applied).
async fn consume(
    consumer: &ProjectorConsumer,
    sink: &dyn Sink,
    lag: &watch::Sender<ProjectionLag>,
    shutdown: &CancellationToken,
) -> Result<(), ProjectionError> {
    let mut stream = consumer.stream();
    loop {
        let mut next = tokio::select! {
            message = stream.next() => message,
            () = shutdown.cancelled() => return Ok(()),
        };
        let mut batch = Batch::default();
        let mut failure = None;
        // Take what has already arrived, without waiting for more.
        while let Some(message) = next {
            match message {
                Ok(message) => match Inbound::read(&message, sink.categories()) {
                    Ok(inbound) => batch.push(inbound),
                    Err(source) => {
                        failure = Some(ProjectionError::Message {
                            topic: rdkafka::Message::topic(&message).to_owned(),
                            partition: rdkafka::Message::partition(&message),
                            offset: rdkafka::Message::offset(&message),
                            source,
                        });
                        break;
                    }
                },
                // librdkafka recovers from these itself.
                Err(error) if is_missing_topic(&error) => {
                    tracing::debug!(projection = sink.name(), %error, "a topic does not exist yet");
                }
                Err(error) => {
                    tracing::warn!(projection = sink.name(), %error, "Kafka consumer error")
                }
            }
            if batch.messages >= MAX_BATCH {
                break;
            }
            next = stream.next().now_or_never().flatten();
        }
        if !batch.is_empty() && !apply(consumer, sink, batch, lag, shutdown).await {
            return Ok(());
        }
        if let Some(failure) = failure {
            return Err(failure);
        }
    }
}

/// Applies the batch, retrying with backoff until it lands, then stores its offsets.
/// False if shutdown came first (nothing stored: the next run redoes the batch).
async fn apply(
    consumer: &ProjectorConsumer,
    sink: &dyn Sink,
    batch: Batch,
    lag: &watch::Sender<ProjectionLag>,
    shutdown: &CancellationToken,
) -> bool {
    let mut backoff = MIN_BACKOFF;
    let mut duplicates = 0;
    if !batch.events.is_empty() {
        loop {
            match sink.apply(&batch.events).await {
                Ok(seen_before) => {
                    duplicates = seen_before;
                    sink.trace(&batch.events);
                    break;
                }
                Err(error) => {
                    lag.send_modify(|lag| lag.errors += 1);
                    tracing::warn!(projection = sink.name(), %error, ?backoff, "applying a batch failed; retrying");
                }
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {},
                () = shutdown.cancelled() => return false,
            }
            backoff = doubled(backoff);
        }
    }
    let newest = batch.events.iter().map(|e| e.envelope.recorded_at).max();
    lag.send_modify(|lag| lag.record_batch(batch.events.len(), duplicates, newest));
    for ((topic, partition), offset) in batch.offsets {
        // Fails when the partition was reassigned meanwhile; its new owner re-reads from
        // the last committed offset and the version guards skip what we applied.
        if let Err(error) = consumer.store_offset(&topic, partition, offset) {
            tracing::debug!(projection = sink.name(), %error, topic, partition, "offset not stored");
        }
    }
    true
}
