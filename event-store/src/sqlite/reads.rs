//! Reads from the SQLite store: a small pool of connections, each query run whole in one
//! call (cached prepared statement, every row decoded in place). Point reads (a stream's
//! version, the head, a checkpoint) run on the caller's thread: they take a few
//! microseconds against cached pages, less than a hop to another thread and back. Reads
//! that may return many rows run on tokio's blocking pool, one hop per query.

use super::super::row::{EVENT_COLUMNS, RawEvent, snapshot};
use super::super::{Loaded, Snapshot, StoreError, StoredClaim, claims};
use super::writer::sqlite;
use events::{RecordedEvent, StreamId};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Idle connections kept for reuse; more are opened while many reads run at once.
const IDLE: usize = 8;

pub(super) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    pub(super) fn new(path: PathBuf) -> Arc<Self> {
        Arc::new(Self {
            path,
            idle: Mutex::new(Vec::with_capacity(IDLE)),
        })
    }

    fn take(&self) -> Result<Connection, StoreError> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        match idle {
            Some(connection) => Ok(connection),
            None => open_reader(&self.path),
        }
    }

    fn give_back(&self, connection: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < IDLE
        {
            idle.push(connection);
        }
    }

    /// Runs a point read on this thread.
    pub(super) fn now<T>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let connection = self.take()?;
        let result = read(&connection);
        self.give_back(connection);
        result
    }

    /// Runs a read that may return many rows on the blocking pool.
    pub(super) async fn blocking<T: Send + 'static>(
        self: &Arc<Self>,
        read: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let readers = self.clone();
        tokio::task::spawn_blocking(move || readers.now(read))
            .await
            .map_err(|_| StoreError::Bug("a SQLite read panicked".into()))?
    }
}

/// Opens a connection with the store's pragmas (`busy_timeout` also covers the moments a
/// WAL reader waits, e.g. while the WAL index is rebuilt).
pub(super) fn open(path: &PathBuf, flags: OpenFlags) -> Result<Connection, StoreError> {
    let connection =
        Connection::open_with_flags(path, flags).map_err(sqlite("open the SQLite store"))?;
    connection
        .busy_timeout(Duration::from_secs(30))
        .map_err(sqlite("set the busy timeout"))?;
    connection.set_prepared_statement_cache_capacity(32);
    // SQLite's default page cache is ~8 MiB: a store of millions of events outgrows it,
    // and the writer's index inserts start reading pages back (64 MiB, per connection).
    connection
        .pragma_update(None, "cache_size", -65_536)
        .map_err(sqlite("set the page cache size"))?;
    Ok(connection)
}

fn open_reader(path: &PathBuf) -> Result<Connection, StoreError> {
    open(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
}

fn event(row: &Row<'_>) -> rusqlite::Result<RawEvent> {
    Ok(RawEvent {
        global_position: row.get(0)?,
        event_id: row.get(1)?,
        stream_id: row.get(2)?,
        stream_version: row.get(3)?,
        event_type: row.get(4)?,
        schema_version: row.get(5)?,
        payload: row.get(6)?,
        metadata: row.get(7)?,
        recorded_at: row.get(8)?,
    })
}

fn events(
    connection: &Connection,
    operation: &'static str,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let mut select = connection.prepare_cached(sql).map_err(sqlite(operation))?;
    let rows = select.query_map(params, event).map_err(sqlite(operation))?;
    let mut recorded = Vec::new();
    for row in rows {
        recorded.push(RecordedEvent::try_from(row.map_err(sqlite(operation))?)?);
    }
    Ok(recorded)
}

pub(super) fn read_stream(
    connection: &Connection,
    stream: &StreamId,
    after_version: i64,
) -> Result<Vec<RecordedEvent>, StoreError> {
    events(
        connection,
        "read a stream",
        &format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = ? AND stream_version > ? \
             ORDER BY stream_version"
        ),
        params![stream.as_str(), after_version],
    )
}

