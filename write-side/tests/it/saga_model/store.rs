//! An event store in memory for the saga model: the same contract as the SQLite and
//! MySQL stores (versions checked, unique entries and idempotency records refused a second
//! time, positions in commit order), with seeded latency before every operation and after
//! every append, and seeded faults: an append rolled back, or written and then answered
//! "outcome unknown". Everything waits on tokio's clock, so under paused time a whole
//! schedule runs in virtual time, and one seed always gives the same interleaving.

use async_trait::async_trait;
use chrono::Utc;
use event_store::{Appended, Claim, EventStore, Snapshot, StoreError, StoredClaim};
use events::{NewEntry, NewEvent, RecordedEvent, StreamId};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// What the store does to the operations sent to it.
#[derive(Debug, Clone, Copy)]
pub struct Chaos {
    /// Latency before an operation reaches the data, and before an append's answer
    /// comes back: uniform in `0..=max_latency`, or now and then (`stall`) in
    /// `0..=max_stall` (a pause, a slow network): what makes a step arrive late.
    pub max_latency: Duration,
    pub stall: f64,
    pub max_stall: Duration,
    /// Chance that an append is rolled back (nothing written, a transient error).
    pub rolled_back: f64,
    /// Chance that an append is written but answered "outcome unknown".
    pub unknown: f64,
    /// Faults and latency stop after this (so every schedule can settle).
    pub until: Instant,
}

#[derive(Default)]
struct Data {
    events: Vec<RecordedEvent>,
    streams: HashMap<StreamId, Vec<usize>>,
    entries: HashMap<StreamId, HashMap<String, Vec<u8>>>,
    claims: HashMap<(String, String), StoredClaim>,
    snapshots: HashMap<StreamId, Snapshot>,
    sequences: HashMap<String, i64>,
    checkpoints: HashMap<String, i64>,
}

pub struct MemoryStore {
    data: Mutex<Data>,
    rng: Mutex<StdRng>,
    chaos: Mutex<Option<Chaos>>,
    head: watch::Sender<i64>,
}

impl MemoryStore {
    pub fn new(seed: u64) -> Arc<Self> {
        Arc::new(Self {
            data: Mutex::default(),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            chaos: Mutex::new(None),
            head: watch::channel(0).0,
        })
    }

    pub fn set_chaos(&self, chaos: Option<Chaos>) {
        *self.chaos.lock().expect("chaos lock") = chaos;
    }

    /// Every event of `stream`, in version order.
    pub fn stream(&self, stream: &StreamId) -> Vec<RecordedEvent> {
        let data = self.data.lock().expect("data lock");
        data.streams.get(stream).map_or_else(Vec::new, |indexes| {
            indexes.iter().map(|&i| data.events[i].clone()).collect()
        })
    }

    /// `(stream, event type)` of every event in commit order: the schedule's trace.
    pub fn trace(&self) -> Vec<(String, String)> {
        let data = self.data.lock().expect("data lock");
        data.events
            .iter()
            .map(|e| (e.stream_id.to_string(), e.event_type.clone()))
            .collect()
    }

    fn active(&self) -> Option<Chaos> {
        let chaos = (*self.chaos.lock().expect("chaos lock"))?;
        (Instant::now() < chaos.until).then_some(chaos)
    }

    async fn latency(&self) {
        if let Some(delay) = self.draw_latency() {
            tokio::time::sleep(delay).await;
        }
    }

    fn draw_latency(&self) -> Option<Duration> {
        let chaos = self.active()?;
        let mut rng = self.rng.lock().expect("rng lock");
        let max = if rng.random_bool(chaos.stall) {
            chaos.max_stall
        } else {
            chaos.max_latency
        };
        let max = u64::try_from(max.as_micros()).unwrap_or(u64::MAX);
        Some(Duration::from_micros(rng.random_range(0..=max)))
    }

    /// `Some(true)`: roll the append back; `Some(false)`: write it, answer unknown.
    fn fault(&self) -> Option<bool> {
        let chaos = self.active()?;
        let roll: f64 = self.rng.lock().expect("rng lock").random();
        if roll < chaos.rolled_back {
            Some(true)
        } else if roll < chaos.rolled_back + chaos.unknown {
            Some(false)
        } else {
            None
        }
    }

    fn write(
        &self,
        stream: &StreamId,
        expected: i64,
        events: &[NewEvent],
        entries: &[NewEntry],
        claims: &[Claim],
    ) -> Result<Appended, StoreError> {
        let mut data = self.data.lock().expect("data lock");
        let actual = data.streams.get(stream).map_or(0, |v| v.len() as i64);
        let conflict = || StoreError::Conflict {
            stream: stream.clone(),
            expected,
            actual,
        };
        if actual != expected {
            return Err(conflict());
        }
        let stored = data.entries.get(stream);
        if entries
            .iter()
            .any(|e| e.unique && stored.is_some_and(|s| s.contains_key(&e.key)))
        {
            return Err(conflict());
        }
        if claims
            .iter()
            .any(|c| data.claims.contains_key(&(c.scope.clone(), c.key.clone())))
        {
            return Err(StoreError::KeyTaken {
                stream: stream.clone(),
            });
        }
        let first_position = data.events.len() as i64 + 1;
        for (offset, event) in events.iter().enumerate() {
            let index = data.events.len();
            data.events.push(RecordedEvent {
                global_position: index as i64 + 1,
                event_id: event.event_id,
                stream_id: stream.clone(),
                stream_version: expected + offset as i64 + 1,
                event_type: event.event_type.clone(),
                schema_version: event.schema_version,
                payload: event.payload.clone(),
                metadata: event.metadata,
                recorded_at: Utc::now(),
            });
            data.streams.entry(stream.clone()).or_default().push(index);
        }
        let slot = data.entries.entry(stream.clone()).or_default();
        for entry in entries {
            slot.insert(entry.key.clone(), entry.value.clone());
        }
        for claim in claims {
            let position = claim
                .last_event
                .map_or(claim.position, |i| first_position + i as i64);
            data.claims.insert(
                (claim.scope.clone(), claim.key.clone()),
                StoredClaim {
                    fingerprint: claim.fingerprint,
                    stream: stream.clone(),
                    stream_version: claim.stream_version,
                    position,
                    outcome: claim.outcome.clone(),
                },
            );
        }
        let head = data.events.len() as i64;
        drop(data);
        self.head.send_replace(head);
        let (first, last) = if events.is_empty() {
            (0, 0)
        } else {
            (first_position, head)
        };
        Ok(Appended {
            stream_version: expected + events.len() as i64,
            first_position: first,
            last_position: last,
        })
    }
}

