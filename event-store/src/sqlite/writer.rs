//! The SQLite writer: one OS thread owns the write connection and commits everything that
//! queued meanwhile (appends from every stream, snapshots, id reservations, checkpoints)
//! in one transaction, with cached prepared statements and no hop per statement. SQLite
//! allows one writer at a time anyway; doing the whole batch in one synchronous call is
//! what makes a write cost microseconds instead of a scheduler round trip per statement.
//!
//! Each operation runs inside its own savepoint, so one that fails (a duplicate event id,
//! a full disk on one insert) is rolled back and answered alone while the rest of the
//! batch commits. Only a failure of `BEGIN` or `COMMIT` fails the whole batch.

use super::super::group_commit::{AppendAnswer, AppendRequest, BatchVersions, advance_head};
use super::super::row::{encode_metadata, micros};
use super::super::unique_key::UniqueKey;
use super::super::{Appended, Claim, Snapshot, StoreError};
use chrono::Utc;
use events::StreamId;
use rusqlite::{Connection, params};
use std::ops::Range;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};

/// Most operations committed in one transaction.
const MAX_BATCH: usize = 512;

pub(super) enum WriteOp {
    Append {
        request: AppendRequest,
        answer: oneshot::Sender<AppendAnswer>,
    },
    Snapshot {
        snapshot: Snapshot,
        answer: oneshot::Sender<Result<(), StoreError>>,
    },
    ReserveIds {
        sequence: String,
        count: i64,
        answer: oneshot::Sender<Result<Range<i64>, StoreError>>,
    },
    Checkpoint {
        reader: String,
        position: i64,
        answer: oneshot::Sender<Result<(), StoreError>>,
    },
    SweepClaims {
        before: i64,
        answer: oneshot::Sender<Result<u64, StoreError>>,
    },
}

/// What one operation came to, sent only after the batch's commit.
enum Done {
    Append(AppendAnswer),
    Unit(Result<(), StoreError>),
    Ids(Result<Range<i64>, StoreError>),
    Count(Result<u64, StoreError>),
}

pub(super) fn sqlite(operation: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |source| StoreError::Sqlite { operation, source }
}

/// The writer thread's loop: ends when every sender is gone and the queue is drained.
pub(super) fn run(
    mut connection: Connection,
    mut queue: mpsc::Receiver<WriteOp>,
    head: Arc<watch::Sender<i64>>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = queue.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let appends = batch
            .iter()
            .filter(|op| matches!(op, WriteOp::Append { .. }))
            .count();
        metrics::histogram!("shop_store_append_batch_size").record(appends as f64);
        let started = std::time::Instant::now();
        commit(&mut connection, &mut batch, &head);
        metrics::histogram!("shop_store_append_batch_duration_seconds")
            .record(started.elapsed().as_secs_f64());
    }
    tracing::debug!("the SQLite writer stopped");
}

/// Commits `batch` in one transaction and answers (and drains) every operation.
fn commit(connection: &mut Connection, batch: &mut Vec<WriteOp>, head: &watch::Sender<i64>) {
    let outcome = (|| {
        execute(connection, "BEGIN IMMEDIATE").map_err(sqlite("begin a write batch"))?;
        let mut done = Vec::with_capacity(batch.len());
        let mut versions = BatchVersions::default();
        let mut last_position = 0;
        let recorded_at = micros(Utc::now());
        for op in batch.iter() {
            done.push(match op {
                WriteOp::Append { request, .. } => {
                    let answer = isolated(connection, |connection| {
                        append(connection, &mut versions, request, recorded_at)
                    });
                    if let Ok(appended) = &answer {
                        last_position = last_position.max(appended.last_position);
                    }
                    Done::Append(answer)
                }
                WriteOp::Snapshot { snapshot, .. } => {
                    Done::Unit(isolated(connection, |c| save_snapshot(c, snapshot)))
                }
                WriteOp::ReserveIds {
                    sequence, count, ..
                } => Done::Ids(isolated(connection, |c| reserve_ids(c, sequence, *count))),
                WriteOp::Checkpoint {
                    reader, position, ..
                } => Done::Unit(isolated(connection, |c| {
                    save_checkpoint(c, reader, *position)
                })),
                WriteOp::SweepClaims { before, .. } => {
                    Done::Count(isolated(connection, |c| sweep_claims(c, *before)))
                }
            });
            // Some errors (a full disk, I/O) make SQLite roll the whole transaction back
            // by itself; what follows would then commit statement by statement. Fail the
            // batch instead: none of it is written.
            if connection.is_autocommit() {
                return Err(StoreError::RolledBack);
            }
        }
        if let Err(error) = execute(connection, "COMMIT") {
            // Leave the connection usable for the next batch.
            let _ = execute(connection, "ROLLBACK");
            return Err(StoreError::Sqlite {
                operation: "commit a write batch",
                source: error,
            });
        }
        advance_head(head, last_position);
        Ok(done)
    })();
    match outcome {
        Ok(done) => {
            for (op, done) in batch.drain(..).zip(done) {
                answer(op, done);
            }
        }
        Err(error) => {
            tracing::error!(%error, operations = batch.len(), "a write batch failed");
            let error = Arc::new(error);
            for op in batch.drain(..) {
                let failed = || StoreError::Batch(error.clone());
                let done = match &op {
                    WriteOp::Append { .. } => Done::Append(Err(failed())),
                    WriteOp::Snapshot { .. } | WriteOp::Checkpoint { .. } => {
                        Done::Unit(Err(failed()))
                    }
                    WriteOp::ReserveIds { .. } => Done::Ids(Err(failed())),
                    WriteOp::SweepClaims { .. } => Done::Count(Err(failed())),
                };
                answer(op, done);
            }
        }
    }
}

