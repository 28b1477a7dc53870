//! Where an event sits, as projections see it. The embedded feed hands over full
//! `RecordedEvent`s; Kafka carries the same facts in message headers, minus the payload
//! bytes and part of the metadata, so projections depend on this common subset only.

use crate::error::ProjectionError;
use chrono::{DateTime, Utc};
use events::names::TRACE_TARGET;
use events::{DomainEvent, EventId, RecordedEvent, StreamId, TraceContext};
use tracing_opentelemetry::OpenTelemetrySpanExt;
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

/// One span per applied event that continues the W3C trace of the request that caused it
/// (exported when OTLP is on), and inside it one line at debug level with the correlation
/// id its command got from the HTTP request id and the trace id:
/// `SHOP_LOG=projections=debug` follows one order from the request through the saga to
/// each read model. Events of streams the projection does not read are passed over.
pub(crate) fn trace_projected<'a>(
    projection: &'static str,
    categories: &[&str],
    envelopes: impl IntoIterator<Item = &'a Envelope>,
) {
    let spans = tracing::span_enabled!(target: TRACE_TARGET, tracing::Level::TRACE);
    if !spans && !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
    for envelope in envelopes {
        if !categories.contains(&envelope.stream_id.category()) {
            continue;
        }
        let span = tracing::trace_span!(
            target: TRACE_TARGET,
            "project",
            projection,
            stream = envelope.stream_id.as_str(),
            version = envelope.stream_version,
        );
        if let Some(trace) = envelope.trace {
            // Only fails when no OpenTelemetry layer is installed: nothing to continue.
            span.set_parent(trace.to_otel()).ok();
        }
        span.in_scope(|| {
            tracing::debug!(
                projection,
                stream = envelope.stream_id.as_str(),
                version = envelope.stream_version,
                correlation_id = ?envelope.correlation_id,
                trace_id = envelope.trace.map(TraceContext::trace_id_hex),
                "event projected"
            );
        });
    }
}
