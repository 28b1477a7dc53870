//! The event store on MySQL/MariaDB. Every append bumps the one-row `event_head` counter
//! first and holds its row lock until commit, so global positions are handed out in commit
//! order: a reader of "position > n" never skips a transaction that commits late. It
//! serializes appends across streams, which group commit in the executor makes cheap.

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
use std::time::Duration;
use tokio::sync::watch;

/// Rows per multi-row INSERT: keeps one statement well under `max_allowed_packet`.
const ROWS_PER_INSERT: usize = 500;

pub struct MySqlEventStore {
    pool: MySqlPool,
    head: watch::Sender<i64>,
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
        let store = Self {
            pool,
            head: watch::Sender::new(0),
        };
        let head = store.head_position().await?;
        store.head.send_replace(head);
        Ok(store)
    }

    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }
}

#[async_trait]
impl EventStore for MySqlEventStore {
    async fn append(
        &self,
        stream: &StreamId,
        expected: i64,
        events: &[NewEvent],
    ) -> Result<Appended, StoreError> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(StoreError::db("begin an append"))?;
        let count = events.len() as i64;
        // Taking the counter's row lock first makes the version read below see every
        // append committed before ours.
        let last_position = sqlx::query(
            "UPDATE event_head SET position = LAST_INSERT_ID(position + ?) WHERE id = 1",
        )
        .bind(count)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("advance the event head"))?
        .last_insert_id() as i64;
        let actual = queries::stream_version(&mut *tx, stream).await?;
        if actual != expected {
            return Err(StoreError::Conflict {
                stream: stream.clone(),
                expected,
                actual,
            });
        }
        if events.is_empty() {
            return Ok(Appended {
                stream_version: actual,
                first_position: 0,
                last_position: 0,
            });
        }
        let first_position = last_position - count + 1;
        let recorded_at = micros(Utc::now());
        for (chunk_index, chunk) in events.chunks(ROWS_PER_INSERT).enumerate() {
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
                .execute(&mut *tx)
                .await
                .map_err(|e| conflict_or(e, stream, expected))?;
        }
        tx.commit()
            .await
            .map_err(|e| conflict_or(e, stream, expected))?;
        self.head.send_if_modified(|head| {
            let moved = last_position > *head;
            if moved {
                *head = last_position;
            }
            moved
        });
        Ok(Appended {
            stream_version: expected + count,
            first_position,
            last_position,
        })
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
