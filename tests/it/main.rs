//! The shop binary's integration tests, one binary (one link of the workspace) for all:
//! in-process HTTP end to end (`common`), real embedded processes (`embedded_process`), and
//! full-mode clusters of real processes against MariaDB, Kafka and Redis (`cluster`).
//! `full_outages` stops and starts the shared servers, so it is a binary of its own
//! (`tests/full_outages.rs`): nothing else may run beside it.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

mod cluster;
mod common;
mod contract_support;
mod embedded_process;
mod rebuild_support;

mod access;
mod bad_input;
mod consistency_tokens;
mod coupon_rush;
mod crash_recovery;
mod full_consistency_tokens;
mod full_coupon_rush;
mod full_crash_recovery;
mod full_faults;
mod full_ops;
mod full_orders;
mod full_redis_down;
mod idempotency;
mod log_correlation;
mod openapi_docs;
mod ops_endpoints;
mod order_saga;
// The crash points exist only in builds with the `failpoints` feature.
mod full_contract;
mod full_data_platform;
#[cfg(feature = "failpoints")]
mod full_trace_recovery;
mod full_tracing;
#[cfg(feature = "failpoints")]
mod order_saga_crash;
mod rebuild;
#[cfg(feature = "failpoints")]
mod rebuild_crash;
mod search;
