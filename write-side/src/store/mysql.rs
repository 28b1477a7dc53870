//! The event store on MySQL/MariaDB. Every append transaction locks the one-row
//! `event_head` counter first and holds it until commit, so global positions are handed
//! out in commit order: a reader of "position > n" never skips a transaction that commits
//! late. That serializes appends across streams and processes, which group commit makes
//! cheap: each process commits all its queued appends, of any streams, in one transaction
//! (`group_commit`).

use super::group_commit::{
    AppendAnswer, AppendRequest, BatchAppender, BatchVersions, GroupCommit, advance_head,
};
use super::queries;
use super::row::{conflict_or, encode_metadata, micros};
use super::{Appended, EventStore, Snapshot, StoreError};
use async_trait::async_trait;
use chrono::Utc;
use events::{NewEvent, RecordedEvent, StreamId};
use sqlx::migrate::MigrateDatabase;
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::{MySql, MySqlPool, QueryBuilder};
use std::ops::Range;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Rows per multi-row INSERT: keeps one statement well under `max_allowed_packet`.
const ROWS_PER_INSERT: usize = 500;

pub struct MySqlEventStore {
    pool: MySqlPool,
    head: Arc<watch::Sender<i64>>,
    writer: GroupCommit,
}

/// Opens a pool on `url`, creating the database it names if it does not exist, and runs
/// the MySQL migrations (event store and read models share one schema).
pub async fn open_pool(url: &str, max_connections: u32) -> Result<MySqlPool, StoreError> {
    if !MySql::database_exists(url)
        .await
        .map_err(StoreError::db("check the database exists"))?
    {
        // Two processes starting at once may both try; the loser's error is harmless.
        if let Err(error) = MySql::create_database(url).await {
            tracing::debug!(%error, "create database raced with another process");
        }
    }
    let options =
        MySqlConnectOptions::from_str(url).map_err(StoreError::db("parse the MySQL URL"))?;
    let pool = MySqlPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .map_err(StoreError::db("connect to MySQL"))?;
    sqlx::migrate!("../migrations/mysql").run(&pool).await?;
    Ok(pool)
}

impl MySqlEventStore {
    pub async fn open(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        Self::from_pool(open_pool(url, max_connections).await?).await
    }

    /// A store on an already migrated pool.
    pub async fn from_pool(pool: MySqlPool) -> Result<Self, StoreError> {
        let head = Arc::new(watch::Sender::new(queries::head_position(&pool).await?));
        let writer = GroupCommit::spawn(MySqlAppender {
            pool: pool.clone(),
            head: head.clone(),
        });
        Ok(Self { pool, head, writer })
    }

    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }
}

/// The writer side of the store: commits batches of appends for `GroupCommit`.
struct MySqlAppender {
    pool: MySqlPool,
    head: Arc<watch::Sender<i64>>,
}

#[async_trait]
impl BatchAppender for MySqlAppender {
    async fn append_batch(
        &self,
        requests: &[AppendRequest],
    ) -> Result<Vec<AppendAnswer>, StoreError> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(StoreError::db("begin an append"))?;
        // Taking the counter's row lock first makes the version reads below see every
        // append committed before ours, and holds off every other writer until we commit.
        let head: i64 =
            sqlx::query_scalar("SELECT position FROM event_head WHERE id = 1 FOR UPDATE")
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::db("lock the event head"))?;
        let recorded_at = micros(Utc::now());
        let mut versions = BatchVersions::default();
        let mut answers = Vec::with_capacity(requests.len());
        let mut last_position = head;
        for request in requests {
            let actual = match versions.known(&request.stream) {
                Some(version) => version,
                None => queries::stream_version(&mut *tx, &request.stream).await?,
            };
            if let Some(answer) = versions.settle(request, actual) {
                answers.push(answer);
                continue;
            }
            let first_position = last_position + 1;
            insert_events(&mut tx, request, first_position, recorded_at).await?;
            let appended = Appended {
                stream_version: versions.appended(request),
                first_position,
                last_position: first_position + request.events.len() as i64 - 1,
            };
            last_position = appended.last_position;
            answers.push(Ok(appended));
        }
        if last_position > head {
            sqlx::query("UPDATE event_head SET position = ? WHERE id = 1")
                .bind(last_position)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db("advance the event head"))?;
        }
        tx.commit()
            .await
            .map_err(StoreError::db("commit an append batch"))?;
        advance_head(&self.head, last_position);
        Ok(answers)
    }
}

