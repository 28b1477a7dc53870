//! The relay loop. Standby: try the leader lock every second. Leading: from the durable
//! checkpoint, read a batch in global order, send it, wait until Kafka acknowledged all of
//! it, then move the checkpoint; when caught up, wait for an append (or poll, since other
//! processes append too). Any failure ends the term: give the lock up, back off, and start
//! again from the checkpoint, so events may be republished but are never skipped.

use super::RelayError;
use super::config::RelayConfig;
use super::message::{OutgoingMessage, Topics};
use super::publisher::Publisher;
use backon::{BackoffBuilder, ExponentialBuilder};
use event_store::EventStore;
use event_store::leader::LeaderLock;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// A standby relay asks for the lock this often.
const STANDBY_RETRY: Duration = Duration::from_secs(1);
/// A leader makes sure it still holds the lock this often, also while Kafka is slow.
const CONFIRM_INTERVAL: Duration = Duration::from_secs(1);
/// How often a leader logs how far behind the store it is.
const LAG_LOG_INTERVAL: Duration = Duration::from_secs(10);
const MIN_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// What a running relay reports. Cheap to clone; outlives the relay.
#[derive(Debug, Clone)]
pub struct RelayProgress {
    published: watch::Receiver<i64>,
    leading: watch::Receiver<bool>,
}

impl RelayProgress {
    /// The global position up to which this relay has seen every event acknowledged by
    /// Kafka (and checkpointed). Only moves while this relay leads.
    pub fn published(&self) -> watch::Receiver<i64> {
        self.published.clone()
    }

    /// Whether this relay currently holds the leader lock and publishes.
    pub fn leading(&self) -> watch::Receiver<bool> {
        self.leading.clone()
    }
}

/// A relay ready to run; `progress()` before `run` to watch it.
pub struct Relay {
    store: Arc<dyn EventStore>,
    lock: Box<dyn LeaderLock>,
    config: RelayConfig,
    published: watch::Sender<i64>,
    leading: watch::Sender<bool>,
}

impl Relay {
    pub fn new(
        store: Arc<dyn EventStore>,
        lock: Box<dyn LeaderLock>,
        config: RelayConfig,
    ) -> Result<Self, RelayError> {
        if config.brokers.trim().is_empty() {
            return Err(RelayError::Config("brokers must not be empty".to_owned()));
        }
        if config.reader.is_empty() {
            return Err(RelayError::Config("reader must not be empty".to_owned()));
        }
        if config.batch_size == 0 {
            return Err(RelayError::Config(
                "batch_size must be at least 1".to_owned(),
            ));
        }
        Ok(Self {
            store,
            lock,
            config,
            published: watch::Sender::new(0),
            leading: watch::Sender::new(false),
        })
    }

    pub fn progress(&self) -> RelayProgress {
        RelayProgress {
            published: self.published.subscribe(),
            leading: self.leading.subscribe(),
        }
    }

