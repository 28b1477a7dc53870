//! Every value the relay publishes fits the published contract: the golden payload of
//! every event type in every schema version it was ever stored in
//! (`events/tests/fixtures/`) is appended, relayed to real Kafka, and each message read
//! back must validate against its message in `docs/asyncapi.json`, headers (with the
//! CloudEvents attributes) and value, an old version after its upcast.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

// Shared with tests/relay.rs, which uses all of it; this test needs only part.
#[allow(dead_code)]
use crate::relay_support;

use event_store::EventStore;
use events::{DomainEvent, EventId, Metadata, NewEvent, StreamId};
use relay::NoLeaderLock;
use relay_support::*;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

const READER: &str = "relay";

/// (event type, stored schema version, payload bytes) of every golden fixture.
fn fixtures() -> Vec<(String, u16, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/tests/fixtures");
    let mut found: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().into_string().unwrap();
            let (event_type, version) = name.strip_suffix(".bin")?.rsplit_once(".v")?;
            let bytes = std::fs::read(dir.join(&name)).unwrap();
            Some((event_type.to_owned(), version.parse().unwrap(), bytes))
        })
        .collect();
    found.sort();
    found
}

fn validators() -> HashMap<String, (jsonschema::Validator, jsonschema::Validator)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/asyncapi.json");
    let document: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let build = |schema: &Value| {
        jsonschema::draft7::options()
            .should_validate_formats(true)
            .build(schema)
            .unwrap()
    };
    document["components"]["messages"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, m)| (name.clone(), (build(&m["headers"]), build(&m["payload"]))))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_event_type_in_every_stored_version_is_published_as_the_document_says() {
    let store = fresh_store().await;
    let prefix = fresh_prefix();
    let stored = fixtures();
    assert!(stored.len() >= DomainEvent::schema_versions().count());
    for (i, (event_type, version, payload)) in stored.iter().enumerate() {
        let category = DomainEvent::decode(event_type, *version, payload)
            .unwrap()
            .category();
        // One stream each, so every message is its stream's version 1.
        let stream = StreamId::from_stored(format!("{}-{}", category.as_str(), i + 1));
        let event = NewEvent {
            event_id: EventId::new(),
            event_type: event_type.clone(),
            schema_version: *version,
            payload: payload.clone(),
            metadata: Metadata::for_new_command(),
        };
        store.append(&stream, 0, &[event]).await.unwrap();
    }
    let relay = spawn_relay(store.clone(), NoLeaderLock, relay_config(&prefix));
    wait_until_published(&store, READER).await;
    relay.stop().await;

    let received = consume_all(&prefix, &events::names::Category::NAMES).await;
    assert_eq!(received.len(), stored.len());
    let validators = validators();
    let mut problems = Vec::new();
    for message in &received {
        let event_type = message.header("event-type");
        let (headers, payload) = &validators[event_type];
        let header_object = Value::Object(
            message
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        );
        problems.extend(
            headers
                .iter_errors(&header_object)
                .map(|e| format!("{event_type} header {}: {e}", e.instance_path())),
        );
        problems.extend(
            payload
                .iter_errors(&message.value)
                .map(|e| format!("{event_type} value {}: {e}", e.instance_path())),
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let types: BTreeSet<&str> = received.iter().map(|m| m.header("event-type")).collect();
    let all: BTreeSet<&str> = DomainEvent::schema_versions().map(|(t, _)| t).collect();
    assert_eq!(types, all, "every event type was published");
}
