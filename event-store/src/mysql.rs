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
use super::shapes;
use super::turns::{MySqlStreamTurns, StreamTurns};
use super::unique_key::UniqueKey;
use super::{Appended, Claim, EventStore, Loaded, Snapshot, StoreError, StoredClaim, claims};
use async_trait::async_trait;
use chrono::Utc;
use events::{NewEntry, NewEvent, RecordedEvent, StreamId};
use sqlx::migrate::MigrateDatabase;
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::{MySql, MySqlPool, QueryBuilder};
use std::collections::HashMap;
use std::ops::Range;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Rows per multi-row INSERT: keeps one statement well under `max_allowed_packet`.
const ROWS_PER_INSERT: usize = 500;
/// Streams per version query (one bound parameter each).
const VERSION_QUERY_STREAMS: usize = 1_000;
/// Prepared statements the appender's connection keeps: every shape of its three
/// multi-row INSERTs (`shapes`), the entries' in two kinds, its two padded `IN` lists
/// (versions, and ids read back), and its few fixed statements.
const APPENDER_STATEMENTS: usize =
    4 * shapes::shapes(ROWS_PER_INSERT) + 2 * shapes::LIST_SHAPES + 32;
/// A connection idle this long is pinged before use; busier ones are not (`ping_if_idle`).
const PING_IDLE_AFTER: Duration = Duration::from_secs(5);

pub struct MySqlEventStore {
    pool: MySqlPool,
    head: Arc<watch::Sender<i64>>,
    writer: GroupCommit,
    turns: Arc<MySqlStreamTurns>,
}

/// Connections for stream turns (each turn holds one while its batch is decided).
const TURN_CONNECTIONS: u32 = 16;

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
        // The appender's own connection: appends are serial anyway (the head's lock), and
        // on one connection the INSERTs' few shapes stay prepared (`shapes`) instead of
        // being prepared again on whichever pooled connection a group happened to get.
        let append_pool = MySqlPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .test_before_acquire(false)
            .before_acquire(|conn, meta| Box::pin(ping_if_idle(conn, meta)))
            .connect_lazy_with(
                (*pool.connect_options())
                    .clone()
                    .statement_cache_capacity(APPENDER_STATEMENTS),
            );
        let writer = GroupCommit::spawn(MySqlAppender {
            pool: append_pool,
            head: head.clone(),
        });
        let turn_pool = MySqlPoolOptions::new()
            .max_connections(TURN_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(10))
            .connect_lazy_with((*pool.connect_options()).clone());
        let turns = Arc::new(MySqlStreamTurns::new(turn_pool));
        Ok(Self {
            pool,
            head,
            writer,
            turns,
        })
    }

    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }
}

/// sqlx pings a connection on every acquire by default, a round trip each; a connection
/// used moments ago is known to be alive (and one that died since fails its statement,
/// which the writer retries on a fresh connection). Only one idle for a while is pinged.
async fn ping_if_idle(
    conn: &mut sqlx::MySqlConnection,
    meta: sqlx::pool::PoolConnectionMetadata,
) -> Result<bool, sqlx::Error> {
    if meta.idle_for >= PING_IDLE_AFTER {
        sqlx::Connection::ping(conn).await?;
    }
    Ok(true)
}

/// The writer side of the store: commits batches of appends for `GroupCommit`.
struct MySqlAppender {
    pool: MySqlPool,
    head: Arc<watch::Sender<i64>>,
}

#[async_trait]
impl BatchAppender for MySqlAppender {
    /// The whole group in a few statements: lock the head, read every stream's version in
    /// one query, insert every admitted append's events in one multi-row INSERT, move the
    /// head, commit. Holding the head's lock keeps every other appender out, so the
    /// versions read cannot move before the commit. Should a statement still fail for one
    /// append's sake, the group is committed again one savepoint per append, so only the
    /// offending append fails.
    async fn append_batch(
        &self,
        requests: &[AppendRequest],
    ) -> Result<Vec<AppendAnswer>, StoreError> {
        match self.append_together(requests).await {
            // One append's fault (a duplicate event id, a taken key, a value the schema
            // refuses) must not fail the others: commit them one savepoint each. A
            // transient fault is the whole transaction's; the writer retries it.
            Err(error) if !error.is_transient() => {
                tracing::debug!(%error, "a grouped append failed; isolating each append");
                self.append_isolated(requests).await
            }
            result => result,
        }
    }

