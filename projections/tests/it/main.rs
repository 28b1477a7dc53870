//! projections' integration tests, one binary: the embedded runner, the Kafka projector,
//! rankings, rebuilds and throughput against real Kafka, MariaDB and Redis.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

mod feed_support;
mod kafka_support;

mod kafka_projector;
mod kafka_throughput;
mod ranking;
mod runner;
mod views_rebuild;
