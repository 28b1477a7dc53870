//! The reads every SQL backend runs with the same SQL: written once, generic over the
//! sqlx database. (Appends, snapshots upserts and id sequences differ per backend and stay
//! in their own files.)

use super::row::{EVENT_COLUMNS, RawEvent, into_recorded, snapshot};
use super::{Snapshot, StoreError};
use events::{RecordedEvent, StreamId};
use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Type};

pub(crate) async fn stream_version<'c, DB: Database>(
    executor: impl Executor<'c, Database = DB>,
    stream: &StreamId,
) -> Result<i64, StoreError>
where
    DB::Arguments: IntoArguments<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    (i64,): for<'r> FromRow<'r, DB::Row>,
{
    let (version,): (i64,) =
        sqlx::query_as("SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE stream_id = ?")
            .bind(stream.as_str())
            .fetch_one(executor)
            .await
            .map_err(StoreError::db("read a stream version"))?;
    Ok(version)
}

pub(crate) async fn read_stream<'c, DB: Database>(
    executor: impl Executor<'c, Database = DB>,
    stream: &StreamId,
    after_version: i64,
) -> Result<Vec<RecordedEvent>, StoreError>
where
    DB::Arguments: IntoArguments<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    RawEvent: for<'r> FromRow<'r, DB::Row>,
{
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = ? AND stream_version > ? \
         ORDER BY stream_version"
    );
    let rows: Vec<RawEvent> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(stream.as_str())
        .bind(after_version)
        .fetch_all(executor)
        .await
        .map_err(StoreError::db("read a stream"))?;
    into_recorded(rows)
}

pub(crate) async fn read_all<'c, DB: Database>(
    executor: impl Executor<'c, Database = DB>,
    after: i64,
    limit: usize,
) -> Result<Vec<RecordedEvent>, StoreError>
where
    DB::Arguments: IntoArguments<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    RawEvent: for<'r> FromRow<'r, DB::Row>,
{
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE global_position > ? \
         ORDER BY global_position LIMIT ?"
    );
    let rows: Vec<RawEvent> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(after)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(executor)
        .await
        .map_err(StoreError::db("read all events"))?;
    into_recorded(rows)
}

/// Like `read_all`, but only streams of one category (`order` reads `order-*`), and only up
/// to `up_to`, so a reader that wants few of the events skips the rest in the database.
pub(crate) async fn read_category<'c, DB: Database>(
    executor: impl Executor<'c, Database = DB>,
    category: &str,
    after: i64,
    up_to: i64,
    limit: usize,
) -> Result<Vec<RecordedEvent>, StoreError>
where
    DB::Arguments: IntoArguments<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    RawEvent: for<'r> FromRow<'r, DB::Row>,
{
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE global_position > ? AND global_position <= ? \
         AND stream_id LIKE ? ORDER BY global_position LIMIT ?"
    );
    let rows: Vec<RawEvent> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(after)
        .bind(up_to)
        .bind(format!("{category}-%"))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(executor)
        .await
        .map_err(StoreError::db("read a category of events"))?;
    into_recorded(rows)
}

/// The highest committed position (a counter may run ahead of it while an append is in
/// flight, or after one rolled back).
pub(crate) async fn head_position<'c, DB: Database>(
    executor: impl Executor<'c, Database = DB>,
) -> Result<i64, StoreError>
where
    DB::Arguments: IntoArguments<DB>,
    (i64,): for<'r> FromRow<'r, DB::Row>,
{
    let (head,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(global_position), 0) FROM events")
        .fetch_one(executor)
        .await
        .map_err(StoreError::db("read the head position"))?;
    Ok(head)
}

#[derive(sqlx::FromRow)]
pub(crate) struct SnapshotRow {
    stream_version: i64,
    global_position: i64,
    schema_version: i64,
    payload: Vec<u8>,
}

pub(crate) async fn load_snapshot<'c, DB: Database>(
    executor: impl Executor<'c, Database = DB>,
    stream: &StreamId,
) -> Result<Option<Snapshot>, StoreError>
where
    DB::Arguments: IntoArguments<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    SnapshotRow: for<'r> FromRow<'r, DB::Row>,
{
    let row: Option<SnapshotRow> = sqlx::query_as(
        "SELECT stream_version, global_position, schema_version, payload FROM snapshots \
         WHERE stream_id = ?",
    )
    .bind(stream.as_str())
    .fetch_optional(executor)
    .await
    .map_err(StoreError::db("load a snapshot"))?;
    row.map(|row| {
        snapshot(
            stream.clone(),
            row.stream_version,
            row.global_position,
            row.schema_version,
            row.payload,
        )
    })
    .transpose()
}

pub(crate) async fn load_checkpoint<'c, DB: Database>(
    executor: impl Executor<'c, Database = DB>,
    reader: &str,
) -> Result<i64, StoreError>
where
    DB::Arguments: IntoArguments<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    (i64,): for<'r> FromRow<'r, DB::Row>,
{
    let position: Option<(i64,)> =
        sqlx::query_as("SELECT position FROM reader_checkpoints WHERE reader = ?")
            .bind(reader)
            .fetch_optional(executor)
            .await
            .map_err(StoreError::db("load a reader checkpoint"))?;
    Ok(position.map_or(0, |(position,)| position))
}

/// The snapshots of those of `streams` that have one (MySQL: the IN list is built here).
pub(crate) async fn load_snapshots(
    connection: &mut sqlx::MySqlConnection,
    streams: &[StreamId],
) -> Result<Vec<Snapshot>, StoreError> {
    let mut select = sqlx::QueryBuilder::new(
        "SELECT stream_id, stream_version, global_position, schema_version, payload \
         FROM snapshots WHERE stream_id IN (",
    );
    let mut list = select.separated(", ");
    for stream in streams {
        list.push_bind(stream.as_str());
    }
    select.push(")");
    let rows: Vec<(String, i64, i64, i64, Vec<u8>)> = select
        .build_query_as()
        .fetch_all(&mut *connection)
        .await
        .map_err(StoreError::db("load snapshots"))?;
    rows.into_iter()
        .map(|(stream_id, version, position, schema_version, payload)| {
            snapshot(
                StreamId::from_stored(stream_id),
                version,
                position,
                schema_version,
                payload,
            )
        })
        .collect()
}

/// Every event of each `(stream, after)` past `after`, in stream and version order (MySQL).
/// Literal bounds make one index range per stream, so a long snapshotted stream costs
/// only its tail (a bound taken from a join is checked row by row over the whole stream).
pub(crate) async fn read_streams_after(
    connection: &mut sqlx::MySqlConnection,
    streams: &[(&StreamId, i64)],
) -> Result<Vec<RecordedEvent>, StoreError> {
    let mut select = sqlx::QueryBuilder::new(format!("SELECT {EVENT_COLUMNS} FROM events WHERE "));
    for (i, (stream, after)) in streams.iter().enumerate() {
        if i > 0 {
            select.push(" OR ");
        }
        select
            .push("(stream_id = ")
            .push_bind(stream.as_str())
            .push(" AND stream_version > ")
            .push_bind(*after)
            .push(")");
    }
    select.push(" ORDER BY stream_id, stream_version");
    let rows: Vec<RawEvent> = select
        .build_query_as()
        .fetch_all(&mut *connection)
        .await
        .map_err(StoreError::db("read streams"))?;
    into_recorded(rows)
}
