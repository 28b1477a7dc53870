//! The event store: append-only streams with optimistic versions, a global order for
//! readers of every stream, snapshots, id sequences and idempotency records, on SQLite
//! (one process) or MySQL/MariaDB (many), with group commit; and the leader locks that let
//! one process of many run a singleton job. It knows events only as bytes and envelopes
//! (`events`), nothing of aggregates, commands or HTTP.

pub mod batch_queue;
mod claims;
mod group_commit;
pub mod leader;
pub mod mysql;
mod queries;
mod row;
mod shapes;
pub mod sqlite;
pub mod turns;
mod unique_key;

pub use claims::{Claim, StoredClaim};

use async_trait::async_trait;
use events::{NewEntry, NewEvent, RecordedEvent, StreamId};
use std::collections::HashMap;
use std::ops::Range;
use tokio::sync::watch;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("stream {stream} moved: expected version {expected}, found {actual}")]
    Conflict {
        stream: StreamId,
        expected: i64,
        actual: i64,
    },
    /// An idempotency key of the append was recorded by another request meanwhile; nothing
    /// of the append was written.
    #[error("an idempotency key of stream {stream} was recorded meanwhile")]
    KeyTaken { stream: StreamId },
    #[error("event store {operation} failed: {source}")]
    Database {
        operation: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("event store {operation} failed: {source}")]
    Sqlite {
        operation: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    /// The database rolled a whole write batch back by itself (a full disk, an I/O error).
    #[error("the database rolled the write batch back after an error")]
    RolledBack,
    #[error("event store migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A broken invariant of shop's own code, not of the stored data (an event that will
    /// not encode, an id sequence out of its range, a read that panicked): answered 500
    /// and logged as a bug.
    #[error("bug: {0}")]
    Bug(String),
    #[error("cannot start the SQLite writer thread: {0}")]
    WriterThread(#[source] std::io::Error),
    /// The connection failed during COMMIT: the batch may or may not be written. The
    /// group commit settles it by reading the events back (`group_commit`).
    #[error("the outcome of a commit is unknown: {0}")]
    CommitUnknown(#[source] sqlx::Error),
    /// Whether the append was written could not be told, even after retrying to read it
    /// back: a retry with the command's idempotency key is safe.
    #[error("whether the append was written is unknown: {0}")]
    OutcomeUnknown(std::sync::Arc<StoreError>),
    /// The group commit this append was part of failed; nothing of it was written.
    #[error("the append batch failed: {0}")]
    Batch(std::sync::Arc<StoreError>),
    #[error("the event store's writer has stopped")]
    WriterStopped,
}

impl StoreError {
    /// Whether the failure passes by itself (the database is down, unreachable, busy, or
    /// shed the transaction: a lost connection, a deadlock, a lock wait timeout), so the
    /// caller may retry; the rest are bugs or damaged data.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Conflict { .. } | StoreError::KeyTaken { .. } => true,
            StoreError::Database { source, .. } => api_common::outage::is_transient_sqlx(source),
            StoreError::Sqlite { source, .. } => transient_sqlite(source),
            StoreError::RolledBack | StoreError::WriterStopped => true,
            StoreError::CommitUnknown(_) | StoreError::OutcomeUnknown(_) => true,
            StoreError::Batch(inner) => inner.is_transient(),
            StoreError::Migrate(_)
            | StoreError::Corrupt(_)
            | StoreError::Bug(_)
            | StoreError::WriterThread(_) => false,
        }
    }

    pub(crate) fn db(operation: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
        move |source| StoreError::Database { operation, source }
    }
}

fn transient_sqlite(error: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode;
    error.sqlite_error_code().is_some_and(|code| {
        matches!(
            code,
            ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::SystemIoFailure
                | ErrorCode::DiskFull
                | ErrorCode::OutOfMemory
        )
    })
}

/// A stream's newest snapshot and its events after it (all of them without one).
pub type Loaded = (Option<Snapshot>, Vec<RecordedEvent>);

/// Where an append landed. Positions of one append are consecutive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// The stream's version after the append (its last event's version).
    pub stream_version: i64,
    /// Global positions of the first and last appended events.
    pub first_position: i64,
    pub last_position: i64,
}

/// A stream's state as of a version, encoded by the aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub stream_id: StreamId,
    pub stream_version: i64,
    /// Global position of the stream's event at `stream_version`.
    pub global_position: i64,
    pub schema_version: u16,
    pub payload: Vec<u8>,
}