    /// Each request's first event, looked up by id: found, the request was committed
    /// whole (an append is one transaction) at consecutive positions from there.
    async fn committed(
        &self,
        requests: &[AppendRequest],
    ) -> Result<Vec<Option<Appended>>, StoreError> {
        let ids: Vec<Vec<u8>> = requests
            .iter()
            .filter_map(|request| request.events.first())
            .map(|event| event.event_id.0.as_bytes().to_vec())
            .collect();
        let mut found: HashMap<Vec<u8>, i64> = HashMap::new();
        for chunk in ids.chunks(shapes::MAX_LIST) {
            let mut select = QueryBuilder::new(
                "SELECT event_id, global_position FROM events WHERE event_id IN (",
            );
            let mut list = select.separated(", ");
            for id in shapes::padded(chunk) {
                list.push_bind(id.as_slice());
            }
            select.push(")");
            let rows: Vec<(Vec<u8>, i64)> = select
                .build_query_as()
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::db("read back an unknown commit"))?;
            found.extend(rows);
        }
        let mut landed = Vec::with_capacity(requests.len());
        for request in requests {
            let Some(first) = request.events.first() else {
                // Entries and keys only: not written, or written the same way again (the
                // entries are upserts; a recorded key answers `KeyTaken`, then its record).
                landed.push(None);
                continue;
            };
            landed.push(
                found
                    .get(first.event_id.0.as_bytes().as_slice())
                    .map(|&first_position| {
                        placed(
                            request.expected + request.events.len() as i64,
                            first_position,
                            request,
                        )
                    }),
            );
        }
        // What was committed moved the head; the next batch reads it again anyway.
        if let Some(last) = landed.iter().flatten().map(|a| a.last_position).max() {
            advance_head(&self.head, last);
        }
        Ok(landed)
    }
}

/// A COMMIT that failed on the wire (the reply never came) may have been applied; one
/// the server answered with an error was not.
fn transient_commit_error(error: &sqlx::Error) -> bool {
    matches!(
        error,
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::WorkerCrashed
    )
}

impl MySqlAppender {
    async fn begin(&self) -> Result<(sqlx::Transaction<'static, MySql>, i64), StoreError> {
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
        Ok((tx, head))
    }

