//! The relay's integration tests, one binary: over real MariaDB and Kafka, every event goes
//! out once per commit in order, with its headers, across restarts and leader changes; and
//! every stored version of every event type leaves as a value its published schema accepts.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

mod relay_support;

mod relay;
mod relay_contract;
