//! Stored bytes are a contract: the names events are stored under, and golden files of
//! the bytes every event type was stored as in each of its schema versions.

mod fixtures;
pub mod golden;
mod names;
