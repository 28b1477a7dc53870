//! The command executor. Commands for one aggregate queue in an in-process mailbox in
//! arrival order; one task per hot aggregate drains a batch, decides each command against
//! the evolving state, appends the whole batch in one transaction (group commit) and then
//! answers every caller. If another process moved the stream, it reloads and decides the
//! batch again, with bounded jittered retries; when they run out callers are told to retry
//! later, never given a wrong answer.
//!
//! The `Direct` strategy is the naive baseline: load, decide, append per command with the
//! same optimistic retry and no mailbox. It exists so benchmarks can show what group
//! commit buys.

mod batch;
mod hydrate;
mod loader;
mod mailbox;

use crate::domain::Aggregate;
use crate::store::{EventStore, StoreError};
use events::{ConsistencyToken, Metadata, StreamId};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    Mailbox,
    Direct,
}

#[derive(Debug, Clone)]
pub struct ExecutorConfig {
    pub strategy: Strategy,
    /// Most commands decided and appended in one transaction.
    pub max_batch: usize,
    /// Commands waiting per aggregate before callers are told the service is overloaded.
    pub mailbox_capacity: usize,
    /// Re-decides after version conflicts before giving up with `Overloaded`.
    pub max_retries: usize,
    pub retry_min_delay: Duration,
    pub retry_max_delay: Duration,
    /// A hydrated aggregate nobody sent a command to for this long is dropped.
    pub idle_eviction: Duration,
    pub max_hot_aggregates: u64,
    /// A snapshot is written once a stream has grown this many events past the last one.
    pub snapshot_every: i64,
    /// After a version conflict, how long a stream takes turns with other processes
    /// (`store::turns`) before it goes back to plain optimistic appends.
    pub contended_for: Duration,
    /// Longest wait for a turn; past it the batch is decided without one.
    pub turn_wait: Duration,
    /// A batch of this many commands takes a turn even without a conflict (a rush).
    pub turn_from_batch: usize,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        Self {
            strategy: Strategy::Mailbox,
            max_batch: 512,
            mailbox_capacity: 20_000,
            max_retries: 30,
            retry_min_delay: Duration::from_millis(1),
            retry_max_delay: Duration::from_millis(100),
            idle_eviction: Duration::from_secs(60),
            max_hot_aggregates: 100_000,
            snapshot_every: 200,
            contended_for: Duration::from_secs(10),
            turn_wait: Duration::from_secs(2),
            turn_from_batch: 16,
        }
    }
}

/// A decided and durable command: what the aggregate replied, and where its write landed
/// (the token the caller can hand to the query side to read its own write).
#[derive(Debug, Clone)]
pub struct Executed<R> {
    pub reply: R,
    pub token: ConsistencyToken,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ExecuteError<E> {
    #[error(transparent)]
    Rejected(E),
    #[error("too much contention or too many queued commands; retry later")]
    Overloaded,
    #[error(transparent)]
    Store(Arc<StoreError>),
    #[error("the executor is shutting down")]
    ShuttingDown,
}

pub type ExecuteResult<A> =
    Result<Executed<<A as Aggregate>::Reply>, ExecuteError<<A as Aggregate>::Error>>;

pub(crate) struct Job<A: Aggregate> {
    pub command: A::Command,
    pub metadata: Metadata,
    pub answer: oneshot::Sender<ExecuteResult<A>>,
}

/// Whether the caller knows the stream is new (see `execute_new`).
#[derive(Debug, Clone, Copy)]
enum Fresh {
    Yes,
    No,
}

impl Fresh {
    /// The state a new mailbox starts from: the empty stream, or unknown (load it).
    fn state<A: Aggregate>(self) -> Option<hydrate::Hydrated<A>> {
        match self {
            Fresh::Yes => Some(hydrate::empty()),
            Fresh::No => None,
        }
    }
}

pub(crate) struct Shared {
    pub store: Arc<dyn EventStore>,
    pub config: ExecutorConfig,
    pub loader: loader::Loader,
}

pub struct Executor<A: Aggregate> {
    shared: Arc<Shared>,
    mailboxes: moka::sync::Cache<StreamId, mpsc::Sender<Job<A>>>,
}

impl<A: Aggregate> Clone for Executor<A> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            mailboxes: self.mailboxes.clone(),
        }
    }
}

