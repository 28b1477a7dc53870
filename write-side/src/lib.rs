//! The write side: pure aggregates, the event store, the command executor that makes hot
//! aggregates exact and fast, and the command HTTP API.

pub mod commands;
/// The aggregates live in their own crate (`domain`), so their purity is checked by the
/// compiler; re-exported here under the name the rest of this crate uses.
pub use ::domain;
pub mod executor;
pub mod idempotency;
pub mod ids;
pub mod in_flight;
mod memo;
pub mod saga;
