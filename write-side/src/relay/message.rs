//! One stored event as a Kafka message: topic per stream category, key = stream id (so a
//! stream stays on one partition, in order), camelCase JSON value in the current schema,
//! envelope in headers. docs/events.md documents this for consumers.

use chrono::SecondsFormat;
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
    pub fn from_recorded(event: &RecordedEvent, topic_prefix: &str) -> Result<Self, MessageError> {
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
        let headers = vec![
            ("event-type", decoded.event_type().to_owned()),
            ("schema-version", decoded.schema_version().to_string()),
            ("event-id", event.event_id.to_string()),
            ("stream-id", event.stream_id.to_string()),
            ("stream-version", event.stream_version.to_string()),
            ("global-position", event.global_position.to_string()),
            ("correlation-id", metadata.correlation_id.to_string()),
            ("causation-id", metadata.causation_id.to_string()),
            (
                "recorded-at",
                event
                    .recorded_at
                    .to_rfc3339_opts(SecondsFormat::Micros, true),
            ),
            ("content-type", CONTENT_TYPE.to_owned()),
        ];
        Ok(Self {
            topic: format!("{topic_prefix}{}", event.stream_id.category()),
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
        let message = OutgoingMessage::from_recorded(&event, "shop.").unwrap();

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
        let message = OutgoingMessage::from_recorded(&event, "p.").unwrap();
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
                "content-type"
            ]
        );
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
            OutgoingMessage::from_recorded(&event, "shop."),
            Err(MessageError::Decode { position: 17, .. })
        ));
    }
}
