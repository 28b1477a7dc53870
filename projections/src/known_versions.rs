//! The stream versions one projection last committed, kept in memory by the Kafka SQL
//! sink, so that a batch reads from `projected_streams` only the streams it has not seen
//! lately. Under an order rush a batch's streams are nearly all either in the batch before
//! (an order's later events, its buyer's wallet, its products) or new (the next orders,
//! `NewStreams`), and those reads were a large part of what the projector cost MariaDB per
//! order (docs/performance.md).
//!
//! A remembered version may be stale: another projector moved the stream during a
//! rebalance, or a rebuild swapped its copy in. That is safe because every write back is a
//! compare-and-set on the stored version (`stream_versions.rs`): the save then matches
//! fewer rows than it names, the batch rolls back, and the sink forgets what it remembered,
//! so the retry reads every stream afresh.

use foldhash::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Streams remembered per projection, at most twice this many. An entry is a short string
/// and a version, so that is a few MB; under a rush it covers the last several seconds of
/// streams, which is where a batch's streams come from.
const GENERATION: usize = 16_384;

/// Two generations of a map instead of an LRU cache: a lookup moves a stream into the
/// current one, and when that is full the older one is dropped whole. moka (used on the
/// command path) was tried here first; its bookkeeping per insert was 5 % of the
/// projector's samples, about what the loads it saved cost the projector itself.
#[derive(Default)]
struct Generations {
    current: HashMap<String, i64>,
    previous: HashMap<String, i64>,
}

pub(crate) struct KnownVersions {
    generation: usize,
    maps: Mutex<Generations>,
}

impl KnownVersions {
    pub(crate) fn new() -> Self {
        Self::with_generation(GENERATION)
    }

    fn with_generation(generation: usize) -> Self {
        Self {
            generation,
            maps: Mutex::default(),
        }
    }

    /// Only this sink's batches take the lock, one at a time; a panic while it was held
    /// leaves at worst a remembered version that the compare-and-set will catch.
    fn maps(&self) -> MutexGuard<'_, Generations> {
        self.maps.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The version this projection committed for `stream_id`, if remembered.
    pub(crate) fn get(&self, stream_id: &str) -> Option<i64> {
        let mut maps = self.maps();
        if let Some(version) = maps.current.get(stream_id) {
            return Some(*version);
        }
        let (stream_id, version) = maps.previous.remove_entry(stream_id)?;
        self.insert(&mut maps, stream_id, version);
        Some(version)
    }

    /// Call only once the transaction that stored these versions has committed.
    pub(crate) fn remember(&self, committed: Vec<(String, i64)>) {
        let mut maps = self.maps();
        for (stream_id, version) in committed {
            maps.previous.remove(&stream_id);
            self.insert(&mut maps, stream_id, version);
        }
    }

    fn insert(&self, maps: &mut Generations, stream_id: String, version: i64) {
        if maps.current.len() >= self.generation && !maps.current.contains_key(&stream_id) {
            maps.previous = std::mem::take(&mut maps.current);
        }
        maps.current.insert(stream_id, version);
    }

    /// After any failed batch: its transaction may have lost a race, so nothing
    /// remembered can be trusted until read again.
    pub(crate) fn forget_all(&self) {
        let mut maps = self.maps();
        maps.current.clear();
        maps.previous.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_generation_is_forgotten_and_a_lookup_keeps_a_stream() {
        let known = KnownVersions::with_generation(2);
        known.remember(vec![("a".into(), 1), ("b".into(), 2)]);
        known.remember(vec![("c".into(), 3)]); // a and b are now the older generation
        assert_eq!(known.get("a"), Some(1)); // a moves up, beside c
        known.remember(vec![("d".into(), 4)]); // b is dropped; a and c are older now
        assert_eq!(known.get("b"), None);
        assert_eq!(
            [known.get("a"), known.get("c"), known.get("d")],
            [Some(1), Some(3), Some(4)]
        );
        known.remember(vec![("a".into(), 5)]);
        assert_eq!(known.get("a"), Some(5));
        known.forget_all();
        assert_eq!([known.get("a"), known.get("d")], [None, None]);
    }
}
