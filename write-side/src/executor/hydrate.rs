//! Loading an aggregate: newest usable snapshot, then the events after it.

use super::Shared;
use crate::domain::{Aggregate, StreamEvent};
use crate::store::{Snapshot, StoreError};
use events::StreamId;

/// An aggregate's state as of a known stream version.
pub(crate) struct Hydrated<A> {
    pub state: A,
    pub version: i64,
    /// Global position of the event at `version` (0 for an empty stream).
    pub position: i64,
    pub snapshot_version: i64,
}

pub(crate) async fn load<A: Aggregate>(
    shared: &Shared,
    stream: &StreamId,
) -> Result<Hydrated<A>, StoreError> {
    let store = &shared.store;
    let (snapshot, mut recorded) = store.load_stream(stream).await?;
    let mut hydrated = match snapshot.map(from_snapshot::<A>) {
        Some(Some(hydrated)) => hydrated,
        // A snapshot of another shape: replay the stream from its start.
        Some(None) => {
            recorded = store.read_stream(stream, 0).await?;
            empty()
        }
        None => empty(),
    };
    for recorded in recorded {
        let event = A::Event::decode(
            &recorded.event_type,
            recorded.schema_version,
            &recorded.payload,
        )
        .map_err(|e| StoreError::Corrupt(format!("{stream}: {e}")))?;
        hydrated.state = hydrated.state.evolve(&event);
        hydrated.version = recorded.stream_version;
        hydrated.position = recorded.global_position;
    }
    Ok(hydrated)
}

pub(crate) fn empty<A: Aggregate>() -> Hydrated<A> {
    Hydrated {
        state: A::default(),
        version: 0,
        position: 0,
        snapshot_version: 0,
    }
}

/// A snapshot of another shape (older code wrote it) is ignored: replay is always correct.
fn from_snapshot<A: Aggregate>(snapshot: Snapshot) -> Option<Hydrated<A>> {
    if snapshot.schema_version != A::SNAPSHOT_VERSION {
        return None;
    }
    let state = postcard::from_bytes(&snapshot.payload).ok()?;
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
    let payload = match postcard::to_stdvec(&hydrated.state) {
        Ok(payload) => payload,
        Err(error) => {
            tracing::warn!(%stream, %error, "cannot encode a snapshot");
            return;
        }
    };
    hydrated.snapshot_version = hydrated.version;
    let snapshot = Snapshot {
        stream_id: stream.clone(),
        stream_version: hydrated.version,
        global_position: hydrated.position,
        schema_version: A::SNAPSHOT_VERSION,
        payload,
    };
    let store = shared.store.clone();
    tokio::spawn(async move {
        if let Err(error) = store.save_snapshot(&snapshot).await {
            tracing::warn!(stream = %snapshot.stream_id, %error, "cannot save a snapshot");
        }
    });
}
