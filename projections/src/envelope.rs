//! Where an event sits, as projections see it. The embedded feed hands over full
//! `RecordedEvent`s; Kafka carries the same facts in message headers, minus the payload
//! bytes and part of the metadata, so projections depend on this common subset only.

use crate::error::ProjectionError;
use chrono::{DateTime, Utc};
use events::{DomainEvent, EventId, RecordedEvent, StreamId, TraceContext};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub stream_id: StreamId,
    pub stream_version: i64,
    /// Absent only when a producer other than the relay left the header out.
    pub event_id: Option<EventId>,
    /// Position in the event store's global order, when known.
    pub global_position: Option<i64>,
    pub correlation_id: Option<Uuid>,
    /// The W3C trace of the request that caused the event, when it had one.
    pub trace: Option<TraceContext>,
    pub recorded_at: DateTime<Utc>,
}

impl From<&RecordedEvent> for Envelope {
    fn from(event: &RecordedEvent) -> Self {
        Self {
            stream_id: event.stream_id.clone(),
            stream_version: event.stream_version,
            event_id: Some(event.event_id),
            global_position: Some(event.global_position),
            correlation_id: Some(event.metadata.correlation_id),
            trace: event.metadata.trace,
            recorded_at: event.recorded_at,
        }
    }
}

/// Decodes a stored event; one that cannot be decoded stops whoever reads it, since
/// skipping it would silently corrupt a read model.
pub(crate) fn decode(recorded: &RecordedEvent) -> Result<DomainEvent, ProjectionError> {
    DomainEvent::decode_recorded(recorded).map_err(|source| ProjectionError::Decode {
        position: recorded.global_position,
        source,
    })
}

/// One line per applied event at debug level, with the correlation id its command got from
/// the HTTP request id and the trace id of the request's W3C trace, each in a span that
/// continues that trace (`parent` is the span that caused the event):
/// `SHOP_LOG=projections=debug` follows one order from the request through the saga to
/// each read model.
/// Events of streams the projection does not read are passed over silently.
pub(crate) fn trace_projected<'a>(
    projection: &'static str,
    categories: &[&str],
    envelopes: impl IntoIterator<Item = &'a Envelope>,
) {
    if tracing::enabled!(tracing::Level::DEBUG) {
        for envelope in envelopes {
            if !categories.contains(&envelope.stream_id.category()) {
                continue;
            }
            let trace = envelope.trace.map(TraceContext::child);
            let span = tracing::debug_span!(
                "project",
                projection,
                trace_id = trace.map(TraceContext::trace_id_hex),
                traceparent = trace.map(|t| t.to_string()),
                parent = envelope.trace.map(|t| t.to_string()),
            );
            span.in_scope(|| {
                tracing::debug!(
                    stream = envelope.stream_id.as_str(),
                    version = envelope.stream_version,
                    correlation_id = ?envelope.correlation_id,
                    "event projected"
                );
            });
        }
    }
}
