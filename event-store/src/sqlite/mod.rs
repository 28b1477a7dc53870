//! The event store on SQLite (WAL), on rusqlite. One writer at a time is SQLite's rule, so
//! every write goes to one writer thread that owns its connection and commits whatever
//! queued meanwhile in one transaction (`writer`); it takes the write lock up front
//! (`BEGIN IMMEDIATE`) so the version checks and inserts never interleave with another
//! writer's, in this process or another. Reads use their own connections (`reads`).
//!
//! sqlx still runs the migrations (the same `_sqlx_migrations` bookkeeping as before), on a
//! connection that is closed once they are done: sqlx-sqlite hands every statement to a
//! worker thread and back, which cost more than the statement itself on the hot path.

mod reads;
mod writer;

use super::group_commit::AppendRequest;
use super::{Appended, Claim, EventStore, Loaded, Snapshot, StoreError, StoredClaim};
use async_trait::async_trait;
use events::{NewEntry, NewEvent, RecordedEvent, StreamId};
use reads::Readers;
use rusqlite::OpenFlags;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{ConnectOptions, Connection as _};
use std::collections::HashMap;
use std::ops::Range;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::thread::JoinHandle;
use tokio::sync::{mpsc, oneshot, watch};
use writer::WriteOp;

/// Writes waiting for the writer thread before callers wait to queue.
const QUEUE: usize = 16_384;

#[derive(Debug, Clone, Copy)]
pub enum Durability {
    /// fsync on every commit: an acknowledged write survives power loss.
    Full,
    /// fsync at checkpoints: survives a process crash, not a power cut.
    Normal,
}

pub struct SqliteEventStore {
    head: Arc<watch::Sender<i64>>,
    /// `None` only while dropping: closing it lets the writer drain and stop.
    writes: Option<mpsc::Sender<WriteOp>>,
    writer: Option<JoinHandle<()>>,
    readers: Arc<Readers>,
}

impl SqliteEventStore {
    /// Opens (creating if needed) and migrates the store at `url`, e.g. `sqlite://data/shop.db`.
    pub async fn open(url: &str, durability: Durability) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(StoreError::db("parse the SQLite URL"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let path = PathBuf::from(options.get_filename());
        let mut migrations = options
            .connect()
            .await
            .map_err(StoreError::db("open the SQLite database"))?;
        sqlx::migrate!("../migrations/sqlite/events")
            .run(&mut migrations)
            .await?;
        migrations
            .close()
            .await
            .map_err(StoreError::db("close the migration connection"))?;

        let connection = reads::open(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let synchronous = match durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .and_then(|()| connection.pragma_update(None, "synchronous", synchronous))
            .map_err(writer::sqlite("set the SQLite pragmas"))?;
        let readers = Readers::new(path);
        let head = Arc::new(watch::Sender::new(readers.now(reads::head_position)?));
        let (writes, queue) = mpsc::channel(QUEUE);
        let writer_head = head.clone();
        let writer = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer::run(connection, queue, writer_head))
            .map_err(StoreError::WriterThread)?;
        Ok(Self {
            head,
            writes: Some(writes),
            writer: Some(writer),
            readers,
        })
    }

    async fn write<T>(
        &self,
        op: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> WriteOp,
    ) -> Result<T, StoreError> {
        let (answer, answered) = oneshot::channel();
        let writes = self.writes.as_ref().ok_or(StoreError::WriterStopped)?;
        writes
            .send(op(answer))
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        answered.await.map_err(|_| StoreError::WriterStopped)?
    }
}

impl Drop for SqliteEventStore {
    /// The one way the writer thread ends: its queue closes, it commits what is queued,
    /// and it is joined here (a batch takes milliseconds).
    fn drop(&mut self) {
        self.writes.take();
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            tracing::error!("the SQLite writer panicked");
        }
    }
}

#[async_trait]
impl EventStore for SqliteEventStore {
    async fn append(
        &self,
        stream: &StreamId,
        expected: i64,
        events: &[NewEvent],
    ) -> Result<Appended, StoreError> {
        self.append_with_entries(stream, expected, events, &[])
            .await
    }

