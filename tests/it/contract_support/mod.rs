//! What a downstream consumer of the event contract has: every message of a cluster's
//! topics read from the beginning (strings and JSON only, no `events` types), and the
//! schemas of `docs/asyncapi.json` to check them against.
#![allow(dead_code)]

use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// One Kafka message as a consumer sees it.
#[derive(Debug, Clone)]
pub struct Received {
    pub topic: String,
    pub key: String,
    pub headers: Vec<(String, String)>,
    pub value: Value,
}

impl Received {
    /// The header's value; panics if it is missing or sent twice.
    pub fn header(&self, name: &str) -> &str {
        let mut values = self.headers.iter().filter(|(key, _)| key == name);
        let (_, value) = values
            .next()
            .unwrap_or_else(|| panic!("header {name} missing in {self:?}"));
        assert!(values.next().is_none(), "header {name} sent twice");
        value
    }

    pub fn optional_header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn event_type(&self) -> &str {
        self.header("event-type")
    }

    /// The headers as one JSON object, the shape the AsyncAPI headers schema describes.
    pub fn headers_json(&self) -> Value {
        Value::Object(
            self.headers
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        )
    }
}

/// Every message on `topics` up to their high watermarks now, read from the beginning;
/// an error while a topic is still being created (first publish creates it).
pub async fn consume_all(
    brokers: &str,
    topics: &[String],
    within: Duration,
) -> Result<Vec<Received>, String> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set(
            "group.id",
            format!("test-{}", uuid::Uuid::new_v4().simple()),
        )
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("a consumer");
    let mut remaining: HashMap<(String, i32), i64> = HashMap::new();
    for topic in topics {
        let metadata = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .map_err(|e| format!("{topic}: {e}"))?;
        let partitions = metadata.topics()[0].partitions();
        if partitions.is_empty() {
            return Err(format!("{topic} does not exist yet"));
        }
        for partition in partitions {
            let (low, high) = consumer
                .fetch_watermarks(topic, partition.id(), Duration::from_secs(10))
                .map_err(|e| format!("{topic}: {e}"))?;
            if high > low {
                remaining.insert((topic.clone(), partition.id()), high);
            }
        }
    }
    let refs: Vec<&str> = topics.iter().map(String::as_str).collect();
    consumer.subscribe(&refs).expect("subscribed");
    let deadline = Instant::now() + within;
    let mut received = Vec::new();
    while !remaining.is_empty() {
        let message = tokio::time::timeout_at(deadline.into(), consumer.recv())
            .await
            .map_err(|_| format!("still waiting for {remaining:?}"))?
            .map_err(|e| e.to_string())?;
        let headers = message
            .headers()
            .map(|headers| {
                headers
                    .iter()
                    .map(|h| {
                        let value = h
                            .value
                            .map(|v| String::from_utf8(v.to_vec()).expect("UTF-8"));
                        (h.key.to_owned(), value.unwrap_or_default())
                    })
                    .collect()
            })
            .unwrap_or_default();
        let entry = (message.topic().to_owned(), message.partition());
        if remaining
            .get(&entry)
            .is_some_and(|high| message.offset() + 1 >= *high)
        {
            remaining.remove(&entry);
        }
        received.push(Received {
            topic: message.topic().to_owned(),
            key: String::from_utf8(message.key().expect("a key").to_vec()).expect("UTF-8 key"),
            headers,
            value: serde_json::from_slice(message.payload().expect("a value")).expect("JSON"),
        });
    }
    Ok(received)
}

/// The checked-in AsyncAPI document (kept equal to the generated one by
/// `events/tests/it/contract.rs`).
pub fn asyncapi() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/asyncapi.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("docs/asyncapi.json"))
        .expect("the document is JSON")
}

/// Validators of each message's headers and payload, by event type.
pub struct Contract {
    messages: HashMap<String, (jsonschema::Validator, jsonschema::Validator)>,
}

impl Contract {
    pub fn from_document(document: &Value) -> Self {
        let build = |schema: &Value| {
            jsonschema::draft7::options()
                .should_validate_formats(true)
                .build(schema)
                .expect("a valid schema")
        };
        let messages = document["components"]["messages"]
            .as_object()
            .expect("components.messages")
            .iter()
            .map(|(name, message)| {
                (
                    name.clone(),
                    (build(&message["headers"]), build(&message["payload"])),
                )
            })
            .collect();
        Self { messages }
    }

    /// Every way `message` violates the document; empty when it conforms.
    pub fn violations(&self, message: &Received) -> Vec<String> {
        let Some((headers, payload)) = self.messages.get(message.event_type()) else {
            return vec![format!(
                "no message {} in the document",
                message.event_type()
            )];
        };
        let headers_json = message.headers_json();
        headers
            .iter_errors(&headers_json)
            .map(|e| format!("header {}: {e}", e.instance_path()))
            .chain(
                payload
                    .iter_errors(&message.value)
                    .map(|e| format!("value {}: {e}", e.instance_path())),
            )
            .collect()
    }
}
