//! events' integration tests, one binary: every event's round trip and stored bytes against
//! the golden fixtures, the metadata layouts, and the published contract (the AsyncAPI
//! document's drift and the schemas' compatibility with their released versions).
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

mod stored_bytes;

mod contract;
mod metadata_bytes;
mod round_trip;