    async fn append_claimed(
        &self,
        stream: &StreamId,
        expected: i64,
        events: &[NewEvent],
        entries: &[NewEntry],
        claims: &[Claim],
    ) -> Result<Appended, StoreError> {
        let request = AppendRequest {
            stream: stream.clone(),
            expected,
            events: events.to_vec(),
            entries: entries.to_vec(),
            claims: claims.to_vec(),
        };
        self.write(|answer| WriteOp::Append { request, answer })
            .await
    }

    async fn load_claim(&self, scope: &str, key: &str) -> Result<Option<StoredClaim>, StoreError> {
        self.readers
            .now(|connection| reads::load_claim(connection, scope, key))
    }

    async fn sweep_claims(&self, before: i64) -> Result<u64, StoreError> {
        self.write(|answer| WriteOp::SweepClaims { before, answer })
            .await
    }

    async fn load_entries(
        &self,
        stream: &StreamId,
        keys: &[String],
    ) -> Result<HashMap<String, Vec<u8>>, StoreError> {
        let (stream, keys) = (stream.clone(), keys.to_vec());
        self.readers
            .blocking(move |connection| reads::load_entries(connection, &stream, &keys))
            .await
    }

    async fn stream_version(&self, stream: &StreamId) -> Result<i64, StoreError> {
        self.readers
            .now(|connection| writer::stream_version(connection, stream))
    }

    async fn read_stream(
        &self,
        stream: &StreamId,
        after_version: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let stream = stream.clone();
        self.readers
            .blocking(move |connection| reads::read_stream(connection, &stream, after_version))
            .await
    }

    async fn load_stream(&self, stream: &StreamId) -> Result<Loaded, StoreError> {
        let stream = stream.clone();
        self.readers
            .blocking(move |connection| reads::load_stream(connection, &stream))
            .await
    }

    async fn load_streams(&self, streams: &[StreamId]) -> Result<Vec<Loaded>, StoreError> {
        let streams = streams.to_vec();
        self.readers
            .blocking(move |connection| {
                streams
                    .iter()
                    .map(|stream| reads::load_stream(connection, stream))
                    .collect()
            })
            .await
    }

    async fn read_all(&self, after: i64, limit: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        self.readers
            .blocking(move |connection| reads::read_all(connection, after, limit))
            .await
    }

    async fn read_category(
        &self,
        category: &str,
        after: i64,
        up_to: i64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let category = category.to_owned();
        self.readers
            .blocking(move |connection| {
                reads::read_category(connection, &category, after, up_to, limit)
            })
            .await
    }

    async fn head_position(&self) -> Result<i64, StoreError> {
        self.readers.now(reads::head_position)
    }

    async fn load_snapshot(&self, stream: &StreamId) -> Result<Option<Snapshot>, StoreError> {
        self.readers
            .now(|connection| reads::load_snapshot(connection, stream))
    }

    async fn save_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        let snapshot = snapshot.clone();
        self.write(|answer| WriteOp::Snapshot { snapshot, answer })
            .await
    }

    async fn reserve_ids(&self, sequence: &str, count: i64) -> Result<Range<i64>, StoreError> {
        let sequence = sequence.to_owned();
        self.write(|answer| WriteOp::ReserveIds {
            sequence,
            count,
            answer,
        })
        .await
    }

    async fn load_checkpoint(&self, reader: &str) -> Result<i64, StoreError> {
        self.readers
            .now(|connection| reads::load_checkpoint(connection, reader))
    }

    async fn save_checkpoint(&self, reader: &str, position: i64) -> Result<(), StoreError> {
        let reader = reader.to_owned();
        self.write(|answer| WriteOp::Checkpoint {
            reader,
            position,
            answer,
        })
        .await
    }

    fn subscribe_head(&self) -> watch::Receiver<i64> {
        self.head.subscribe()
    }
}
