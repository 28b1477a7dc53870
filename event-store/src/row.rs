//! The `events` row as every SQL backend stores it, and its conversion to the envelope.

use super::StoreError;
use super::unique_key::UniqueKey;
use chrono::{DateTime, Utc};
use events::{EventId, Metadata, RecordedEvent, StreamId};

/// Columns of `events`, in the order `RawEvent` reads them.
pub(crate) const EVENT_COLUMNS: &str = "global_position, event_id, stream_id, stream_version, \
                                        event_type, schema_version, payload, metadata, recorded_at";

#[derive(sqlx::FromRow)]
pub(crate) struct RawEvent {
    pub(crate) global_position: i64,
    pub(crate) event_id: Vec<u8>,
    pub(crate) stream_id: String,
    pub(crate) stream_version: i64,
    pub(crate) event_type: String,
    pub(crate) schema_version: i64,
    pub(crate) payload: Vec<u8>,
    pub(crate) metadata: String,
    pub(crate) recorded_at: i64,
}

impl TryFrom<RawEvent> for RecordedEvent {
    type Error = StoreError;

    fn try_from(raw: RawEvent) -> Result<Self, StoreError> {
        let event_id = uuid::Uuid::from_slice(&raw.event_id)
            .map_err(|e| StoreError::Corrupt(format!("event id: {e}")))?;
        let metadata: Metadata = serde_json::from_str(&raw.metadata)
            .map_err(|e| StoreError::Corrupt(format!("metadata of event {event_id}: {e}")))?;
        let recorded_at = DateTime::<Utc>::from_timestamp_micros(raw.recorded_at)
            .ok_or_else(|| StoreError::Corrupt(format!("recorded_at of event {event_id}")))?;
        let schema_version = u16::try_from(raw.schema_version)
            .map_err(|_| StoreError::Corrupt(format!("schema version {}", raw.schema_version)))?;
        Ok(RecordedEvent {
            global_position: raw.global_position,
            event_id: EventId(event_id),
            stream_id: StreamId::from_stored(raw.stream_id),
            stream_version: raw.stream_version,
            event_type: raw.event_type,
            schema_version,
            payload: raw.payload,
            metadata,
            recorded_at,
        })
    }
}

pub(crate) fn into_recorded(rows: Vec<RawEvent>) -> Result<Vec<RecordedEvent>, StoreError> {
    rows.into_iter().map(RecordedEvent::try_from).collect()
}

pub(crate) fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

pub(crate) fn encode_metadata(metadata: &Metadata) -> Result<String, StoreError> {
    serde_json::to_string(metadata)
        .map_err(|e| StoreError::Bug(format!("cannot encode metadata: {e}")))
}

/// A violation of `race` (the stream's version, or one of its unique entries) means another
/// writer got there first: that is a conflict, not a failure. Any other violation (a
/// duplicate event id) is a failure.
pub(crate) fn conflict_or(
    error: sqlx::Error,
    race: UniqueKey,
    stream: &StreamId,
    expected: i64,
) -> StoreError {
    if race.broken_in_mysql(&error) {
        return StoreError::Conflict {
            stream: stream.clone(),
            expected,
            actual: expected + 1,
        };
    }
    StoreError::Database {
        operation: "append events",
        source: error,
    }
}

/// A snapshot row as every backend stores it; the schema version is checked here.
pub(crate) fn snapshot(
    stream_id: StreamId,
    stream_version: i64,
    global_position: i64,
    schema_version: i64,
    payload: Vec<u8>,
) -> Result<super::Snapshot, StoreError> {
    Ok(super::Snapshot {
        stream_id,
        stream_version,
        global_position,
        schema_version: u16::try_from(schema_version).map_err(|_| {
            StoreError::Corrupt(format!("snapshot schema version {schema_version}"))
        })?,
        payload,
    })
}
