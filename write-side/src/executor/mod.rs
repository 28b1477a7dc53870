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
mod registry;

use crate::domain::Aggregate;
use crate::idempotency::IdempotencyKey;
use event_store::{EventStore, StoreError, StoredClaim};
use events::{ConsistencyToken, Metadata, StreamId};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

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
    /// After a version conflict or a batch of `turn_from_batch`, how long a stream takes
    /// turns with other processes (`store::turns`) before it goes back to plain optimistic
    /// appends.
    pub contended_for: Duration,
    /// Longest wait for a turn; past it the batch is decided without one.
    pub turn_wait: Duration,
    /// A batch of this many commands takes a turn even without a conflict (a rush).
    pub turn_from_batch: usize,
    /// A command still queued this long after it was sent is answered `Overloaded`
    /// without being decided. Once decided, its caller waits for the commit's real
    /// outcome: an answer never says "retry" for a command that may still commit.
    pub max_queue_wait: Duration,
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
            max_queue_wait: Duration::from_secs(10),
        }
    }
}

/// A decided and durable command: what the aggregate replied, and where its write landed
/// (the token the caller can hand to the query side to read its own write).
#[derive(Debug, Clone)]
pub struct Executed<R> {
    pub reply: R,
    pub token: ConsistencyToken,
    /// The recorded answer to an earlier request with the same idempotency key.
    pub replayed: bool,
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
    /// The idempotency key was recorded for another request.
    #[error("the Idempotency-Key was already used for another request")]
    KeyReused,
    /// Another request recorded the key while this one ran, and its record could not be
    /// read back in the batch (a key recorded meanwhile is normally answered from its
    /// record there); `execute_keyed` reads it once more.
    #[error("the Idempotency-Key was recorded by another request meanwhile")]
    KeyTaken,
}

pub type ExecuteResult<A> =
    Result<Executed<<A as Aggregate>::Reply>, ExecuteError<<A as Aggregate>::Error>>;

pub(crate) struct Job<A: Aggregate> {
    pub command: A::Command,
    pub metadata: Metadata,
    /// Recorded with the command's events if it is accepted.
    pub claim: Option<IdempotencyKey>,
    /// Past this, the command is answered `Overloaded` instead of being decided.
    pub deadline: std::time::Instant,
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
    /// Every task of this executor: one mailbox per hot stream and the snapshot writes in
    /// flight. `drain` waits for them at shutdown.
    pub tasks: tokio_util::task::TaskTracker,
    /// Cancelled by `drain`: every mailbox stops taking commands, decides and commits what
    /// it has queued, and ends.
    pub closing: tokio_util::sync::CancellationToken,
    /// Histograms every command records into, looked up once: a `histogram!` call builds
    /// its key and searches the registry each time.
    pub mailbox_depth: metrics::Histogram,
    pub batch_size: metrics::Histogram,
}

