//! One stored event as a Kafka message: topic per stream category, key = stream id (so a
//! stream stays on one partition, in order), camelCase JSON value in the current schema,
//! envelope in headers, among them the CloudEvents 1.0 attributes (Kafka binary content
//! mode). docs/events.md and docs/asyncapi.json document this for consumers.

use super::config::RelayConfig;
use chrono::SecondsFormat;
use events::contract::cloudevents;
use events::names::Category;
use events::names::header;
use events::{CodecError, DomainEvent, RecordedEvent};
use rdkafka::message::{Header, OwnedHeaders};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("cannot decode event {event_id} at position {position}: {source}")]
    Decode {
        event_id: events::EventId,
        position: i64,
        #[source]
        source: CodecError,
    },
    #[error("cannot render event {event_id} as JSON: {source}")]
    Render {
        event_id: events::EventId,
        #[source]
        source: CodecError,
    },
    #[error("cannot serialize event {event_id}: {source}")]
    Json {
        event_id: events::EventId,
        #[source]
        source: serde_json::Error,
    },
}

pub const CONTENT_TYPE: &str = "application/json";

/// Every category's topic name, built once per relay term instead of once per message.
#[derive(Debug, Clone)]
pub struct Topics([String; Category::ALL.len()]);

impl Topics {
    pub fn new(config: &RelayConfig) -> Self {
        Self(Category::ALL.map(|category| config.topic(category.as_str())))
    }

    pub fn of(&self, category: Category) -> &str {
        &self.0[category.index()]
    }
}

/// A message ready to hand to the producer. It borrows its topic and key from the batch
/// and holds its headers already as librdkafka's list: the relay's cost is per message,
/// so a message costs the payload, the header list and two formatted strings, no more.
#[derive(Debug)]
pub struct OutgoingMessage<'a> {
    pub topic: &'a str,
    pub key: &'a str,
    pub payload: Vec<u8>,
    /// Header names and values in the order they are sent.
    pub headers: OwnedHeaders,
}

impl<'a> OutgoingMessage<'a> {
    /// Decodes the stored payload (upcasting old schema versions, so Kafka always carries
    /// the current schema) and renders it.
    pub fn from_recorded(
        event: &'a RecordedEvent,
        topics: &'a Topics,
        config: &RelayConfig,
    ) -> Result<Self, MessageError> {
        let decoded =
            DomainEvent::decode_recorded(event).map_err(|source| MessageError::Decode {
                event_id: event.event_id,
                position: event.global_position,
                source,
            })?;
        let payload = decoded
            .to_json_vec()
            .map_err(|source| MessageError::Render {
                event_id: event.event_id,
                source,
            })?;
        let metadata = &event.metadata;
        let recorded_at = event
            .recorded_at
            .to_rfc3339_opts(SecondsFormat::Micros, true);
        let ce_type = cloudevents::event_type(
            decoded.category(),
            decoded.event_type(),
            decoded.schema_version(),
        );
        let stream_id = event.stream_id.as_str();
        let mut event_id = Uuid::encode_buffer();
        let event_id = event.event_id.0.hyphenated().encode_lower(&mut event_id);
        let mut correlation_id = Uuid::encode_buffer();
        let mut causation_id = Uuid::encode_buffer();
        let (mut schema_version, mut stream_version, mut global_position) = (
            itoa::Buffer::new(),
            itoa::Buffer::new(),
            itoa::Buffer::new(),
        );
        let mut headers = OwnedHeaders::new_with_capacity(HEADERS_AT_MOST);
        for (key, value) in [
            (header::EVENT_TYPE, decoded.event_type()),
            (
                header::SCHEMA_VERSION,
                schema_version.format(decoded.schema_version()),
            ),
            (header::EVENT_ID, &*event_id),
            (header::STREAM_ID, stream_id),
            (
                header::STREAM_VERSION,
                stream_version.format(event.stream_version),
            ),
            (
                header::GLOBAL_POSITION,
                global_position.format(event.global_position),
            ),
            (
                header::CORRELATION_ID,
                &*metadata
                    .correlation_id
                    .hyphenated()
                    .encode_lower(&mut correlation_id),
            ),
            (
                header::CAUSATION_ID,
                &*metadata
                    .causation_id
                    .hyphenated()
                    .encode_lower(&mut causation_id),
            ),
            (header::RECORDED_AT, &recorded_at),
            (header::CONTENT_TYPE, CONTENT_TYPE),
            // CloudEvents, binary mode: the same facts under the names CloudEvents
            // tooling reads, so the value itself stays the plain event JSON.
            (header::CE_SPECVERSION, cloudevents::SPEC_VERSION),
            (header::CE_ID, &*event_id),
            (header::CE_SOURCE, &config.cloudevents_source),
            (header::CE_TYPE, &ce_type),
            (header::CE_TIME, &recorded_at),
            (header::CE_SUBJECT, stream_id),
        ] {
            headers = headers.insert(Header {
                key,
                value: Some(value),
            });
        }
        if let Some(trace) = metadata.trace {
            headers = headers.insert(Header {
                key: header::TRACEPARENT,
                value: Some(&trace.to_traceparent()),
            });
        }
        Ok(Self {
            topic: topics.of(decoded.category()),
            key: stream_id,
            payload,
            headers,
        })
    }
}