    /// Runs until `shutdown` is cancelled (then returns `Ok`), or a failure that retrying
    /// cannot cure, such as a producer configuration Kafka rejects.
    pub async fn run(mut self, shutdown: CancellationToken) -> Result<(), RelayError> {
        let mut delays = backoff();
        while !shutdown.is_cancelled() {
            let pause = match self.lock.try_acquire().await {
                Ok(true) => {
                    let (outcome, progressed) = self.term(&shutdown).await;
                    match outcome {
                        Ok(()) => return Ok(()),
                        Err(error) if error.is_fatal() => return Err(error),
                        Err(error @ RelayError::Message(_)) => {
                            metrics::counter!("shop_relay_publish_errors_total", "kind" => "message")
                                .increment(1);
                            // An event this build cannot render blocks everything after
                            // it until a build that can takes over: loud, never skipped.
                            tracing::error!(
                                %error,
                                reader = %self.config.reader,
                                "relay cannot publish an event; stepping down and retrying"
                            );
                            delays.next().unwrap_or(MAX_BACKOFF)
                        }
                        Err(error) => {
                            metrics::counter!("shop_relay_publish_errors_total", "kind" => "publish")
                                .increment(1);
                            tracing::warn!(
                                %error,
                                reader = %self.config.reader,
                                "relay stopped publishing; will resume from its checkpoint"
                            );
                            if progressed {
                                delays = backoff();
                            }
                            delays.next().unwrap_or(MAX_BACKOFF)
                        }
                    }
                }
                Ok(false) => {
                    // The database answers again: forget earlier connection trouble.
                    delays = backoff();
                    STANDBY_RETRY
                }
                Err(error) => {
                    tracing::warn!(%error, "relay cannot ask for the leader lock");
                    delays.next().unwrap_or(MAX_BACKOFF)
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
        Ok(())
    }

    /// One term as leader, from taking the lock to giving it up. Also says whether any
    /// batch got through, so a relay that fails only now and then backs off from scratch.
    async fn term(&mut self, shutdown: &CancellationToken) -> (Result<(), RelayError>, bool) {
        tracing::info!(reader = %self.config.reader, "relay is now the leader");
        self.leading.send_replace(true);
        let mut progressed = false;
        let outcome = match Publisher::new(&self.config) {
            Ok(publisher) => {
                let outcome = self
                    .publish_until_stopped(&publisher, shutdown, &mut progressed)
                    .await;
                publisher.close().await;
                outcome
            }
            Err(error) => Err(error.into()),
        };
        // Stop claiming leadership before letting another relay take it.
        self.leading.send_replace(false);
        self.lock.release().await;
        tracing::info!(reader = %self.config.reader, "relay is no longer the leader");
        (outcome, progressed)
    }

    async fn publish_until_stopped(
        &mut self,
        publisher: &Publisher,
        shutdown: &CancellationToken,
        progressed: &mut bool,
    ) -> Result<(), RelayError> {
        let reader = self.config.reader.clone();
        let topics = Topics::new(&self.config);
        let mut guard = Guard {
            lock: self.lock.as_mut(),
            shutdown,
            next_confirm: Instant::now() + CONFIRM_INTERVAL,
        };
        let mut position = self.store.load_checkpoint(&reader).await?;
        self.published.send_replace(position);
        let mut head = self.store.subscribe_head();
        let mut next_lag_log = Instant::now();
        loop {
            // Marked seen before reading, so an append after the read wakes the wait.
            head.borrow_and_update();
            let batch = self
                .store
                .read_all(position, self.config.batch_size)
                .await?;
            if let Some(last) = batch.last() {
                let messages = batch
                    .iter()
                    .map(|event| OutgoingMessage::from_recorded(event, &topics, &self.config))
                    .collect::<Result<Vec<_>, _>>()?;
                let Some(sent) = guard.watch(publisher.publish(messages)).await? else {
                    // Shut down mid-batch: nothing was checkpointed, the next leader
                    // publishes this batch again.
                    return Ok(());
                };
                sent?;
                self.store
                    .save_checkpoint(&reader, last.global_position)
                    .await?;
                position = last.global_position;
                self.published.send_replace(position);
                *progressed = true;
                metrics::counter!("shop_relay_published_events_total")
                    .increment(batch.len() as u64);
                metrics::gauge!("shop_relay_published_position").set(position as f64);
                // The store's head as this process knows it: a cheap lower bound of the lag.
                let head = *head.borrow();
                metrics::gauge!("shop_relay_lag_events").set((head - position).max(0) as f64);
            }
            if Instant::now() >= next_lag_log {
                next_lag_log = Instant::now() + LAG_LOG_INTERVAL;
                let store_head = self.store.head_position().await?;
                let lag = store_head - position;
                metrics::gauge!("shop_relay_lag_events").set(lag.max(0) as f64);
                if lag > 0 {
                    tracing::info!(
                        reader = %reader,
                        published = position,
                        head = store_head,
                        lag,
                        "relay progress"
                    );
                } else {
                    tracing::debug!(reader = %reader, published = position, "relay caught up");
                }
            }
            if batch.len() == self.config.batch_size {
                // There may be more right away.
                guard.confirm_if_due().await?;
                if shutdown.is_cancelled() {
                    return Ok(());
                }
                continue;
            }
            let wait = wait_for_append(&mut head, self.config.poll_interval);
            if guard.watch(wait).await?.is_none() {
                return Ok(());
            }
        }
    }
}

/// Runs a leader's work while keeping an eye on shutdown and on the lock.
struct Guard<'a> {
    lock: &'a mut dyn LeaderLock,
    shutdown: &'a CancellationToken,
    next_confirm: Instant,
}

impl Guard<'_> {
    /// `future`'s output, or `None` when shutdown came first; an error as soon as the lock
    /// is found lost, dropping `future` (so a leader stops sending mid-batch).
    async fn watch<F: Future>(&mut self, future: F) -> Result<Option<F::Output>, RelayError> {
        tokio::pin!(future);
        loop {
            tokio::select! {
                biased;
                () = self.shutdown.cancelled() => return Ok(None),
                output = &mut future => return Ok(Some(output)),
                () = tokio::time::sleep_until(self.next_confirm) => self.confirm_if_due().await?,
            }
        }
    }

    async fn confirm_if_due(&mut self) -> Result<(), RelayError> {
        if Instant::now() >= self.next_confirm {
            self.lock.confirm().await?;
            self.next_confirm = Instant::now() + CONFIRM_INTERVAL;
        }
        Ok(())
    }
}

/// Returns when this process appends, or after `poll_interval` for appends by others.
async fn wait_for_append(head: &mut watch::Receiver<i64>, poll_interval: Duration) {
    tokio::select! {
        changed = head.changed() => {
            if changed.is_err() {
                // The store is gone; polling is all that is left.
                tokio::time::sleep(poll_interval).await;
            }
        }
        () = tokio::time::sleep(poll_interval) => {}
    }
}

fn backoff() -> impl Iterator<Item = Duration> {
    ExponentialBuilder::default()
        .with_min_delay(MIN_BACKOFF)
        .with_max_delay(MAX_BACKOFF)
        .with_jitter()
        .without_max_times()
        .build()
}
