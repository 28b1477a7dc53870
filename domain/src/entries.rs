//! Keyed entries: parts of an aggregate's state that grow with its keys (a coupon's
//! holders, one per user) and so are kept by the store in a keyed table beside the
//! events, written in the same transaction as the events that changed them, instead of in
//! the in-memory state and its snapshot. The state holds a bounded view of them: what the
//! current batch needs (the executor loads it before deciding) and what it wrote.
//!
//! Still pure: `Entries` is a map the aggregate reads and writes; the executor moves the
//! entries between it and the store. Folding a whole history into a fresh state (tests,
//! a replay) leaves every entry the history wrote in the view, so given/when/then tests
//! need no store.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;

/// Most entries one view keeps between batches; past it, the clean ones are dropped.
pub const MAX_KNOWN: usize = 4_096;

/// One entry to store with the events that wrote it.
pub use events::NewEntry as EntryWrite;

/// What the view knows about a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known<T> {
    Present(T),
    /// The store holds nothing under it.
    Absent,
    /// Not loaded. The executor loads every key a command names before deciding it, so
    /// `decide` only meets this for keys no event ever wrote (a history folded in full).
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Slot<V> {
    Present(V),
    Absent,
}

/// A bounded view of one keyed part of a state, with the writes not stored yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entries<K: Ord, V> {
    known: BTreeMap<K, Slot<V>>,
    /// Keys written since the last `take_writes`, and whether each was a first write of
    /// a unique key.
    dirty: BTreeMap<K, bool>,
}

impl<K: Ord, V> Default for Entries<K, V> {
    fn default() -> Self {
        Self {
            known: BTreeMap::new(),
            dirty: BTreeMap::new(),
        }
    }
}

impl<K: Ord + Copy, V: Serialize + DeserializeOwned> Entries<K, V> {
    pub fn get(&self, key: &K) -> Known<&V> {
        match self.known.get(key) {
            Some(Slot::Present(value)) => Known::Present(value),
            Some(Slot::Absent) => Known::Absent,
            None => Known::Unknown,
        }
    }

    /// Whether the view knows `key` (present or absent).
    pub fn knows(&self, key: &K) -> bool {
        self.known.contains_key(key)
    }

    /// Writes `key`; `unique` marks the first write of a guard key.
    pub fn write(&mut self, key: K, value: V, unique: bool) {
        self.known.insert(key, Slot::Present(value));
        let first = self.dirty.get(&key).copied().unwrap_or(false);
        self.dirty.insert(key, first || unique);
    }

    /// Changes a known entry; an unknown one is left alone (the store already holds the
    /// change: the view only misses it while replaying events after a snapshot).
    pub fn update(&mut self, key: K, change: impl FnOnce(&mut V)) {
        if let Some(Slot::Present(value)) = self.known.get_mut(&key) {
            change(value);
            self.dirty.entry(key).or_insert(false);
        }
    }

    /// Records what the store holds under `key` (`None`: nothing). Bytes that do not
    /// decode are an error: the store's entries are written only by `take_writes`.
    pub fn learn(&mut self, key: K, stored: Option<&[u8]>) -> Result<(), postcard::Error> {
        let slot = match stored {
            Some(bytes) => Slot::Present(postcard::from_bytes(bytes)?),
            None => Slot::Absent,
        };
        self.known.insert(key, slot);
        Ok(())
    }

    /// The writes since the last call, encoded, with `name` turning a key into the
    /// store's key.
    pub fn take_writes(&mut self, name: impl Fn(&K) -> String) -> Vec<EntryWrite> {
        let dirty = std::mem::take(&mut self.dirty);
        dirty
            .into_iter()
            .filter_map(|(key, unique)| match self.known.get(&key) {
                Some(Slot::Present(value)) => Some(EntryWrite {
                    key: name(&key),
                    value: postcard::to_stdvec(value).ok()?,
                    unique,
                }),
                _ => None,
            })
            .collect()
    }

    /// Keeps the view bounded: past `MAX_KNOWN`, every entry already stored is dropped.
    pub fn forget(&mut self) {
        if self.known.len() > MAX_KNOWN {
            let dirty = &self.dirty;
            self.known.retain(|key, _| dirty.contains_key(key));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_taken_once_with_their_guard_flag() {
        let mut entries = Entries::<i64, String>::default();
        entries.write(1, "a".into(), true);
        entries.update(1, |value| value.push('b'));
        entries.write(2, "c".into(), false);
        let writes = entries.take_writes(|key| format!("k{key}"));
        assert_eq!(writes.len(), 2);
        assert_eq!(writes[0].key, "k1");
        assert_eq!(
            postcard::from_bytes::<String>(&writes[0].value).ok(),
            Some("ab".into())
        );
        assert!(writes[0].unique && !writes[1].unique);
        assert!(entries.take_writes(|key| format!("k{key}")).is_empty());
        assert_eq!(entries.get(&1), Known::Present(&"ab".to_owned()));
    }

    #[test]
    fn learned_entries_answer_and_unknown_ones_say_so() {
        let mut entries = Entries::<i64, i64>::default();
        let stored = postcard::to_stdvec(&7_i64).unwrap_or_default();
        entries.learn(1, Some(&stored)).expect("decodes");
        entries.learn(2, None).expect("nothing to decode");
        assert_eq!(entries.get(&1), Known::Present(&7));
        assert_eq!(entries.get(&2), Known::Absent);
        assert_eq!(entries.get(&3), Known::Unknown);
        // An update of an unknown entry changes nothing and writes nothing.
        entries.update(3, |value| *value = 1);
        assert!(entries.take_writes(|key| key.to_string()).is_empty());
    }

    #[test]
    fn forgetting_keeps_the_view_bounded_but_never_drops_an_unstored_write() {
        let mut entries = Entries::<i64, i64>::default();
        for key in 0..(MAX_KNOWN as i64 + 10) {
            entries.learn(key, None).expect("nothing to decode");
        }
        entries.write(-1, 5, true);
        entries.forget();
        assert_eq!(entries.get(&0), Known::Unknown);
        assert_eq!(entries.get(&-1), Known::Present(&5));
        assert_eq!(entries.take_writes(|key| key.to_string()).len(), 1);
    }
}
