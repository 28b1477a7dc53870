//! The event store on SQLite (WAL). One writer at a time is SQLite's rule, so appends go
//! through one writer task that commits every append queued meanwhile in one transaction
//! (`group_commit`); it takes the write lock up front (`BEGIN IMMEDIATE`) so the version
//! checks and inserts can never interleave with another writer's, in this process or
//! another.

use super::group_commit::{
    AppendAnswer, AppendRequest, BatchAppender, BatchVersions, GroupCommit, advance_head,
};
use super::queries;
use super::row::{conflict_or, encode_metadata, micros};
use super::{Appended, EventStore, Snapshot, StoreError};
use async_trait::async_trait;
use chrono::Utc;
use events::{NewEvent, RecordedEvent, StreamId};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, SqlitePool};
use std::ops::Range;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Rows per multi-row INSERT; SQLite allows 32,766 bound parameters and a row binds 8.
const ROWS_PER_INSERT: usize = 1_000;

#[derive(Debug, Clone, Copy)]
pub enum Durability {
    /// fsync on every commit: an acknowledged write survives power loss.
    Full,
    /// fsync at checkpoints: survives a process crash, not a power cut.
    Normal,
}

pub struct SqliteEventStore {
    pool: SqlitePool,
    head: Arc<watch::Sender<i64>>,
    writer: GroupCommit,
}

impl SqliteEventStore {
    /// Opens (creating if needed) and migrates the store at `url`, e.g. `sqlite://data/shop.db`.
    pub async fn open(url: &str, durability: Durability) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(StoreError::db("parse the SQLite URL"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match durability {
                Durability::Full => SqliteSynchronous::Full,
                Durability::Normal => SqliteSynchronous::Normal,
            })
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(StoreError::db("open the SQLite database"))?;
        sqlx::migrate!("../migrations/sqlite/events")
            .run(&pool)
            .await?;
        let head = Arc::new(watch::Sender::new(queries::head_position(&pool).await?));
        let writer = GroupCommit::spawn(SqliteAppender {
            pool: pool.clone(),
            head: head.clone(),
        });
        Ok(Self { pool, head, writer })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// The writer side of the store: commits batches of appends for `GroupCommit`.
struct SqliteAppender {
    pool: SqlitePool,
    head: Arc<watch::Sender<i64>>,
}

#[async_trait]
impl BatchAppender for SqliteAppender {
    async fn append_batch(
        &self,
        requests: &[AppendRequest],
    ) -> Result<Vec<AppendAnswer>, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(StoreError::db("begin an append"))?;
        let recorded_at = micros(Utc::now());
        let mut versions = BatchVersions::default();
        let mut answers = Vec::with_capacity(requests.len());
        let mut last_position = 0;
        for request in requests {
            let actual = match versions.known(&request.stream) {
                Some(version) => version,
                None => queries::stream_version(&mut *tx, &request.stream).await?,
            };
            if let Some(answer) = versions.settle(request, actual) {
                answers.push(answer);
                continue;
            }
            let positions = insert_events(&mut tx, request, recorded_at).await?;
            let appended = Appended {
                stream_version: versions.appended(request),
                first_position: positions.iter().copied().min().unwrap_or(0),
                last_position: positions.iter().copied().max().unwrap_or(0),
            };
            last_position = last_position.max(appended.last_position);
            answers.push(Ok(appended));
        }
        tx.commit()
            .await
            .map_err(StoreError::db("commit an append batch"))?;
        advance_head(&self.head, last_position);
        Ok(answers)
    }
}

/// Inserts one request's events (its version already checked) and answers their positions.
async fn insert_events(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    request: &AppendRequest,
    recorded_at: i64,
) -> Result<Vec<i64>, StoreError> {
    let (stream, expected) = (&request.stream, request.expected);
    let mut positions = Vec::with_capacity(request.events.len());
    for (chunk_index, chunk) in request.events.chunks(ROWS_PER_INSERT).enumerate() {
        let first_version = expected + 1 + (chunk_index * ROWS_PER_INSERT) as i64;
        let mut insert = QueryBuilder::new(
            "INSERT INTO events (event_id, stream_id, stream_version, event_type, \
             schema_version, payload, metadata, recorded_at) ",
        );
        let metadata = chunk
            .iter()
            .map(|event| encode_metadata(&event.metadata))
            .collect::<Result<Vec<_>, _>>()?;
        insert.push_values(
            chunk.iter().zip(metadata).enumerate(),
            |mut row, (i, (event, metadata))| {
                row.push_bind(event.event_id.0.as_bytes().to_vec())
                    .push_bind(stream.as_str())
                    .push_bind(first_version + i as i64)
                    .push_bind(event.event_type.as_str())
                    .push_bind(i64::from(event.schema_version))
                    .push_bind(event.payload.as_slice())
                    .push_bind(metadata)
                    .push_bind(recorded_at);
            },
        );
        insert.push(" RETURNING global_position");
        let rows: Vec<i64> = insert
            .build_query_scalar()
            .fetch_all(&mut **tx)
            .await
            .map_err(|e| conflict_or(e, stream, expected))?;
        positions.extend(rows);
    }
    Ok(positions)
}

#[async_trait]
impl EventStore for SqliteEventStore {
    async fn append(
        &self,
        stream: &StreamId,
        expected: i64,
        events: &[NewEvent],
    ) -> Result<Appended, StoreError> {
        self.writer.append(stream, expected, events).await
    }