#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Appends `events` atomically after version `expected` (0 for a new stream).
    /// Fails with `StoreError::Conflict` if the stream is at another version.
    async fn append(
        &self,
        stream: &StreamId,
        expected: i64,
        events: &[NewEvent],
    ) -> Result<Appended, StoreError> {
        self.append_claimed(stream, expected, events, &[], &[])
            .await
    }

    /// Like `append`, and writes `entries` (the stream's keyed state, see
    /// `domain::entries`) in the same transaction. A unique entry whose key the stream
    /// already has fails the append with `StoreError::Conflict`, as a moved version
    /// would. With no events, only the entries are written (still version-checked).
    async fn append_with_entries(
        &self,
        stream: &StreamId,
        expected: i64,
        events: &[NewEvent],
        entries: &[NewEntry],
    ) -> Result<Appended, StoreError> {
        self.append_claimed(stream, expected, events, entries, &[])
            .await
    }

    /// Like `append_with_entries`, and records `claims` (idempotency keys and the outcomes
    /// of the commands that sent them) in the same transaction. A key already recorded
    /// fails the append with `StoreError::KeyTaken`.
    async fn append_claimed(
        &self,
        stream: &StreamId,
        expected: i64,
        events: &[NewEvent],
        entries: &[NewEntry],
        claims: &[Claim],
    ) -> Result<Appended, StoreError>;

    /// The record of an idempotency key, if one was written (and not swept yet).
    async fn load_claim(&self, scope: &str, key: &str) -> Result<Option<StoredClaim>, StoreError>;

    /// `load_claim` for many `(scope, key)` pairs, in their order: what a batch of keyed
    /// commands needs, in as few round trips as the backend can.
    async fn load_claims(
        &self,
        keys: &[(&str, &str)],
    ) -> Result<Vec<Option<StoredClaim>>, StoreError> {
        let mut found = Vec::with_capacity(keys.len());
        for (scope, key) in keys {
            found.push(self.load_claim(scope, key).await?);
        }
        Ok(found)
    }

    /// Deletes the records written before `before` (microseconds since the epoch); answers
    /// how many went.
    async fn sweep_claims(&self, before: i64) -> Result<u64, StoreError>;

    /// The stored values of those of `keys` the stream has an entry for.
    async fn load_entries(
        &self,
        stream: &StreamId,
        keys: &[String],
    ) -> Result<HashMap<String, Vec<u8>>, StoreError>;

    /// The stream's current version (0 for a stream with no events).
    async fn stream_version(&self, stream: &StreamId) -> Result<i64, StoreError>;

    /// Events of one stream with version > `after_version`, in version order.
    async fn read_stream(
        &self,
        stream: &StreamId,
        after_version: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// The stream's newest snapshot and its events after it (all of them without one):
    /// what loading an aggregate needs, in one round trip where the backend can.
    async fn load_stream(&self, stream: &StreamId) -> Result<Loaded, StoreError> {
        let snapshot = self.load_snapshot(stream).await?;
        let after = snapshot.as_ref().map_or(0, |s| s.stream_version);
        Ok((snapshot, self.read_stream(stream, after).await?))
    }

    /// `load_stream` for many streams at once, in stream order: what a batch of cold
    /// streams needs, in as few round trips as the backend can.
    async fn load_streams(&self, streams: &[StreamId]) -> Result<Vec<Loaded>, StoreError> {
        let mut loaded = Vec::with_capacity(streams.len());
        for stream in streams {
            loaded.push(self.load_stream(stream).await?);
        }
        Ok(loaded)
    }

    /// Up to `limit` events with global position > `after`, in position order. Positions
    /// are assigned in commit order, so a reader never skips a late commit.
    async fn read_all(&self, after: i64, limit: usize) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Up to `limit` events of streams of `category` (`order`: `order-*`) with position in
    /// `(after, up_to]`, in position order.
    async fn read_category(
        &self,
        category: &str,
        after: i64,
        up_to: i64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// The highest committed global position (0 when empty).
    async fn head_position(&self) -> Result<i64, StoreError>;

    async fn load_snapshot(&self, stream: &StreamId) -> Result<Option<Snapshot>, StoreError>;

    /// Keeps the newest snapshot per stream.
    async fn save_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreError>;

    /// Reserves `count` consecutive values of the named id sequence (starting at 1).
    async fn reserve_ids(&self, sequence: &str, count: i64) -> Result<Range<i64>, StoreError>;

    /// A reader's durable position in the global order (0 if it never saved one), e.g.
    /// how far the relay has published.
    async fn load_checkpoint(&self, reader: &str) -> Result<i64, StoreError>;

    async fn save_checkpoint(&self, reader: &str, position: i64) -> Result<(), StoreError>;

    /// At shutdown, once nothing appends any more: commits what is queued and joins the
    /// store's writer task. Appends after it fail as `WriterStopped`. (SQLite's writer
    /// thread is joined when the store is dropped.)
    async fn close(&self) {}

    /// Turns on hot streams across processes (`turns`), where several processes can
    /// append to this store; `None` where one process is the only writer.
    fn turns(&self) -> Option<std::sync::Arc<dyn turns::StreamTurns>> {
        None
    }

    /// The head position as this process last committed it; changes after every append.
    /// Readers in the same process wait on it instead of polling.
    fn subscribe_head(&self) -> watch::Receiver<i64>;
}