/// The sixteen headers every message has, and `traceparent` when the command was traced.
const HEADERS_AT_MOST: usize = 17;

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use events::wallet::{PointsCharged, PointsChargedV1};
    use events::{EventId, Krw, Metadata, StreamId, UserId, WalletEvent};
    use rdkafka::message::Headers;

    fn recorded(event_type: &str, schema_version: u16, payload: Vec<u8>) -> RecordedEvent {
        RecordedEvent {
            global_position: 17,
            event_id: EventId::new(),
            stream_id: StreamId::wallet(UserId::new(42).unwrap()),
            stream_version: 3,
            event_type: event_type.to_owned(),
            schema_version,
            payload,
            metadata: Metadata::for_new_command(),
            recorded_at: chrono::Utc
                .with_ymd_and_hms(2026, 11, 25, 1, 2, 3)
                .single()
                .unwrap(),
        }
    }

    fn config(prefix: &str) -> RelayConfig {
        RelayConfig {
            topic_prefix: prefix.to_owned(),
            cloudevents_source: "/test".to_owned(),
            ..RelayConfig::new("")
        }
    }

    fn header<'a>(message: &'a OutgoingMessage, name: &str) -> &'a str {
        let value = message
            .headers
            .iter()
            .find(|header| header.key == name)
            .and_then(|header| header.value)
            .unwrap();
        std::str::from_utf8(value).unwrap()
    }

    #[test]
    fn an_old_schema_goes_out_upcast_with_the_current_version() {
        let v1 = postcard::to_stdvec(&PointsChargedV1 {
            user_id: UserId::new(42).unwrap(),
            amount: Krw::new(500).unwrap(),
        })
        .unwrap();
        let event = recorded("PointsCharged", 1, v1);
        let config = RelayConfig::new("");
        let topics = Topics::new(&config);
        let message = OutgoingMessage::from_recorded(&event, &topics, &config).unwrap();

        assert_eq!(message.topic, "shop.wallet");
        assert_eq!(message.key, "wallet-42");
        let value: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"userId": 42, "amount": 500, "idempotencyKey": null})
        );
        assert_eq!(header(&message, "schema-version"), "2");
        assert_eq!(header(&message, "event-type"), "PointsCharged");
        assert_eq!(header(&message, "stream-version"), "3");
        assert_eq!(header(&message, "global-position"), "17");
        assert_eq!(
            header(&message, "recorded-at"),
            "2026-11-25T01:02:03.000000Z"
        );
        assert_eq!(header(&message, "content-type"), "application/json");
    }

    #[test]
    fn every_header_is_sent_once() {
        let encoded = WalletEvent::PointsCharged(PointsCharged {
            user_id: UserId::new(42).unwrap(),
            amount: Krw::new(1).unwrap(),
            idempotency_key: Some("k".to_owned()),
        })
        .encode()
        .unwrap();
        let event = recorded(encoded.event_type, encoded.schema_version, encoded.payload);
        let config = config("p.");
        let topics = Topics::new(&config);
        let message = OutgoingMessage::from_recorded(&event, &topics, &config).unwrap();
        assert_eq!(message.topic, "p.wallet");
        let names: Vec<_> = message.headers.iter().map(|header| header.key).collect();
        assert_eq!(
            names,
            [
                "event-type",
                "schema-version",
                "event-id",
                "stream-id",
                "stream-version",
                "global-position",
                "correlation-id",
                "causation-id",
                "recorded-at",
                "content-type",
                "ce_specversion",
                "ce_id",
                "ce_source",
                "ce_type",
                "ce_time",
                "ce_subject",
            ]
        );
        assert_eq!(header(&message, "ce_id"), event.event_id.to_string());
        assert_eq!(header(&message, "ce_type"), "shop.wallet.PointsCharged.v2");
        assert_eq!(header(&message, "ce_source"), "/test");
        assert_eq!(header(&message, "ce_subject"), "wallet-42");
        assert_eq!(header(&message, "ce_specversion"), "1.0");
        assert_eq!(header(&message, "event-id"), event.event_id.to_string());
        assert_eq!(
            header(&message, "correlation-id"),
            event.metadata.correlation_id.to_string()
        );
    }

    #[test]
    fn an_unknown_event_type_is_an_error_not_a_skip() {
        let event = recorded("SomethingNew", 1, vec![1, 2, 3]);
        let config = RelayConfig::new("");
        assert!(matches!(
            OutgoingMessage::from_recorded(&event, &Topics::new(&config), &config),
            Err(MessageError::Decode { position: 17, .. })
        ));
    }
}
