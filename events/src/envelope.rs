//! What surrounds an event once it belongs to a stream: its id, the stream and version
//! it was appended at, its global position, when it was recorded, and the metadata that
//! ties it to the command (and the conversation) that caused it.

use crate::ids::{CouponId, OrderId, ProductId, UserId};
use crate::names::Category;
use crate::trace::TraceContext;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(pub Uuid);

impl EventId {
    /// Time-ordered (v7) so ids sort roughly by creation.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for EventId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// `{category}-{id}`, e.g. `coupon-42`. The category names the aggregate type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StreamId(String);

impl StreamId {
    pub fn wallet(user: UserId) -> Self {
        Self(format!("{}-{user}", Category::Wallet.as_str()))
    }
    pub fn product(product: ProductId) -> Self {
        Self(format!("{}-{product}", Category::Product.as_str()))
    }
    pub fn coupon(coupon: CouponId) -> Self {
        Self(format!("{}-{coupon}", Category::Coupon.as_str()))
    }
    pub fn order(order: OrderId) -> Self {
        Self(format!("{}-{order}", Category::Order.as_str()))
    }

    /// Rebuilds a stream id read back from storage.
    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The aggregate type: everything before the first `-`.
    pub fn category(&self) -> &str {
        self.0.split_once('-').map_or(self.0.as_str(), |(c, _)| c)
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who caused an event: the command that produced it, the message that caused that
/// command, and the conversation (e.g. one HTTP request, or one order saga) it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    pub correlation_id: Uuid,
    pub causation_id: Uuid,
    pub command_id: Uuid,
    /// The W3C trace the command ran in. Metadata stored before traces were kept has none
    /// (it reads as `None`), and none is written as no key at all, so such rows and new
    /// untraced ones are the same bytes.
    #[serde(
        rename = "traceparent",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub trace: Option<TraceContext>,
}

impl Metadata {
    /// Metadata for a command that starts a new conversation.
    pub fn for_new_command() -> Self {
        let command_id = Uuid::now_v7();
        Self {
            correlation_id: command_id,
            causation_id: command_id,
            command_id,
            trace: None,
        }
    }
}

/// An event ready to append: encoded, with its id and metadata, but not yet placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub event_id: EventId,
    pub event_type: String,
    pub schema_version: u16,
    pub payload: Vec<u8>,
    pub metadata: Metadata,
}

/// A keyed entry of a stream's state, stored beside its events and written in the same
/// transaction as the events that changed it (see the write side's `domain::entries`).
/// Not part of the published event contract: consumers see only the events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    pub key: String,
    pub value: Vec<u8>,
    /// Written once per stream and key (a guard): a second write is refused as a version
    /// conflict, so two writers that both thought the key free cannot both win.
    pub unique: bool,
}

/// An event as stored: placed in its stream and in the global order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    pub global_position: i64,
    pub event_id: EventId,
    pub stream_id: StreamId,
    pub stream_version: i64,
    pub event_type: String,
    pub schema_version: u16,
    pub payload: Vec<u8>,
    pub metadata: Metadata,
    pub recorded_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_stored_before_traces_reads_without_one_and_round_trips() {
        let old = r#"{"correlationId":"0190a000-0000-7000-8000-000000000001","causationId":"0190a000-0000-7000-8000-000000000001","commandId":"0190a000-0000-7000-8000-000000000002"}"#;
        let metadata: Metadata = serde_json::from_str(old).unwrap();
        assert_eq!(metadata.trace, None);
        assert_eq!(serde_json::to_string(&metadata).unwrap(), old);

        let traced = Metadata {
            trace: Some(TraceContext::new_root()),
            ..metadata
        };
        let json = serde_json::to_string(&traced).unwrap();
        assert!(json.contains("\"traceparent\":\"00-"), "{json}");
        assert_eq!(serde_json::from_str::<Metadata>(&json).unwrap(), traced);
    }

    #[test]
    fn stream_category_is_the_prefix() {
        let stream = StreamId::coupon(CouponId::new(42).unwrap());
        assert_eq!(stream.as_str(), "coupon-42");
        assert_eq!(stream.category(), "coupon");
    }
}
