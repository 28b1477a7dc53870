//! write-side's integration tests, one binary: the event-store contract on SQLite and
//! MySQL, the executor, invariants and the saga model.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

#[macro_use]
mod contract;
mod snapshot_bytes;

mod executor;
mod invariants;
mod saga_model;
mod store_contract_mysql;
mod store_contract_sqlite;