#[async_trait]
impl EventStore for MemoryStore {
    async fn append_claimed(
        &self,
        stream: &StreamId,
        expected: i64,
        events: &[NewEvent],
        entries: &[NewEntry],
        claims: &[Claim],
    ) -> Result<Appended, StoreError> {
        self.latency().await;
        let fault = self.fault();
        if fault == Some(true) {
            return Err(StoreError::RolledBack);
        }
        let written = self.write(stream, expected, events, entries, claims);
        // The answer travels back as slowly as the request came.
        self.latency().await;
        match (fault, written) {
            (Some(false), Ok(_)) => {
                Err(StoreError::OutcomeUnknown(Arc::new(StoreError::RolledBack)))
            }
            (_, written) => written,
        }
    }

    async fn load_claim(&self, scope: &str, key: &str) -> Result<Option<StoredClaim>, StoreError> {
        self.latency().await;
        let data = self.data.lock().expect("data lock");
        Ok(data
            .claims
            .get(&(scope.to_owned(), key.to_owned()))
            .cloned())
    }

    async fn sweep_claims(&self, _before: i64) -> Result<u64, StoreError> {
        Ok(0)
    }

    async fn load_entries(
        &self,
        stream: &StreamId,
        keys: &[String],
    ) -> Result<HashMap<String, Vec<u8>>, StoreError> {
        self.latency().await;
        let data = self.data.lock().expect("data lock");
        let stored = data.entries.get(stream);
        Ok(keys
            .iter()
            .filter_map(|key| Some((key.clone(), stored?.get(key)?.clone())))
            .collect())
    }

    async fn stream_version(&self, stream: &StreamId) -> Result<i64, StoreError> {
        self.latency().await;
        let data = self.data.lock().expect("data lock");
        Ok(data.streams.get(stream).map_or(0, |v| v.len() as i64))
    }

    async fn read_stream(
        &self,
        stream: &StreamId,
        after_version: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.latency().await;
        Ok(self
            .stream(stream)
            .into_iter()
            .filter(|e| e.stream_version > after_version)
            .collect())
    }

    async fn read_all(&self, after: i64, limit: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        self.latency().await;
        let data = self.data.lock().expect("data lock");
        let start = usize::try_from(after.max(0)).unwrap_or(usize::MAX);
        Ok(data
            .events
            .iter()
            .skip(start)
            .take(limit)
            .cloned()
            .collect())
    }

    async fn read_category(
        &self,
        category: &str,
        after: i64,
        up_to: i64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.latency().await;
        let data = self.data.lock().expect("data lock");
        Ok(data
            .events
            .iter()
            .filter(|e| e.global_position > after && e.global_position <= up_to)
            .filter(|e| e.stream_id.category() == category)
            .take(limit)
            .cloned()
            .collect())
    }

    async fn head_position(&self) -> Result<i64, StoreError> {
        self.latency().await;
        Ok(self.data.lock().expect("data lock").events.len() as i64)
    }

    async fn load_snapshot(&self, stream: &StreamId) -> Result<Option<Snapshot>, StoreError> {
        self.latency().await;
        Ok(self
            .data
            .lock()
            .expect("data lock")
            .snapshots
            .get(stream)
            .cloned())
    }

    async fn save_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        let mut data = self.data.lock().expect("data lock");
        let newer = data
            .snapshots
            .get(&snapshot.stream_id)
            .is_none_or(|s| s.stream_version < snapshot.stream_version);
        if newer {
            data.snapshots
                .insert(snapshot.stream_id.clone(), snapshot.clone());
        }
        Ok(())
    }

    async fn reserve_ids(&self, sequence: &str, count: i64) -> Result<Range<i64>, StoreError> {
        let mut data = self.data.lock().expect("data lock");
        let next = data.sequences.entry(sequence.to_owned()).or_insert(1);
        let start = *next;
        *next += count;
        Ok(start..start + count)
    }

    async fn load_checkpoint(&self, reader: &str) -> Result<i64, StoreError> {
        self.latency().await;
        let data = self.data.lock().expect("data lock");
        Ok(data.checkpoints.get(reader).copied().unwrap_or(0))
    }

    async fn save_checkpoint(&self, reader: &str, position: i64) -> Result<(), StoreError> {
        self.latency().await;
        let mut data = self.data.lock().expect("data lock");
        data.checkpoints.insert(reader.to_owned(), position);
        Ok(())
    }

    fn subscribe_head(&self) -> watch::Receiver<i64> {
        self.head.subscribe()
    }
}