/// Runs one operation in a savepoint, so one that fails leaves no trace in the batch.
/// (The batch's version bookkeeping only records appends that succeeded.)
fn isolated<T>(
    connection: &Connection,
    run: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    execute(connection, "SAVEPOINT op").map_err(sqlite("open a savepoint"))?;
    let result = run(connection);
    if result.is_err() {
        execute(connection, "ROLLBACK TO op").map_err(sqlite("roll back a savepoint"))?;
    }
    execute(connection, "RELEASE op").map_err(sqlite("release a savepoint"))?;
    result
}

/// A statement without parameters or rows, prepared once per connection.
fn execute(connection: &Connection, sql: &str) -> rusqlite::Result<()> {
    connection.prepare_cached(sql)?.execute([]).map(drop)
}

fn answer(op: WriteOp, done: Done) {
    // A caller that stopped waiting does not undo the commit.
    match (op, done) {
        (WriteOp::Append { answer, .. }, Done::Append(result)) => drop(answer.send(result)),
        (WriteOp::Snapshot { answer, .. } | WriteOp::Checkpoint { answer, .. }, Done::Unit(r)) => {
            drop(answer.send(r))
        }
        (WriteOp::ReserveIds { answer, .. }, Done::Ids(result)) => drop(answer.send(result)),
        (WriteOp::SweepClaims { answer, .. }, Done::Count(result)) => drop(answer.send(result)),
        // `commit` builds each answer from its own operation, so the kinds always pair;
        // dropping the sender tells the caller the writer failed rather than answer wrong.
        (_, _) => tracing::error!("a write answer of the wrong kind"),
    }
}

fn append<'a>(
    connection: &Connection,
    versions: &mut BatchVersions<'a>,
    request: &'a AppendRequest,
    recorded_at: i64,
) -> AppendAnswer {
    let actual = match versions.known(&request.stream) {
        Some(version) => version,
        None => stream_version(connection, &request.stream)?,
    };
    if let Some(answer) = versions.settle(request, actual) {
        return answer;
    }
    let mut insert = connection
        .prepare_cached(
            "INSERT INTO events (event_id, stream_id, stream_version, event_type, \
             schema_version, payload, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .map_err(sqlite("prepare an append"))?;
    let (mut first_position, mut last_position) = (0, 0);
    for (i, event) in request.events.iter().enumerate() {
        let metadata = encode_metadata(&event.metadata)?;
        insert
            .execute(params![
                event.event_id.0.as_bytes().as_slice(),
                request.stream.as_str(),
                request.expected + 1 + i as i64,
                event.event_type.as_str(),
                i64::from(event.schema_version),
                event.payload.as_slice(),
                metadata,
                recorded_at,
            ])
            .map_err(|error| conflict_or(error, &request.stream, request.expected))?;
        last_position = connection.last_insert_rowid();
        if i == 0 {
            first_position = last_position;
        }
    }
    for entry in &request.entries {
        write_entry(connection, &request.stream, entry)
            .map_err(|error| conflict_or(error, &request.stream, request.expected))?;
    }
    for claim in &request.claims {
        write_claim(
            connection,
            &request.stream,
            claim,
            first_position,
            recorded_at,
        )?;
    }
    Ok(Appended {
        stream_version: versions.appended(request),
        first_position,
        last_position,
    })
}

/// A unique entry is inserted (a key the stream already has is a unique violation, which
/// `conflict_or` turns into a conflict); any other is upserted.
fn write_entry(
    connection: &Connection,
    stream: &StreamId,
    entry: &events::NewEntry,
) -> rusqlite::Result<()> {
    let sql = if entry.unique {
        "INSERT INTO stream_entries (stream_id, entry_key, entry_value) VALUES (?, ?, ?)"
    } else {
        "INSERT INTO stream_entries (stream_id, entry_key, entry_value) VALUES (?, ?, ?) \
         ON CONFLICT (stream_id, entry_key) DO UPDATE SET entry_value = excluded.entry_value"
    };
    connection
        .prepare_cached(sql)?
        .execute(params![stream.as_str(), entry.key, entry.value])
        .map(drop)
}

/// Records an idempotency key; one already recorded fails the append (`KeyTaken`).
fn write_claim(
    connection: &Connection,
    stream: &StreamId,
    claim: &Claim,
    first_position: i64,
    created_at: i64,
) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "INSERT INTO idempotency_keys (scope, idem_key, fingerprint, stream_id, \
             stream_version, global_position, outcome, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .and_then(|mut insert| {
            insert.execute(params![
                claim.scope,
                claim.key,
                claim.fingerprint.as_slice(),
                stream.as_str(),
                claim.stream_version,
                claim.position_after(first_position),
                claim.outcome,
                created_at,
            ])
        })
        .map(drop)
        .map_err(|error| {
            if UniqueKey::of_sqlite(&error) == Some(UniqueKey::IdempotencyKey) {
                StoreError::KeyTaken {
                    stream: stream.clone(),
                }
            } else {
                StoreError::Sqlite {
                    operation: "record an idempotency key",
                    source: error,
                }
            }
        })
}