impl<A: Aggregate> Executor<A> {
    pub fn new(store: Arc<dyn EventStore>, config: ExecutorConfig) -> Self {
        // Dropping the cache's sender lets an idle mailbox task finish its queue and end,
        // which is what frees the hydrated state.
        let mailboxes = moka::sync::Cache::builder()
            .max_capacity(config.max_hot_aggregates)
            .time_to_idle(config.idle_eviction)
            .build();
        Self {
            shared: Arc::new(Shared {
                loader: loader::Loader::spawn(store.clone()),
                store,
                config,
            }),
            mailboxes,
        }
    }

    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.shared.store
    }

    #[tracing::instrument(level = "debug", skip_all, fields(stream = %stream))]
    pub async fn execute(
        &self,
        stream: StreamId,
        command: A::Command,
        metadata: Metadata,
    ) -> ExecuteResult<A> {
        self.timed(stream, command, metadata, Fresh::No).await
    }

    /// Like `execute`, for a stream this process just allocated the id of (an order): it
    /// is decided against the empty state without reading the store. Should the stream
    /// exist after all, the append's version check fails and the command is decided again
    /// against the stream as stored, so the hint saves a read and can never cost a
    /// wrong answer.
    pub async fn execute_new(
        &self,
        stream: StreamId,
        command: A::Command,
        metadata: Metadata,
    ) -> ExecuteResult<A> {
        self.timed(stream, command, metadata, Fresh::Yes).await
    }

    async fn timed(
        &self,
        stream: StreamId,
        command: A::Command,
        metadata: Metadata,
        fresh: Fresh,
    ) -> ExecuteResult<A> {
        let started = std::time::Instant::now();
        let name = A::command_name(&command);
        let result = self.run(stream, command, metadata, fresh).await;
        let outcome = match &result {
            Ok(_) => "accepted",
            Err(ExecuteError::Rejected(_)) => "rejected",
            Err(ExecuteError::Overloaded) => "overloaded",
            Err(ExecuteError::Store(_)) => "error",
            Err(ExecuteError::ShuttingDown) => "shutting-down",
        };
        metrics::histogram!(
            "shop_command_duration_seconds",
            "aggregate" => A::NAME,
            "command" => name,
            "outcome" => outcome
        )
        .record(started.elapsed().as_secs_f64());
        result
    }

    async fn run(
        &self,
        stream: StreamId,
        command: A::Command,
        metadata: Metadata,
        fresh: Fresh,
    ) -> ExecuteResult<A> {
        let (answer, answered) = oneshot::channel();
        let job: Job<A> = Job {
            command,
            metadata,
            answer,
        };
        match self.shared.config.strategy {
            Strategy::Direct => {
                let mut jobs = vec![job];
                let mut hydrated = fresh.state();
                batch::run(&self.shared, &stream, &mut hydrated, &mut jobs).await;
            }
            Strategy::Mailbox => self.enqueue(stream, job, fresh)?,
        }
        answered.await.map_err(|_| ExecuteError::ShuttingDown)?
    }

    fn enqueue(
        &self,
        stream: StreamId,
        job: Job<A>,
        fresh: Fresh,
    ) -> Result<(), ExecuteError<A::Error>> {
        let mut job = job;
        // A mailbox whose task has ended (it can only end once its senders are gone, so
        // this is rare) is replaced once.
        for _ in 0..2 {
            let sender = self.mailboxes.get_with(stream.clone(), || {
                mailbox::spawn(self.shared.clone(), stream.clone(), fresh.state())
            });
            let depth = sender.max_capacity() - sender.capacity();
            metrics::histogram!("shop_executor_mailbox_depth", "aggregate" => A::NAME)
                .record(depth as f64);
            match sender.try_send(job) {
                Ok(()) => return Ok(()),
                Err(mpsc::error::TrySendError::Full(_)) => return Err(ExecuteError::Overloaded),
                Err(mpsc::error::TrySendError::Closed(returned)) => {
                    self.mailboxes.invalidate(&stream);
                    job = returned;
                }
            }
        }
        Err(ExecuteError::ShuttingDown)
    }
}
