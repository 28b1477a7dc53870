//! An in-memory event feed for the embedded projector tests: events as the event store
//! would hand them out, in global order.

use async_trait::async_trait;
use chrono::Utc;
use events::{DomainEvent, EventId, Metadata, RecordedEvent, StreamId};
use projections::{EventFeed, FeedError};
use std::time::Duration;

pub(crate) struct VecFeed(pub(crate) Vec<RecordedEvent>);

#[async_trait]
impl EventFeed for VecFeed {
    async fn read_after(&self, after: i64, limit: usize) -> Result<Vec<RecordedEvent>, FeedError> {
        Ok(self::after(&self.0, after, limit))
    }

    async fn wait_past(&self, _after: i64) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `event` as stored at `position`, version `version` of `stream`.
pub(crate) fn recorded(
    position: i64,
    stream: StreamId,
    version: i64,
    event: &DomainEvent,
) -> RecordedEvent {
    let encoded = event.encode().unwrap();
    RecordedEvent {
        global_position: position,
        event_id: EventId::new(),
        stream_id: stream,
        stream_version: version,
        event_type: encoded.event_type.to_owned(),
        schema_version: encoded.schema_version,
        payload: encoded.payload,
        metadata: Metadata::for_new_command(),
        recorded_at: Utc::now(),
    }
}

/// The first `limit` of `events` past position `after`.
pub(crate) fn after(events: &[RecordedEvent], after: i64, limit: usize) -> Vec<RecordedEvent> {
    events
        .iter()
        .filter(|e| e.global_position > after)
        .take(limit)
        .cloned()
        .collect()
}