fn sweep_claims(connection: &Connection, before: i64) -> Result<u64, StoreError> {
    connection
        .prepare_cached("DELETE FROM idempotency_keys WHERE created_at < ?")
        .and_then(|mut delete| delete.execute([before]))
        .map(|deleted| deleted as u64)
        .map_err(sqlite("sweep idempotency keys"))
}

pub(super) fn stream_version(
    connection: &Connection,
    stream: &StreamId,
) -> Result<i64, StoreError> {
    connection
        .prepare_cached("SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE stream_id = ?")
        .and_then(|mut select| select.query_row([stream.as_str()], |row| row.get(0)))
        .map_err(sqlite("read a stream version"))
}

/// A violation of the stream's version or of one of its unique entries means another
/// process wrote first: a conflict, not a failure. (A duplicate event id is a failure.)
fn conflict_or(error: rusqlite::Error, stream: &StreamId, expected: i64) -> StoreError {
    let race = UniqueKey::of_sqlite(&error);
    if matches!(
        race,
        Some(UniqueKey::StreamVersion | UniqueKey::StreamEntry)
    ) {
        return StoreError::Conflict {
            stream: stream.clone(),
            expected,
            actual: expected + 1,
        };
    }
    StoreError::Sqlite {
        operation: "append events",
        source: error,
    }
}

fn save_snapshot(connection: &Connection, snapshot: &Snapshot) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "INSERT INTO snapshots (stream_id, stream_version, global_position, schema_version, \
             payload, taken_at) VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT (stream_id) DO UPDATE SET stream_version = excluded.stream_version, \
             global_position = excluded.global_position, \
             schema_version = excluded.schema_version, payload = excluded.payload, \
             taken_at = excluded.taken_at WHERE excluded.stream_version > snapshots.stream_version",
        )
        .and_then(|mut upsert| {
            upsert.execute(params![
                snapshot.stream_id.as_str(),
                snapshot.stream_version,
                snapshot.global_position,
                i64::from(snapshot.schema_version),
                snapshot.payload.as_slice(),
                micros(Utc::now()),
            ])
        })
        .map(drop)
        .map_err(sqlite("save a snapshot"))
}

fn reserve_ids(
    connection: &Connection,
    sequence: &str,
    count: i64,
) -> Result<Range<i64>, StoreError> {
    let next: i64 = connection
        .prepare_cached(
            "INSERT INTO id_sequences (name, next_value) VALUES (?, 1 + ?) \
             ON CONFLICT (name) DO UPDATE SET next_value = next_value + excluded.next_value - 1 \
             RETURNING next_value",
        )
        .and_then(|mut upsert| upsert.query_row(params![sequence, count], |row| row.get(0)))
        .map_err(sqlite("reserve ids"))?;
    Ok(next - count..next)
}

fn save_checkpoint(connection: &Connection, reader: &str, position: i64) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "INSERT INTO reader_checkpoints (reader, position) VALUES (?, ?) \
             ON CONFLICT (reader) DO UPDATE SET position = excluded.position",
        )
        .and_then(|mut upsert| upsert.execute(params![reader, position]))
        .map(drop)
        .map_err(sqlite("save a reader checkpoint"))
}