pub struct Executor<A: Aggregate> {
    shared: Arc<Shared>,
    mailboxes: Arc<registry::Registry<A>>,
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
        let mailboxes = Arc::new(registry::Registry::new(
            usize::try_from(config.max_hot_aggregates).unwrap_or(usize::MAX),
        ));
        Self {
            shared: Arc::new(Shared {
                loader: loader::Loader::spawn(store.clone()),
                store,
                config,
                tasks: tokio_util::task::TaskTracker::new(),
                closing: tokio_util::sync::CancellationToken::new(),
                mailbox_depth: metrics::histogram!("shop_executor_mailbox_depth", "aggregate" => A::NAME),
                batch_size: metrics::histogram!("shop_executor_batch_size", "aggregate" => A::NAME),
            }),
            mailboxes,
        }
    }

    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.shared.store
    }

    /// Streams held in memory now, each with its mailbox task and hydrated state.
    pub fn hot_streams(&self) -> usize {
        self.mailboxes.held()
    }

    /// At shutdown, once no command can arrive: closes every mailbox, so each decides and
    /// commits what it has queued and ends, and waits up to `within` for them and for the
    /// snapshot writes still running (a snapshot cut off is only a snapshot less: loading
    /// replays); then joins the loading task. False if the wait ran out.
    pub async fn drain(&self, within: Duration) -> bool {
        self.shared.closing.cancel();
        self.mailboxes.clear();
        let tasks = &self.shared.tasks;
        tasks.close();
        let drained = tokio::time::timeout(within, tasks.wait()).await.is_ok();
        if drained {
            self.shared.loader.close().await;
        }
        drained
    }

    #[tracing::instrument(level = "debug", skip_all, fields(stream = %stream))]
    pub async fn execute(
        &self,
        stream: StreamId,
        command: A::Command,
        metadata: Metadata,
    ) -> ExecuteResult<A> {
        self.timed(stream, command, metadata, None, Fresh::No).await
    }

    /// What an earlier command sent with `key` answered, if one was recorded: `Ok(None)`
    /// if none was; `KeyReused` if it was sent with another request.
    pub async fn replay(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Option<Executed<A::Reply>>, ExecuteError<A::Error>> {
        let stored = self
            .shared
            .store
            .load_claim(&key.scope, &key.key)
            .await
            .map_err(|e| ExecuteError::Store(Arc::new(e)))?;
        stored.map(|stored| replayed::<A>(key, stored)).transpose()
    }

    /// Like `execute` (or `execute_new` with `fresh`), recording the outcome under `key`
    /// in the same transaction as the events. A key recorded already is answered with its
    /// record: the batch reads the records of its keys against the state it decides on
    /// (so a record another process writes meanwhile is caught by the version check), and
    /// a record made with another stream (a repeated placement, which allocated a new id)
    /// fails the append as `KeyTaken` and is read then. Nothing is read up front: the
    /// first request with a key, by far the most common, pays no extra round trip.
    pub async fn execute_keyed(
        &self,
        stream: StreamId,
        command: A::Command,
        metadata: Metadata,
        key: &IdempotencyKey,
        fresh: bool,
    ) -> ExecuteResult<A> {
        let fresh = if fresh { Fresh::Yes } else { Fresh::No };
        let result = self
            .timed(stream, command, metadata, Some(key.clone()), fresh)
            .await;
        match result {
            Err(ExecuteError::KeyTaken) => self.replay(key).await?.ok_or(ExecuteError::Overloaded),
            result => result,
        }
    }

    /// `execute_keyed` with a key, plain `execute` without one.
    pub async fn execute_idempotent(
        &self,
        stream: StreamId,
        command: A::Command,
        metadata: Metadata,
        key: Option<&IdempotencyKey>,
    ) -> ExecuteResult<A> {
        match key {
            Some(key) => {
                self.execute_keyed(stream, command, metadata, key, false)
                    .await
            }
            None => self.execute(stream, command, metadata).await,
        }
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
        self.timed(stream, command, metadata, None, Fresh::Yes)
            .await
    }

    async fn timed(
        &self,
        stream: StreamId,
        command: A::Command,
        metadata: Metadata,
        claim: Option<IdempotencyKey>,
        fresh: Fresh,
    ) -> ExecuteResult<A> {
        let started = std::time::Instant::now();
        let name = A::command_name(&command);
        let result = self.run(stream, command, metadata, claim, fresh).await;
        let outcome = match &result {
            Ok(_) => "accepted",
            Err(ExecuteError::Rejected(_)) => "rejected",
            Err(ExecuteError::Overloaded) => "overloaded",
            Err(ExecuteError::Store(_)) => "error",
            Err(ExecuteError::ShuttingDown) => "shutting-down",
            Err(ExecuteError::KeyReused | ExecuteError::KeyTaken) => "key-taken",
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
        claim: Option<IdempotencyKey>,
        fresh: Fresh,
    ) -> ExecuteResult<A> {
        let (answer, answered) = oneshot::channel();
        let job: Job<A> = Job {
            command,
            metadata,
            claim,
            deadline: std::time::Instant::now() + self.shared.config.max_queue_wait,
            answer,
        };
        match self.shared.config.strategy {
            // Boxed: inline, this baseline's state machine made every `execute` future
            // (and every future awaiting one) kilobytes larger, to be moved on each call.
            Strategy::Direct => Box::pin(direct(self.shared.clone(), stream, job, fresh)).await,
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
        if self.shared.closing.is_cancelled() {
            return Err(ExecuteError::ShuttingDown);
        }
        let mut job = job;
        // A mailbox whose task has ended while still held (it panicked) is replaced once.
        for _ in 0..2 {
            match self
                .mailboxes
                .send(&self.shared, &stream, job, || fresh.state())
            {
                registry::Sent::Queued { depth } => {
                    self.shared.mailbox_depth.record(depth as f64);
                    return Ok(());
                }
                registry::Sent::Full => return Err(ExecuteError::Overloaded),
                registry::Sent::AtCapacity(returned) => {
                    // `max_hot_aggregates` streams are held: this one is decided without a
                    // mailbox, as `Direct` does.
                    let shared = self.shared.clone();
                    self.shared
                        .tasks
                        .spawn(direct(shared, stream, returned, fresh));
                    return Ok(());
                }
                registry::Sent::Closed(returned) => {
                    if self.shared.closing.is_cancelled() {
                        return Err(ExecuteError::ShuttingDown);
                    }
                    self.mailboxes.forget_closed(&stream);
                    job = returned;
                }
            }
        }
        Err(ExecuteError::ShuttingDown)
    }
}

/// Decides `job` without a mailbox: loads the stream (unless `fresh`), decides, appends;
/// the version check orders it against anything else on the stream.
async fn direct<A: Aggregate>(shared: Arc<Shared>, stream: StreamId, job: Job<A>, fresh: Fresh) {
    let mut jobs = vec![job];
    let mut hydrated = fresh.state();
    batch::run(
        &shared,
        &stream,
        &mut hydrated,
        &mut jobs,
        batch::OnConflict::Retry,
    )
    .await;
}

/// A stored record as the answer to `key`: the recorded reply if the request matches.
pub(crate) fn replayed<A: Aggregate>(
    key: &IdempotencyKey,
    stored: StoredClaim,
) -> Result<Executed<A::Reply>, ExecuteError<A::Error>> {
    if stored.fingerprint != key.fingerprint {
        return Err(ExecuteError::KeyReused);
    }
    let reply = postcard::from_bytes(&stored.outcome).map_err(|e| {
        ExecuteError::Store(Arc::new(StoreError::Corrupt(format!(
            "the record of an idempotency key on {}: {e}",
            stored.stream
        ))))
    })?;
    Ok(Executed {
        reply,
        token: ConsistencyToken::new(stored.position, stored.stream, stored.stream_version),
        replayed: true,
    })
}