/// A stream's newest snapshot and its events after it.
pub(super) fn load_stream(
    connection: &Connection,
    stream: &StreamId,
) -> Result<Loaded, StoreError> {
    let snapshot = load_snapshot(connection, stream)?;
    let after = snapshot.as_ref().map_or(0, |s| s.stream_version);
    Ok((snapshot, read_stream(connection, stream, after)?))
}

pub(super) fn read_all(
    connection: &Connection,
    after: i64,
    limit: usize,
) -> Result<Vec<RecordedEvent>, StoreError> {
    events(
        connection,
        "read all events",
        &format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE global_position > ? \
             ORDER BY global_position LIMIT ?"
        ),
        params![after, i64::try_from(limit).unwrap_or(i64::MAX)],
    )
}

pub(super) fn read_category(
    connection: &Connection,
    category: &str,
    after: i64,
    up_to: i64,
    limit: usize,
) -> Result<Vec<RecordedEvent>, StoreError> {
    events(
        connection,
        "read a category of events",
        &format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE global_position > ? \
             AND global_position <= ? AND stream_id LIKE ? ORDER BY global_position LIMIT ?"
        ),
        params![
            after,
            up_to,
            format!("{category}-%"),
            i64::try_from(limit).unwrap_or(i64::MAX)
        ],
    )
}

pub(super) fn head_position(connection: &Connection) -> Result<i64, StoreError> {
    connection
        .prepare_cached("SELECT COALESCE(MAX(global_position), 0) FROM events")
        .and_then(|mut select| select.query_row([], |row| row.get(0)))
        .map_err(sqlite("read the head position"))
}

pub(super) fn load_snapshot(
    connection: &Connection,
    stream: &StreamId,
) -> Result<Option<Snapshot>, StoreError> {
    let row = connection
        .prepare_cached(
            "SELECT stream_version, global_position, schema_version, payload FROM snapshots \
             WHERE stream_id = ?",
        )
        .and_then(|mut select| {
            select
                .query_row([stream.as_str()], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, i64>(2)?,
                        row.get::<_, Vec<u8>>(3)?,
                    ))
                })
                .optional()
        })
        .map_err(sqlite("load a snapshot"))?;
    row.map(|(version, position, schema_version, payload)| {
        snapshot(stream.clone(), version, position, schema_version, payload)
    })
    .transpose()
}

pub(super) fn load_checkpoint(connection: &Connection, reader: &str) -> Result<i64, StoreError> {
    connection
        .prepare_cached("SELECT position FROM reader_checkpoints WHERE reader = ?")
        .and_then(|mut select| select.query_row([reader], |row| row.get(0)).optional())
        .map(|position| position.unwrap_or(0))
        .map_err(sqlite("load a reader checkpoint"))
}

/// The stored values of those of `keys` the stream has; one cached point lookup per key.
pub(super) fn load_entries(
    connection: &Connection,
    stream: &StreamId,
    keys: &[String],
) -> Result<HashMap<String, Vec<u8>>, StoreError> {
    let mut select = connection
        .prepare_cached(
            "SELECT entry_value FROM stream_entries WHERE stream_id = ? AND entry_key = ?",
        )
        .map_err(sqlite("load entries"))?;
    let mut found = HashMap::with_capacity(keys.len());
    for key in keys {
        let value: Option<Vec<u8>> = select
            .query_row(params![stream.as_str(), key], |row| row.get(0))
            .optional()
            .map_err(sqlite("load entries"))?;
        if let Some(value) = value {
            found.insert(key.clone(), value);
        }
    }
    Ok(found)
}

/// An idempotency key's record, if one was written.
pub(super) fn load_claim(
    connection: &Connection,
    scope: &str,
    key: &str,
) -> Result<Option<StoredClaim>, StoreError> {
    let row: Option<claims::ClaimRow> = connection
        .prepare_cached(
            "SELECT fingerprint, stream_id, stream_version, global_position, outcome \
             FROM idempotency_keys WHERE scope = ? AND idem_key = ?",
        )
        .and_then(|mut select| {
            select
                .query_row(params![scope, key], |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                    ))
                })
                .optional()
        })
        .map_err(sqlite("load an idempotency key"))?;
    row.map(claims::from_row).transpose()
}