    async fn finish(
        &self,
        mut tx: sqlx::Transaction<'static, MySql>,
        head: i64,
        last_position: i64,
    ) -> Result<(), StoreError> {
        if last_position > head {
            sqlx::query("UPDATE event_head SET position = ? WHERE id = 1")
                .bind(last_position)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db("advance the event head"))?;
        }
        tx.commit().await.map_err(|error| {
            if transient_commit_error(&error) {
                StoreError::CommitUnknown(error)
            } else {
                StoreError::Database {
                    operation: "commit an append batch",
                    source: error,
                }
            }
        })?;
        advance_head(&self.head, last_position);
        Ok(())
    }

    async fn append_together(
        &self,
        requests: &[AppendRequest],
    ) -> Result<Vec<AppendAnswer>, StoreError> {
        let (mut tx, head) = self.begin().await?;
        // An append with events needs no read of its stream's version: its first event
        // goes in at `expected + 1`, and the unique `(stream_id, stream_version)` refuses
        // that row if the stream has moved past `expected`, which fails the statement and
        // sends the group to `append_isolated`, where each append is checked on its own.
        // (A read of `MAX(stream_version)` over many streams is a range scan of every
        // stream's whole history on MariaDB, whose optimizer prefers it to a loose index
        // scan: it grew with the hot streams until it was most of the database's work.)
        // Only appends without events (entries or keys alone) have no row to be refused.
        let unguarded = requests.iter().filter(|request| request.events.is_empty());
        let stored = stream_versions(&mut tx, unguarded).await?;
        let recorded_at = micros(Utc::now());
        let mut versions = BatchVersions::default();
        let mut answers = Vec::with_capacity(requests.len());
        let mut rows = Vec::new();
        let mut entries = Vec::new();
        let mut claimed = Vec::new();
        let mut last_position = head;
        for request in requests {
            let actual = versions.known(&request.stream).unwrap_or_else(|| {
                if request.events.is_empty() {
                    stored.get(&request.stream).copied().unwrap_or(0)
                } else {
                    request.expected
                }
            });
            if let Some(answer) = versions.settle(request, actual) {
                answers.push(answer);
                continue;
            }
            let first_position = last_position + 1;
            rows.extend(rows_of(request, first_position));
            entries.extend(request.entries.iter().map(|entry| (&request.stream, entry)));
            claimed.extend(claim_rows(request, first_position));
            let appended = placed(versions.appended(request), first_position, request);
            last_position = last_position.max(appended.last_position);
            answers.push(Ok(appended));
        }
        insert_rows(&mut tx, &rows, recorded_at)
            .await
            .map_err(StoreError::db("append events"))?;
        write_entries(&mut tx, &entries)
            .await
            .map_err(StoreError::db("write stream entries"))?;
        write_claims(&mut tx, &claimed, recorded_at)
            .await
            .map_err(StoreError::db("record idempotency keys"))?;
        self.finish(tx, head, last_position).await?;
        Ok(answers)
    }

    /// One savepoint per append: an append that fails is rolled back and answered alone.
    async fn append_isolated(
        &self,
        requests: &[AppendRequest],
    ) -> Result<Vec<AppendAnswer>, StoreError> {
        let (mut tx, head) = self.begin().await?;
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
            let rows: Vec<Row<'_>> = rows_of(request, first_position).collect();
            let entries: Vec<_> = request
                .entries
                .iter()
                .map(|entry| (&request.stream, entry))
                .collect();
            let claimed: Vec<_> = claim_rows(request, first_position).collect();
            savepoint(&mut tx, "SAVEPOINT append").await?;
            let conflict =
                |race| move |error| conflict_or(error, race, &request.stream, request.expected);
            let written = match insert_rows(&mut tx, &rows, recorded_at).await {
                Ok(()) => write_entries(&mut tx, &entries)
                    .await
                    .map_err(conflict(UniqueKey::StreamEntry)),
                Err(error) => Err(conflict(UniqueKey::StreamVersion)(error)),
            };
            let written = match written {
                Ok(()) => write_claims(&mut tx, &claimed, recorded_at)
                    .await
                    .map_err(|error| key_taken_or(error, &request.stream)),
                Err(error) => Err(error),
            };
            if let Err(error) = written {
                savepoint(&mut tx, "ROLLBACK TO SAVEPOINT append").await?;
                answers.push(Err(error));
                continue;
            }
            savepoint(&mut tx, "RELEASE SAVEPOINT append").await?;
            let appended = placed(versions.appended(request), first_position, request);
            last_position = last_position.max(appended.last_position);
            answers.push(Ok(appended));
        }
        self.finish(tx, head, last_position).await?;
        Ok(answers)
    }
}

async fn savepoint(
    tx: &mut sqlx::Transaction<'static, MySql>,
    sql: &'static str,
) -> Result<(), StoreError> {
    sqlx::query(sql)
        .execute(&mut **tx)
        .await
        .map(drop)
        .map_err(StoreError::db("manage a savepoint"))
}

