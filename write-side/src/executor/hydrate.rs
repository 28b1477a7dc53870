//! Loading an aggregate: newest usable snapshot, then the events after it.

use super::Shared;
use crate::domain::snapshot as codec;
use crate::domain::{Aggregate, StreamEvent};
use event_store::{EventStore, Snapshot, StoreError};
use events::{NewEntry, StreamId};

/// An aggregate's state as of a known stream version.
pub(crate) struct Hydrated<A> {
    pub state: A,
    pub version: i64,
    /// Global position of the event at `version` (0 for an empty stream).
    pub position: i64,
    pub snapshot_version: i64,
}

/// Attempts at loading a stream whose entries had to be filled in while another writer
/// kept moving it.
const BACKFILL_ATTEMPTS: usize = 3;

pub(crate) async fn load<A: Aggregate>(
    shared: &Shared,
    stream: &StreamId,
) -> Result<Hydrated<A>, StoreError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match load_once::<A>(shared, stream).await {
            Err(StoreError::Conflict { .. }) if attempt < BACKFILL_ATTEMPTS => continue,
            loaded => return loaded,
        }
    }
}

async fn load_once<A: Aggregate>(
    shared: &Shared,
    stream: &StreamId,
) -> Result<Hydrated<A>, StoreError> {
    let store = &shared.store;
    let (snapshot, mut recorded) = shared.loader.load(stream).await?;
    let mut hydrated = match snapshot.map(from_snapshot::<A>) {
        Some(Some(hydrated)) => hydrated,
        // A snapshot of another shape: replay the stream from its start.
        Some(None) => {
            recorded = store.read_stream(stream, 0).await?;
            empty()
        }
        None => empty(),
    };
    let from_start = hydrated.version == 0;
    fold(stream, &mut hydrated, recorded)?;
    // The replayed events' entries are stored already, except for a stream written before
    // its aggregate kept entries (or before its first snapshot of this shape): replayed
    // from its start, it writes them all (upserts, checked against the version just
    // read), then a snapshot, so this happens once per stream.
    let entries = hydrated.state.take_entries();
    hydrated.state.forget();
    if from_start && hydrated.version > 0 && !entries.is_empty() {
        // A stream written since entries exist has them all stored; only an older one,
        // which has none, needs the fill (a fill on every load would conflict with each
        // other writer of a young hot stream).
        let keys: Vec<String> = entries.iter().map(|entry| entry.key.clone()).collect();
        let stored = store.load_entries(stream, &keys).await?;
        if keys.iter().all(|key| stored.contains_key(key)) {
            return Ok(hydrated);
        }
        let entries: Vec<_> = entries
            .into_iter()
            .map(|entry| NewEntry {
                unique: false,
                ..entry
            })
            .collect();
        store
            .append_with_entries(stream, hydrated.version, &[], &entries)
            .await?;
        save_snapshot(store.as_ref(), stream, &mut hydrated).await;
    }
    Ok(hydrated)
}

/// Brings a loaded state up to the stream's head by folding in the events appended since
/// (another process's batch, on a stream the nodes take turns on): a read of the tail
/// instead of a reload from the snapshot. What those events wrote is stored already, so
/// their entries are dropped once the view has them.
pub(crate) async fn catch_up<A: Aggregate>(
    shared: &Shared,
    stream: &StreamId,
    hydrated: &mut Hydrated<A>,
) -> Result<(), StoreError> {
    let tail = shared.store.read_stream(stream, hydrated.version).await?;
    fold(stream, hydrated, tail)?;
    hydrated.state.take_entries();
    hydrated.state.forget();
    Ok(())
}

/// Folds stored events into a state, moving its version and position along.
fn fold<A: Aggregate>(
    stream: &StreamId,
    hydrated: &mut Hydrated<A>,
    recorded: Vec<events::RecordedEvent>,
) -> Result<(), StoreError> {
    for recorded in recorded {
        let event = A::Event::decode(
            &recorded.event_type,
            recorded.schema_version,
            &recorded.payload,
        )
        .map_err(|e| StoreError::Corrupt(format!("{stream}: {e}")))?;
        let state = std::mem::take(&mut hydrated.state);
        hydrated.state = state.evolve(&event);
        hydrated.version = recorded.stream_version;
        hydrated.position = recorded.global_position;
    }
    Ok(())
}

pub(crate) fn empty<A: Aggregate>() -> Hydrated<A> {
    Hydrated {
        state: A::default(),
        version: 0,
        position: 0,
        snapshot_version: 0,
    }
}

/// A snapshot this code cannot read as written is ignored: replay is always correct. One
/// of another version (older code wrote it) is expected after a deploy; one that claims
/// this version but is of another layout or does not decode is a bug worth a warning.
fn from_snapshot<A: Aggregate>(snapshot: Snapshot) -> Option<Hydrated<A>> {
    let state = match codec::decode::<A>(snapshot.schema_version, &snapshot.payload) {
        Ok(state) => state,
        Err(error) if error.is_other_version() => {
            tracing::debug!(stream = %snapshot.stream_id, %error, "snapshot ignored, replaying");
            return None;
        }
        Err(error) => {
            tracing::warn!(stream = %snapshot.stream_id, %error, "unreadable snapshot, replaying");
            return None;
        }
    };
    Some(Hydrated {
        state,
        version: snapshot.stream_version,
        position: snapshot.global_position,
        snapshot_version: snapshot.stream_version,
    })
}

/// Writes a snapshot in the background when the stream has grown enough since the last.
pub(crate) fn maybe_snapshot<A: Aggregate>(
    shared: &Shared,
    stream: &StreamId,
    hydrated: &mut Hydrated<A>,
) {
    if hydrated.version - hydrated.snapshot_version < shared.config.snapshot_every {
        return;
    }
    let Some(snapshot) = encode(stream, hydrated) else {
        return;
    };
    let store = shared.store.clone();
    shared.tasks.spawn(async move {
        if let Err(error) = store.save_snapshot(&snapshot).await {
            tracing::warn!(stream = %snapshot.stream_id, %error, "cannot save a snapshot");
        }
    });
}

/// Writes a snapshot now (after a backfill, so the next load starts from it).
async fn save_snapshot<A: Aggregate>(
    store: &dyn EventStore,
    stream: &StreamId,
    hydrated: &mut Hydrated<A>,
) {
    if let Some(snapshot) = encode(stream, hydrated)
        && let Err(error) = store.save_snapshot(&snapshot).await
    {
        tracing::warn!(%stream, %error, "cannot save a snapshot");
    }
}

fn encode<A: Aggregate>(stream: &StreamId, hydrated: &mut Hydrated<A>) -> Option<Snapshot> {
    let payload = match codec::encode(&hydrated.state) {
        Ok(payload) => payload,
        Err(error) => {
            tracing::warn!(%stream, %error, "cannot encode a snapshot");
            return None;
        }
    };
    hydrated.snapshot_version = hydrated.version;
    Some(Snapshot {
        stream_id: stream.clone(),
        stream_version: hydrated.version,
        global_position: hydrated.position,
        schema_version: A::SNAPSHOT_VERSION,
        payload,
    })
}
