//! Event metadata is stored as JSON beside every event, so its layouts are pinned like the
//! payloads': `fixtures/metadata.v1.json` (before traces were kept) and `metadata.v2.json`
//! (with `traceparent`) must both decode, and encode back to exactly their bytes: an
//! untraced event is still written in the old layout.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use events::{Metadata, TraceContext};
use std::path::Path;
use uuid::Uuid;

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

fn expected(trace: Option<&str>) -> Metadata {
    let correlation = Uuid::parse_str("0190a3c2-7f1c-7d0e-8a11-0a1b2c3d4e5f").unwrap();
    Metadata {
        correlation_id: correlation,
        causation_id: correlation,
        command_id: Uuid::parse_str("0190a3c2-7f1d-7000-9b22-1a2b3c4d5e6f").unwrap(),
        trace: trace.map(|t| TraceContext::parse(t).unwrap()),
    }
}

#[test]
fn metadata_stored_before_traces_reads_untraced_and_is_still_written_so() {
    let stored = fixture("metadata.v1.json");
    let metadata: Metadata = serde_json::from_str(&stored).unwrap();
    assert_eq!(metadata, expected(None));
    assert_eq!(serde_json::to_string(&metadata).unwrap(), stored);
}

#[test]
fn metadata_with_a_trace_round_trips_to_its_bytes() {
    let stored = fixture("metadata.v2.json");
    let metadata: Metadata = serde_json::from_str(&stored).unwrap();
    assert_eq!(
        metadata,
        expected(Some(
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        ))
    );
    assert_eq!(serde_json::to_string(&metadata).unwrap(), stored);
}