/// Every named stream's stored version (streams without events are absent), in one
/// statement per `shapes::MAX_LIST` streams, the list padded to a fixed length.
async fn stream_versions<'a>(
    tx: &mut sqlx::Transaction<'static, MySql>,
    requests: impl Iterator<Item = &'a AppendRequest>,
) -> Result<HashMap<StreamId, i64>, StoreError> {
    let streams: Vec<&StreamId> = {
        let mut seen = std::collections::HashSet::new();
        requests
            .map(|request| &request.stream)
            .filter(|stream| seen.insert(*stream))
            .collect()
    };
    let mut versions = HashMap::with_capacity(streams.len());
    for chunk in streams.chunks(shapes::MAX_LIST) {
        let mut select = QueryBuilder::new(
            "SELECT stream_id, MAX(stream_version) FROM events WHERE stream_id IN (",
        );
        let mut list = select.separated(", ");
        for stream in shapes::padded(chunk) {
            list.push_bind(stream.as_str());
        }
        select.push(") GROUP BY stream_id");
        let found: Vec<(String, i64)> = select
            .build_query_as()
            .fetch_all(&mut **tx)
            .await
            .map_err(StoreError::db("read stream versions"))?;
        versions.extend(
            found
                .into_iter()
                .map(|(stream, version)| (StreamId::from_stored(stream), version)),
        );
    }
    Ok(versions)
}

/// Where an admitted append lands; one with no events (entries only) has no positions.
fn placed(stream_version: i64, first_position: i64, request: &AppendRequest) -> Appended {
    if request.events.is_empty() {
        return Appended {
            stream_version,
            first_position: 0,
            last_position: 0,
        };
    }
    Appended {
        stream_version,
        first_position,
        last_position: first_position + request.events.len() as i64 - 1,
    }
}

/// Unique entries in one multi-row INSERT (a key the stream already has is a unique
/// violation: a conflict), the others in one upsert.
async fn write_entries(
    tx: &mut sqlx::Transaction<'static, MySql>,
    entries: &[(&StreamId, &NewEntry)],
) -> Result<(), sqlx::Error> {
    for unique in [true, false] {
        let chosen: Vec<_> = entries.iter().filter(|(_, e)| e.unique == unique).collect();
        for chunk in shapes::chunks(&chosen, ROWS_PER_INSERT) {
            let mut insert = QueryBuilder::new(
                "INSERT INTO stream_entries (stream_id, entry_key, entry_value) ",
            );
            insert.push_values(chunk, |mut values, (stream, entry)| {
                values
                    .push_bind(stream.as_str())
                    .push_bind(entry.key.as_str())
                    .push_bind(entry.value.as_slice());
            });
            if !unique {
                insert.push(" ON DUPLICATE KEY UPDATE entry_value = VALUES(entry_value)");
            }
            insert.build().execute(&mut **tx).await?;
        }
    }
    Ok(())
}

/// An admitted append's idempotency records, with the positions its events landed at.
fn claim_rows(
    request: &AppendRequest,
    first_position: i64,
) -> impl Iterator<Item = (&StreamId, &Claim, i64)> {
    request
        .claims
        .iter()
        .map(move |claim| (&request.stream, claim, claim.position_after(first_position)))
}

/// Records idempotency keys in multi-row INSERTs; a key already recorded is a unique
/// violation (`key_taken_or`).
async fn write_claims(
    tx: &mut sqlx::Transaction<'static, MySql>,
    claims: &[(&StreamId, &Claim, i64)],
    created_at: i64,
) -> Result<(), sqlx::Error> {
    for chunk in shapes::chunks(claims, ROWS_PER_INSERT) {
        let mut insert = QueryBuilder::new(
            "INSERT INTO idempotency_keys (scope, idem_key, fingerprint, stream_id, \
             stream_version, global_position, outcome, created_at) ",
        );
        insert.push_values(chunk, |mut values, (stream, claim, position)| {
            values
                .push_bind(claim.scope.as_str())
                .push_bind(claim.key.as_str())
                .push_bind(claim.fingerprint.as_slice())
                .push_bind(stream.as_str())
                .push_bind(claim.stream_version)
                .push_bind(*position)
                .push_bind(claim.outcome.as_slice())
                .push_bind(created_at);
        });
        insert.build().execute(&mut **tx).await?;
    }
    Ok(())
}

