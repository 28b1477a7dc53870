//! The AsyncAPI 3.0 document of shop's Kafka topics (`docs/asyncapi.json`, printed by
//! `shop contract asyncapi`): the broker, one channel per topic, one message per event
//! type with its headers (shop's envelope and the CloudEvents attributes) and its payload
//! schema. Built from `super::events()`, so it is what the code sends, not a description
//! of it kept by hand.

use super::{EventContract, cloudevents};
use crate::names::{Category, header};
use serde_json::{Map, Value, json};

/// The `info.version` of the document: the contract's own version, raised when a message
/// changes (a new schema version is a change), so registries can tell documents apart.
pub const DOCUMENT_VERSION: &str = "1.0.0";

/// Kafka bindings version the document's `bindings` follow.
const KAFKA_BINDING_VERSION: &str = "0.5.0";

const UUID_PATTERN: &str = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";
const POSITIVE_PATTERN: &str = "^[1-9][0-9]*$";
/// W3C trace context, version 00: trace id, parent span id, flags.
pub const TRACEPARENT_PATTERN: &str = "^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$";

/// The whole document for `events` (normally `super::events()`).
pub fn document(events: &[EventContract]) -> Value {
    let mut channels = Map::new();
    let mut operations = Map::new();
    let mut messages = Map::new();
    for category in Category::ALL {
        let of_category: Vec<&EventContract> =
            events.iter().filter(|e| e.category == category).collect();
        let name = category.as_str();
        let channel_messages: Map<String, Value> = of_category
            .iter()
            .map(|e| {
                (
                    e.event_type.to_owned(),
                    json!({"$ref": format!("#/components/messages/{}", e.event_type)}),
                )
            })
            .collect();
        channels.insert(
            name.to_owned(),
            json!({
                "address": format!("{{prefix}}{name}"),
                "title": format!("{name} events"),
                "description": format!(
                    "Every event of every `{name}-{{id}}` stream, keyed by the stream id, in \
                     stream order within a partition. Delivery is at least once: dedupe by \
                     (`stream-id`, `stream-version`), applying a message only when its version \
                     is the last applied plus one."
                ),
                "parameters": {"prefix": {"$ref": "#/components/parameters/prefix"}},
                "messages": channel_messages,
            }),
        );
        let operation_messages: Vec<Value> = of_category
            .iter()
            .map(|e| json!({"$ref": format!("#/channels/{name}/messages/{}", e.event_type)}))
            .collect();
        operations.insert(
            format!("publish-{name}"),
            json!({
                "action": "send",
                "title": format!("Publish {name} events"),
                "summary": format!("The relay publishes every committed {name} event."),
                "channel": {"$ref": format!("#/channels/{name}")},
                "messages": operation_messages,
            }),
        );
        for event in of_category {
            messages.insert(event.event_type.to_owned(), message(event));
        }
    }
    json!({
        "asyncapi": "3.0.0",
        "info": {
            "title": "shop events",
            "version": DOCUMENT_VERSION,
            "description": "Every event shop's event store commits, published by the outbox \
                relay (`shop relay`) to one Kafka topic per aggregate type. The value is the \
                event as camelCase UTF-8 JSON in its current schema version; the envelope is \
                in headers, among them the CloudEvents 1.0 attributes (Kafka protocol \
                binding, binary content mode). docs/events.md explains delivery and dedupe.",
            "license": {"name": "MIT"},
        },
        "defaultContentType": "application/json",
        "servers": {
            "kafka": {
                "host": "localhost:9092",
                "protocol": "kafka",
                "description": "The brokers `SHOP_KAFKA_BROKERS` names.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "parameters": {
                "prefix": {
                    "description": "The topic prefix (`SHOP_KAFKA_TOPIC_PREFIX`).",
                    "default": "shop.",
                    "examples": ["shop."],
                }
            },
            "messages": messages,
        },
    })
}

