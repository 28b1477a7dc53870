//! Reading one Kafka message of the event contract (docs/events.md): key = stream id,
//! value = the event as camelCase JSON, envelope in headers.

use crate::Envelope;
use crate::error::MessageError;
use chrono::{DateTime, Utc};
use events::names::header;
use events::{DomainEvent, EventId, StreamId, TraceContext};
use rdkafka::Message;
use rdkafka::message::{BorrowedMessage, Headers};
use uuid::Uuid;

/// A decoded event and where it sits in its stream.
#[derive(Debug, Clone)]
pub(crate) struct InboundEvent {
    pub envelope: Envelope,
    pub event: DomainEvent,
}

/// A message, decoded if its stream is one the consumer reads (`event` is `None` for
/// streams it passes over), with the coordinates its offset is stored under.
#[derive(Debug)]
pub(crate) struct Inbound {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub event: Option<InboundEvent>,
}

impl Inbound {
    pub(crate) fn read(
        message: &BorrowedMessage<'_>,
        categories: &[&str],
    ) -> Result<Self, MessageError> {
        Ok(Self {
            topic: message.topic().to_owned(),
            partition: message.partition(),
            offset: message.offset(),
            event: decode(message, categories)?,
        })
    }
}

fn decode(
    message: &BorrowedMessage<'_>,
    categories: &[&str],
) -> Result<Option<InboundEvent>, MessageError> {
    let headers = HeaderMap::of(message);
    let stream_id = match headers.get(header::STREAM_ID) {
        Some(stream) => stream.to_owned(),
        // The key is the stream id too; the header is the documented source.
        None => message
            .key()
            .and_then(|key| std::str::from_utf8(key).ok())
            .ok_or(MessageError::MissingHeader(header::STREAM_ID))?
            .to_owned(),
    };
    let stream_id = StreamId::from_stored(stream_id);
    if !categories.contains(&stream_id.category()) {
        return Ok(None);
    }
    let event_type = headers.require(header::EVENT_TYPE)?;
    let stream_version = headers.parse(header::STREAM_VERSION, |v| v.parse::<i64>().ok())?;
    let event_id = headers
        .optional(header::EVENT_ID, |v| Uuid::parse_str(v).ok())
        .map(EventId);
    let global_position = headers.optional(header::GLOBAL_POSITION, |v| v.parse::<i64>().ok());
    let correlation_id = headers.optional(header::CORRELATION_ID, |v| Uuid::parse_str(v).ok());
    let trace = headers.optional(header::TRACEPARENT, |v| TraceContext::parse(v).ok());
    let recorded_at = match headers.optional(header::RECORDED_AT, |v| {
        DateTime::parse_from_rfc3339(v)
            .ok()
            .map(|at| at.with_timezone(&Utc))
    }) {
        Some(at) => at,
        // Without the header, the producer's timestamp is the next best thing.
        None => message
            .timestamp()
            .to_millis()
            .and_then(DateTime::from_timestamp_millis)
            .unwrap_or_else(Utc::now),
    };
    let value = message.payload().ok_or(MessageError::NoValue)?;
    let event = DomainEvent::from_json(event_type, value)?;
    Ok(Some(InboundEvent {
        envelope: Envelope {
            stream_id,
            stream_version,
            event_id,
            global_position,
            correlation_id,
            trace,
            recorded_at,
        },
        event,
    }))
}

/// Header values by name, read as text (every header of the contract is UTF-8) only when
/// asked for: a message has 17 headers and the projectors read 8 of them, and checking
/// every value was 4 % of the projector's samples.
struct HeaderMap<'m>(Vec<(&'m str, Option<&'m [u8]>)>);

impl<'m> HeaderMap<'m> {
    fn of(message: &'m BorrowedMessage<'_>) -> Self {
        let pairs = message
            .headers()
            .map(|headers| headers.iter().map(|h| (h.key, h.value)).collect())
            .unwrap_or_default();
        Self(pairs)
    }

    fn get(&self, name: &str) -> Option<&'m str> {
        self.0
            .iter()
            .find(|(key, _)| *key == name)
            .and_then(|(_, value)| std::str::from_utf8((*value)?).ok())
    }

    fn require(&self, name: &'static str) -> Result<&'m str, MessageError> {
        self.get(name).ok_or(MessageError::MissingHeader(name))
    }

    fn parse<T>(
        &self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<T, MessageError> {
        let value = self.require(name)?;
        parse(value).ok_or_else(|| MessageError::BadHeader {
            name,
            value: value.to_owned(),
        })
    }

    /// A header the projections can do without: absent or unreadable reads as `None`,
    /// since stopping a read model over, say, a malformed correlation id helps no one.
    fn optional<T>(&self, name: &'static str, parse: impl FnOnce(&str) -> Option<T>) -> Option<T> {
        self.get(name).and_then(parse)
    }
}