fn key_taken_or(error: sqlx::Error, stream: &StreamId) -> StoreError {
    if UniqueKey::IdempotencyKey.broken_in_mysql(&error) {
        return StoreError::KeyTaken {
            stream: stream.clone(),
        };
    }
    StoreError::Database {
        operation: "record idempotency keys",
        source: error,
    }
}

/// One event to insert, at its position and version.
struct Row<'a> {
    position: i64,
    version: i64,
    stream: &'a StreamId,
    event: &'a NewEvent,
}

/// The rows of one admitted append, its first event at `first_position`.
fn rows_of(request: &AppendRequest, first_position: i64) -> impl Iterator<Item = Row<'_>> {
    request
        .events
        .iter()
        .enumerate()
        .map(move |(i, event)| Row {
            position: first_position + i as i64,
            version: request.expected + 1 + i as i64,
            stream: &request.stream,
            event,
        })
}

/// Inserts `rows` in multi-row INSERTs of at most `ROWS_PER_INSERT` (`shapes`).
async fn insert_rows(
    tx: &mut sqlx::Transaction<'static, MySql>,
    rows: &[Row<'_>],
    recorded_at: i64,
) -> Result<(), sqlx::Error> {
    for chunk in shapes::chunks(rows, ROWS_PER_INSERT) {
        let metadata = chunk
            .iter()
            .map(|row| encode_metadata(&row.event.metadata))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        let mut insert = QueryBuilder::new(
            "INSERT INTO events (global_position, event_id, stream_id, stream_version, \
             event_type, schema_version, payload, metadata, recorded_at) ",
        );
        insert.push_values(chunk.iter().zip(metadata), |mut values, (row, metadata)| {
            values
                .push_bind(row.position)
                .push_bind(row.event.event_id.0.as_bytes().to_vec())
                .push_bind(row.stream.as_str())
                .push_bind(row.version)
                .push_bind(row.event.event_type.as_str())
                .push_bind(i64::from(row.event.schema_version))
                .push_bind(row.event.payload.as_slice())
                .push_bind(metadata)
                .push_bind(recorded_at);
        });
        insert.build().execute(&mut **tx).await?;
    }
    Ok(())
}

#[async_trait]
impl EventStore for MySqlEventStore {
    async fn close(&self) {
        self.writer.close().await;
    }

    async fn append_claimed(
        &self,
        stream: &StreamId,
        expected: i64,
        events: &[NewEvent],
        entries: &[NewEntry],
        claims: &[Claim],
    ) -> Result<Appended, StoreError> {
        self.writer
            .append(stream, expected, events, entries, claims)
            .await
    }

    async fn load_claim(&self, scope: &str, key: &str) -> Result<Option<StoredClaim>, StoreError> {
        let row: Option<claims::ClaimRow> = sqlx::query_as(
            "SELECT fingerprint, stream_id, stream_version, global_position, outcome \
             FROM idempotency_keys WHERE scope = ? AND idem_key = ?",
        )
        .bind(scope)
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db("load an idempotency key"))?;
        row.map(claims::from_row).transpose()
    }

    async fn load_claims(
        &self,
        keys: &[(&str, &str)],
    ) -> Result<Vec<Option<StoredClaim>>, StoreError> {
        let mut found: HashMap<(String, String), StoredClaim> = HashMap::new();
        for chunk in keys.chunks(ROWS_PER_INSERT) {
            let mut select = QueryBuilder::new(
                "SELECT scope, idem_key, fingerprint, stream_id, stream_version, \
                 global_position, outcome FROM idempotency_keys WHERE ",
            );
            for (i, (scope, key)) in chunk.iter().enumerate() {
                if i > 0 {
                    select.push(" OR ");
                }
                select.push("(scope = ");
                select.push_bind(*scope);
                select.push(" AND idem_key = ");
                select.push_bind(*key);
                select.push(")");
            }
            let rows: Vec<(String, String, Vec<u8>, String, i64, i64, Vec<u8>)> = select
                .build_query_as()
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::db("load idempotency keys"))?;
            for (scope, key, fingerprint, stream, version, position, outcome) in rows {
                let claim = claims::from_row((fingerprint, stream, version, position, outcome))?;
                found.insert((scope, key), claim);
            }
        }
        Ok(keys
            .iter()
            .map(|(scope, key)| {
                found
                    .get(&((*scope).to_owned(), (*key).to_owned()))
                    .cloned()
            })
            .collect())
    }

    async fn sweep_claims(&self, before: i64) -> Result<u64, StoreError> {
        // In slices, so a sweep never holds many row locks at once.
        let mut swept = 0;
        loop {
            let deleted =
                sqlx::query("DELETE FROM idempotency_keys WHERE created_at < ? LIMIT 1000")
                    .bind(before)
                    .execute(&self.pool)
                    .await
                    .map_err(StoreError::db("sweep idempotency keys"))?
                    .rows_affected();
            swept += deleted;
            if deleted < 1000 {
                return Ok(swept);
            }
        }
    }

    async fn load_entries(
        &self,
        stream: &StreamId,
        keys: &[String],
    ) -> Result<HashMap<String, Vec<u8>>, StoreError> {
        let mut found = HashMap::with_capacity(keys.len());
        for chunk in keys.chunks(VERSION_QUERY_STREAMS) {
            let mut select = QueryBuilder::new(
                "SELECT entry_key, entry_value FROM stream_entries WHERE stream_id = ",
            );
            select
                .push_bind(stream.as_str())
                .push(" AND entry_key IN (");
            let mut list = select.separated(", ");
            for key in chunk {
                list.push_bind(key.as_str());
            }
            select.push(")");
            let rows: Vec<(String, Vec<u8>)> = select
                .build_query_as()
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::db("load entries"))?;
            found.extend(rows);
        }
        Ok(found)
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

    /// Each stream's snapshot and the events after it, for many streams at once: the
    /// snapshots first, then one statement with each stream's range after its snapshot.
    ///
    /// No transaction is needed: events are never changed once written, so whatever
    /// snapshot was read, every event after it is still there when the second statement
    /// runs (and any appended meanwhile come too, in order). Bounds taken from a join
    /// instead could come from a newer snapshot than the one loaded and leave a gap that
    /// folding skips silently (a coupon decided without its registration). The bounds are
    /// literals, so a long stream costs its tail only, however long its history.
    async fn load_streams(&self, streams: &[StreamId]) -> Result<Vec<Loaded>, StoreError> {
        let mut connection = self
            .pool
            .acquire()
            .await
            .map_err(StoreError::db("connect for a group load"))?;
        let mut snapshots: HashMap<StreamId, Snapshot> = HashMap::new();
        let mut events: HashMap<StreamId, Vec<RecordedEvent>> = HashMap::new();
        for chunk in streams.chunks(VERSION_QUERY_STREAMS) {
            for snapshot in queries::load_snapshots(&mut connection, chunk).await? {
                snapshots.insert(snapshot.stream_id.clone(), snapshot);
            }
            let after: Vec<(&StreamId, i64)> = chunk
                .iter()
                .map(|stream| {
                    (
                        stream,
                        snapshots.get(stream).map_or(0, |s| s.stream_version),
                    )
                })
                .collect();
            for event in queries::read_streams_after(&mut connection, &after).await? {
                events
                    .entry(event.stream_id.clone())
                    .or_default()
                    .push(event);
            }
        }
        Ok(streams
            .iter()
            .map(|stream| {
                let snapshot = snapshots.remove(stream);
                let tail = events.remove(stream).unwrap_or_default();
                (snapshot, tail)
            })
            .collect())
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

    fn turns(&self) -> Option<Arc<dyn StreamTurns>> {
        Some(self.turns.clone())
    }

    fn subscribe_head(&self) -> watch::Receiver<i64> {
        self.head.subscribe()
    }
}