fn message(event: &EventContract) -> Value {
    let mut payload = event.payload.clone();
    // AsyncAPI's default schema format is draft-07 JSON Schema; the dialect is the
    // document's, so a `$schema` inside a payload would only be noise.
    if let Some(object) = payload.as_object_mut() {
        object.remove("$schema");
    }
    json!({
        "name": event.event_type,
        "title": event.event_type,
        "summary": format!(
            "{} (schema version {}) on a {} stream.",
            event.event_type,
            event.schema_version,
            event.category.as_str()
        ),
        "contentType": "application/json",
        "headers": headers(event),
        "payload": payload,
        "bindings": {
            "kafka": {
                "key": stream_id(event.category, "The stream id: a stream stays on one partition."),
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    })
}

fn stream_id(category: Category, description: &str) -> Value {
    json!({
        "type": "string",
        "pattern": format!("^{}-[1-9][0-9]*$", category.as_str()),
        "description": description,
    })
}

fn constant(value: &str, description: &str) -> Value {
    json!({"type": "string", "const": value, "description": description})
}

fn uuid(description: &str) -> Value {
    json!({"type": "string", "format": "uuid", "pattern": UUID_PATTERN, "description": description})
}

fn number(description: &str) -> Value {
    json!({"type": "string", "pattern": POSITIVE_PATTERN, "description": description})
}

fn time(description: &str) -> Value {
    json!({"type": "string", "format": "date-time", "description": description})
}

/// The headers schema of one message: every header is a UTF-8 string; all but
/// `traceparent` are always sent.
pub fn headers(event: &EventContract) -> Value {
    let version = event.schema_version.to_string();
    let ce_type = cloudevents::event_type(event.category, event.event_type, event.schema_version);
    let properties: Vec<(&str, Value)> = vec![
        (
            header::EVENT_TYPE,
            constant(event.event_type, "The event type."),
        ),
        (
            header::SCHEMA_VERSION,
            constant(
                &version,
                "The schema version of the value as sent (not as stored).",
            ),
        ),
        (header::EVENT_ID, uuid("Unique per event.")),
        (
            header::STREAM_ID,
            stream_id(
                event.category,
                "The stream the event belongs to; also the key.",
            ),
        ),
        (
            header::STREAM_VERSION,
            number("1, 2, ... per stream, no gaps: dedupe by (stream-id, stream-version)."),
        ),
        (
            header::GLOBAL_POSITION,
            number("Commit order across all streams."),
        ),
        (
            header::CORRELATION_ID,
            uuid("The conversation (HTTP request, order saga)."),
        ),
        (
            header::CAUSATION_ID,
            uuid("The message that caused the command."),
        ),
        (
            header::RECORDED_AT,
            time("When the store committed the event (RFC 3339, UTC)."),
        ),
        (
            header::CONTENT_TYPE,
            constant(
                "application/json",
                "Also the CloudEvents `datacontenttype`.",
            ),
        ),
        (
            header::CE_SPECVERSION,
            constant(cloudevents::SPEC_VERSION, "CloudEvents spec version."),
        ),
        (header::CE_ID, uuid("CloudEvents `id`: the event id.")),
        (
            header::CE_SOURCE,
            json!({
                "type": "string",
                "format": "uri-reference",
                "minLength": 1,
                "description": "CloudEvents `source` (`SHOP_CLOUDEVENTS_SOURCE`, default `/shop`).",
                "examples": [cloudevents::DEFAULT_SOURCE],
            }),
        ),
        (header::CE_TYPE, constant(&ce_type, "CloudEvents `type`.")),
        (
            header::CE_TIME,
            time("CloudEvents `time`: the recorded-at time."),
        ),
        (
            header::CE_SUBJECT,
            stream_id(event.category, "CloudEvents `subject`: the stream id."),
        ),
        (
            header::TRACEPARENT,
            json!({
                "type": "string",
                "pattern": TRACEPARENT_PATTERN,
                "description": "W3C trace context of the request that caused the event; \
                    absent when nothing traced it.",
            }),
        ),
    ];
    let required: Vec<&str> = properties
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| *name != header::TRACEPARENT)
        .collect();
    let properties: Map<String, Value> = properties
        .into_iter()
        .map(|(name, schema)| (name.to_owned(), schema))
        .collect();
    json!({"type": "object", "required": required, "properties": properties})
}

/// `document` as the checked-in file holds it: pretty JSON ending in a newline.
pub fn render(document: &Value) -> String {
    format!("{document:#}\n")
}
