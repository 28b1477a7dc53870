//! read-side's integration tests, one binary: the query API in process, and in full mode
//! against MariaDB and Redis (hot views, rankings, outages, stream progress).
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

mod support;

mod full_hot_views;
mod full_rankings;
mod full_redis_outage;
mod full_stream_progress;
mod query_api;
mod search;
