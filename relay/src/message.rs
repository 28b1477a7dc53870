//! One stored event as a Kafka message: topic per stream category, key = stream id (so a
//! stream stays on one partition, in order), camelCase JSON value in the current schema,
//! envelope in headers, among them the CloudEvents 1.0 attributes (Kafka binary content
//! mode). docs/events.md and docs/asyncapi.json document this for consumers.

use super::config::RelayConfig;
use chrono::SecondsFormat;
use events::contract::cloudevents;
use events::names::header;
use events::{CodecError, DomainEvent, RecordedEvent};
use rdkafka::message::{Header, OwnedHeaders};

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

/// A message ready to hand to the producer.
#[derive(Debug, Clone)]
pub struct OutgoingMessage {
    pub topic: String,
    pub key: String,
    pub payload: Vec<u8>,
    /// Header names and values in the order they are sent.
    pub headers: Vec<(&'static str, String)>,
}

impl OutgoingMessage {
    /// Decodes the stored payload (upcasting old schema versions, so Kafka always carries
    /// the current schema) and renders it.
    pub fn from_recorded(
        event: &RecordedEvent,
        config: &RelayConfig,
    ) -> Result<Self, MessageError> {
        let decoded =
            DomainEvent::decode_recorded(event).map_err(|source| MessageError::Decode {
                event_id: event.event_id,
                position: event.global_position,
                source,
            })?;
        let json = decoded.to_json().map_err(|source| MessageError::Render {
            event_id: event.event_id,
            source,
        })?;
        let payload = serde_json::to_vec(&json).map_err(|source| MessageError::Json {
            event_id: event.event_id,
            source,
        })?;
        let metadata = &event.metadata;
        let recorded_at = event
            .recorded_at
            .to_rfc3339_opts(SecondsFormat::Micros, true);
        let mut headers = vec![
            (header::EVENT_TYPE, decoded.event_type().to_owned()),
            (header::SCHEMA_VERSION, decoded.schema_version().to_string()),
            (header::EVENT_ID, event.event_id.to_string()),
            (header::STREAM_ID, event.stream_id.to_string()),
            (header::STREAM_VERSION, event.stream_version.to_string()),
            (header::GLOBAL_POSITION, event.global_position.to_string()),
            (header::CORRELATION_ID, metadata.correlation_id.to_string()),
            (header::CAUSATION_ID, metadata.causation_id.to_string()),
            (header::RECORDED_AT, recorded_at.clone()),
            (header::CONTENT_TYPE, CONTENT_TYPE.to_owned()),
            // CloudEvents, binary mode: the same facts under the names CloudEvents
            // tooling reads, so the value itself stays the plain event JSON.
            (header::CE_SPECVERSION, cloudevents::SPEC_VERSION.to_owned()),
            (header::CE_ID, event.event_id.to_string()),
            (header::CE_SOURCE, config.cloudevents_source.clone()),
            (
                header::CE_TYPE,
                cloudevents::event_type(
                    decoded.category(),
                    decoded.event_type(),
                    decoded.schema_version(),
                ),
            ),
            (header::CE_TIME, recorded_at),
            (header::CE_SUBJECT, event.stream_id.to_string()),
        ];
        if let Some(trace) = metadata.trace {
            headers.push((header::TRACEPARENT, trace.to_string()));
        }
        Ok(Self {
            topic: config.topic(event.stream_id.category()),
            key: event.stream_id.to_string(),
            payload,
            headers,
        })
    }

    pub fn kafka_headers(&self) -> OwnedHeaders {
        self.headers.iter().fold(
            OwnedHeaders::new_with_capacity(self.headers.len()),
            |headers, (key, value)| {
                headers.insert(Header {
                    key,
                    value: Some(value.as_str()),
                })
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use events::wallet::{PointsCharged, PointsChargedV1};
    use events::{EventId, Krw, Metadata, StreamId, UserId, WalletEvent};

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
        message
            .headers
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
            .unwrap()
    }

    #[test]
    fn an_old_schema_goes_out_upcast_with_the_current_version() {
        let v1 = postcard::to_stdvec(&PointsChargedV1 {
            user_id: UserId::new(42).unwrap(),
            amount: Krw::new(500).unwrap(),
        })
        .unwrap();
        let event = recorded("PointsCharged", 1, v1);
        let message = OutgoingMessage::from_recorded(&event, &RelayConfig::new("")).unwrap();

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
        let message = OutgoingMessage::from_recorded(&event, &config("p.")).unwrap();
        let names: Vec<_> = message.headers.iter().map(|(key, _)| *key).collect();
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
        assert!(matches!(
            OutgoingMessage::from_recorded(&event, &RelayConfig::new("")),
            Err(MessageError::Decode { position: 17, .. })
        ));
    }
}
