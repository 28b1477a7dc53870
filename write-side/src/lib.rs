//! The write side: pure aggregates, the event store, the command executor that makes hot
//! aggregates exact and fast, and the command HTTP API.

pub mod commands;
pub mod domain;
pub mod executor;
pub mod http;
pub mod idempotency;
pub mod ids;
pub mod leader;
pub mod relay;
pub mod saga;
pub mod store;
