//! The published event contract stays what the code sends and stays compatible:
//! `docs/asyncapi.json` is exactly what `shop contract asyncapi` generates, and every
//! event's current payload schema reads and is read by every released version of it
//! (`events/contract/released/{event type}.v{version}.json`).
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use events::contract::compat::{breaking_changes, without_annotations};
use events::contract::{asyncapi, events, payload_schema};
use serde_json::Value;
use std::path::{Path, PathBuf};

const REGENERATE: &str = "cargo run -q -- contract asyncapi > docs/asyncapi.json";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn released_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("contract/released")
}

fn writing() -> bool {
    std::env::var_os("SHOP_WRITE_CONTRACT").is_some()
}

#[test]
fn the_checked_in_asyncapi_document_is_what_the_code_generates() {
    let path = repo().join("docs/asyncapi.json");
    let generated = asyncapi::render(&asyncapi::document(&events()));
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "docs/asyncapi.json differs from what the event types generate; regenerate it with \
         `{REGENERATE}` (from the repository root) and commit it"
    );
}

/// Every released schema version of an event type, oldest first.
fn released(event_type: &str) -> Vec<(u16, Value)> {
    let mut found: Vec<(u16, Value)> = std::fs::read_dir(released_dir())
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().into_string().unwrap();
            let version = name
                .strip_prefix(&format!("{event_type}.v"))?
                .strip_suffix(".json")?
                .parse()
                .ok()?;
            let text = std::fs::read_to_string(released_dir().join(&name)).unwrap();
            Some((version, serde_json::from_str(&text).unwrap()))
        })
        .collect();
    found.sort_by_key(|(version, _)| *version);
    found
}

fn write_released(event_type: &str, version: u16, schema: &Value) {
    let path = released_dir().join(format!("{event_type}.v{version}.json"));
    if !path.exists() {
        std::fs::write(&path, format!("{schema:#}\n")).unwrap();
    }
}

/// Released files are never rewritten: a release is what consumers already have. With
/// `SHOP_WRITE_CONTRACT=1` the missing ones (a new event type or version) are written.
#[test]
fn every_current_schema_is_released_unchanged_and_compatible_with_every_earlier_release() {
    if writing() {
        // PointsCharged v1 predates this directory; its schema is kept from its struct.
        write_released(
            "PointsCharged",
            1,
            &payload_schema::<events::wallet::PointsChargedV1>(),
        );
    }
    let mut problems = Vec::new();
    for event in events() {
        if writing() {
            write_released(event.event_type, event.schema_version, &event.payload);
        }
        let releases = released(event.event_type);
        match releases.iter().find(|(v, _)| *v == event.schema_version) {
            None => problems.push(format!(
                "{} v{} is not released: run `SHOP_WRITE_CONTRACT=1 cargo test -p events --test \
                 contract` and commit events/contract/released/",
                event.event_type, event.schema_version
            )),
            Some((_, schema))
                if without_annotations(schema) != without_annotations(&event.payload) =>
            {
                problems.push(format!(
                    "{} v{} differs from its released schema: a change to an event needs a new \
                     schema version (docs/events.md, \"Evolving a schema\")",
                    event.event_type, event.schema_version
                ))
            }
            Some(_) => {}
        }
        for (version, schema) in releases.iter().filter(|(v, _)| *v < event.schema_version) {
            for change in breaking_changes(schema, &event.payload) {
                problems.push(format!(
                    "{} v{} breaks consumers of v{version}: {change}",
                    event.event_type, event.schema_version
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The check above catches a real breaking edit of a released event, and lets an additive
/// one through, on the schemas as generated (not hand-made ones).
#[test]
fn the_compatibility_check_fails_on_a_breaking_edit_and_passes_an_additive_one() {
    let issued = events()
        .into_iter()
        .find(|e| e.event_type == "CouponIssued")
        .unwrap()
        .payload;

    let mut additive = issued.clone();
    additive["properties"]["channel"] = serde_json::json!({"type": ["string", "null"]});
    assert_eq!(breaking_changes(&issued, &additive), []);

    let mut breaking = issued.clone();
    breaking["properties"]
        .as_object_mut()
        .unwrap()
        .remove("sequence");
    breaking["required"] = serde_json::json!(["couponId", "userId", "userCouponId", "issuedAt"]);
    let breaks: Vec<String> = breaking_changes(&issued, &breaking)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(breaks, ["field $.sequence removed"]);

    // PointsCharged v1 -> v2 added the optional idempotencyKey: compatible.
    let v1 = payload_schema::<events::wallet::PointsChargedV1>();
    let v2 = payload_schema::<events::wallet::PointsCharged>();
    assert_eq!(breaking_changes(&v1, &v2), []);
}
