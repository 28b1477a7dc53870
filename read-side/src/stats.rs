//! Hit and miss counters per cache layer. Plain atomics, so whoever exports metrics can
//! read them without this crate choosing a metrics library.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub(crate) struct CacheStats {
    pub(crate) redis_hits: Counter,
    pub(crate) redis_misses: Counter,
    pub(crate) redis_stale: Counter,
    pub(crate) redis_errors: Counter,
    pub(crate) redis_skipped: Counter,
    pub(crate) moka_lookups: Counter,
    pub(crate) moka_loads: Counter,
    pub(crate) sql_reads: Counter,
}

#[derive(Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    pub(crate) fn inc(&self) {
        // Relaxed: each counter is independent and only ever read for reporting.
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A point-in-time copy of the counters, for `/metrics` or logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStatsSnapshot {
    /// A Redis hot view answered.
    pub redis_hits: u64,
    /// No hot view in Redis for the key.
    pub redis_misses: u64,
    /// A hot view was there but older than the request's consistency token.
    pub redis_stale: u64,
    /// Redis failed, timed out, or held a malformed view; the read fell through.
    pub redis_errors: u64,
    /// Redis was configured but not asked: not connected yet, or backing off after an error.
    pub redis_skipped: u64,
    /// The in-process cache answered (including callers that waited on another's load).
    pub moka_hits: u64,
    /// The in-process cache had to load from SQL.
    pub moka_misses: u64,
    /// Every query against the read models, cached loads and direct reads alike.
    pub sql_reads: u64,
}

impl CacheStats {
    pub(crate) fn snapshot(&self) -> CacheStatsSnapshot {
        let moka_loads = self.moka_loads.get();
        CacheStatsSnapshot {
            redis_hits: self.redis_hits.get(),
            redis_misses: self.redis_misses.get(),
            redis_stale: self.redis_stale.get(),
            redis_errors: self.redis_errors.get(),
            redis_skipped: self.redis_skipped.get(),
            moka_hits: self.moka_lookups.get().saturating_sub(moka_loads),
            moka_misses: moka_loads,
            sql_reads: self.sql_reads.get(),
        }
    }
}