/// Inserts one request's events (its version already checked) at consecutive positions.
async fn insert_events(
    tx: &mut sqlx::Transaction<'_, MySql>,
    request: &AppendRequest,
    first_position: i64,
    recorded_at: i64,
) -> Result<(), StoreError> {
    let (stream, expected) = (&request.stream, request.expected);
    for (chunk_index, chunk) in request.events.chunks(ROWS_PER_INSERT).enumerate() {
        let offset = (chunk_index * ROWS_PER_INSERT) as i64;
        let metadata = chunk
            .iter()
            .map(|event| encode_metadata(&event.metadata))
            .collect::<Result<Vec<_>, _>>()?;
        let mut insert = QueryBuilder::new(
            "INSERT INTO events (global_position, event_id, stream_id, stream_version, \
             event_type, schema_version, payload, metadata, recorded_at) ",
        );
        insert.push_values(
            chunk.iter().zip(metadata).enumerate(),
            |mut row, (i, (event, metadata))| {
                let index = offset + i as i64;
                row.push_bind(first_position + index)
                    .push_bind(event.event_id.0.as_bytes().to_vec())
                    .push_bind(stream.as_str())
                    .push_bind(expected + 1 + index)
                    .push_bind(event.event_type.as_str())
                    .push_bind(i64::from(event.schema_version))
                    .push_bind(event.payload.as_slice())
                    .push_bind(metadata)
                    .push_bind(recorded_at);
            },
        );
        insert
            .build()
            .execute(&mut **tx)
            .await
            .map_err(|e| conflict_or(e, stream, expected))?;
    }
    Ok(())
}

#[async_trait]
impl EventStore for MySqlEventStore {
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
        // MySQL assigns left to right, so `stream_version` is compared before it changes.
        sqlx::query(
            "INSERT INTO snapshots (stream_id, stream_version, global_position, schema_version, \
             payload, taken_at) VALUES (?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE \
             global_position = IF(VALUES(stream_version) > stream_version, VALUES(global_position), global_position), \
             schema_version = IF(VALUES(stream_version) > stream_version, VALUES(schema_version), schema_version), \
             payload = IF(VALUES(stream_version) > stream_version, VALUES(payload), payload), \
             taken_at = IF(VALUES(stream_version) > stream_version, VALUES(taken_at), taken_at), \
             stream_version = GREATEST(stream_version, VALUES(stream_version))",
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
        let result = sqlx::query(
            "INSERT INTO id_sequences (name, next_value) VALUES (?, 1 + ?) \
             ON DUPLICATE KEY UPDATE next_value = LAST_INSERT_ID(next_value + VALUES(next_value) - 1)",
        )
        .bind(sequence)
        .bind(count)
        .execute(&self.pool)
        .await
        .map_err(StoreError::db("reserve ids"))?;
        // One row affected: the sequence was created at 1 + count. Two: it was advanced
        // and LAST_INSERT_ID carries its new value.
        let next = if result.rows_affected() == 1 {
            1 + count
        } else {
            result.last_insert_id() as i64
        };
        Ok(next - count..next)
    }

    async fn load_checkpoint(&self, reader: &str) -> Result<i64, StoreError> {
        queries::load_checkpoint(&self.pool, reader).await
    }

    async fn save_checkpoint(&self, reader: &str, position: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO reader_checkpoints (reader, position) VALUES (?, ?) \
             ON DUPLICATE KEY UPDATE position = VALUES(position)",
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