    async fn stream_version(&self, stream: &StreamId) -> Result<i64, StoreError> {
        queries::stream_version(&self.pool, stream).await
    }

    async fn read_stream(
        &self,
        stream: &StreamId,
        after_version: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        queries::read_stream(&self.pool, stream, after_version).await
    }

    async fn read_all(&self, after: i64, limit: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        queries::read_all(&self.pool, after, limit).await
    }

    async fn read_category(
        &self,
        category: &str,
        after: i64,
        up_to: i64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        queries::read_category(&self.pool, category, after, up_to, limit).await
    }

    async fn head_position(&self) -> Result<i64, StoreError> {
        queries::head_position(&self.pool).await
    }

    async fn load_snapshot(&self, stream: &StreamId) -> Result<Option<Snapshot>, StoreError> {
        queries::load_snapshot(&self.pool, stream).await
    }

    async fn save_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO snapshots (stream_id, stream_version, global_position, schema_version, \
             payload, taken_at) VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT (stream_id) DO UPDATE SET stream_version = excluded.stream_version, \
             global_position = excluded.global_position, \
             schema_version = excluded.schema_version, payload = excluded.payload, \
             taken_at = excluded.taken_at WHERE excluded.stream_version > snapshots.stream_version",
        )
        .bind(snapshot.stream_id.as_str())
        .bind(snapshot.stream_version)
        .bind(snapshot.global_position)
        .bind(i64::from(snapshot.schema_version))
        .bind(snapshot.payload.as_slice())
        .bind(micros(Utc::now()))
        .execute(&self.pool)
        .await
        .map_err(StoreError::db("save a snapshot"))?;
        Ok(())
    }

    async fn reserve_ids(&self, sequence: &str, count: i64) -> Result<Range<i64>, StoreError> {
        let next: i64 = sqlx::query_scalar(
            "INSERT INTO id_sequences (name, next_value) VALUES (?, 1 + ?) \
             ON CONFLICT (name) DO UPDATE SET next_value = next_value + excluded.next_value - 1 \
             RETURNING next_value",
        )
        .bind(sequence)
        .bind(count)
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::db("reserve ids"))?;
        Ok(next - count..next)
    }

    async fn load_checkpoint(&self, reader: &str) -> Result<i64, StoreError> {
        queries::load_checkpoint(&self.pool, reader).await
    }

    async fn save_checkpoint(&self, reader: &str, position: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO reader_checkpoints (reader, position) VALUES (?, ?) \
             ON CONFLICT (reader) DO UPDATE SET position = excluded.position",
        )
        .bind(reader)
        .bind(position)
        .execute(&self.pool)
        .await
        .map_err(StoreError::db("save a reader checkpoint"))?;
        Ok(())
    }

    fn subscribe_head(&self) -> watch::Receiver<i64> {
        self.head.subscribe()
    }
}
