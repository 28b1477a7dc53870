//! The bytes of a snapshot: the state's layout fingerprint (8 bytes), then the state in
//! postcard.
//!
//! Postcard is not self-describing: bytes of one layout read as another layout can
//! decode without error into a wrong state. `Aggregate::SNAPSHOT_VERSION` is bumped by
//! hand when a state's shape changes; the fingerprint is computed from the shape itself,
//! so a change nobody bumped the version for is caught too, and such a snapshot is
//! replaced by a replay instead of being misread.

mod fingerprint;

pub use fingerprint::{Fingerprint, fingerprint};

use super::Aggregate;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("snapshot version {stored}, this code reads {current}")]
    Version { stored: u16, current: u16 },
    #[error("snapshot of another layout (fingerprint {stored}, this code's {current})")]
    Fingerprint {
        stored: Fingerprint,
        current: Fingerprint,
    },
    #[error("snapshot of {0} bytes is shorter than its fingerprint")]
    Truncated(usize),
    #[error("cannot decode the snapshot: {0}")]
    Decode(postcard::Error),
    #[error("{0} bytes left over after the snapshot's state")]
    TrailingBytes(usize),
    #[error("cannot encode the snapshot: {0}")]
    Encode(postcard::Error),
    #[error("cannot trace the state's layout: {0}")]
    Layout(String),
}

impl SnapshotError {
    /// A snapshot an older (or newer) version of shop wrote: expected after a deploy, so
    /// not worth a warning, unlike bytes that claim this version and are not.
    pub fn is_other_version(&self) -> bool {
        matches!(self, SnapshotError::Version { .. })
    }
}

/// The payload of `state`'s snapshot, written as `A::SNAPSHOT_VERSION`.
pub fn encode<A: Aggregate>(state: &A) -> Result<Vec<u8>, SnapshotError> {
    let fingerprint = fingerprint::<A>()?;
    let mut payload = fingerprint.0.to_vec();
    postcard::to_io(state, &mut payload).map_err(SnapshotError::Encode)?;
    Ok(payload)
}

/// The state in a stored snapshot, if it was written by this layout: same version, same
/// fingerprint, and every byte used.
pub fn decode<A: Aggregate>(schema_version: u16, payload: &[u8]) -> Result<A, SnapshotError> {
    if schema_version != A::SNAPSHOT_VERSION {
        return Err(SnapshotError::Version {
            stored: schema_version,
            current: A::SNAPSHOT_VERSION,
        });
    }
    let Some((stored, state)) = payload.split_first_chunk::<{ Fingerprint::LEN }>() else {
        return Err(SnapshotError::Truncated(payload.len()));
    };
    let current = fingerprint::<A>()?;
    if *stored != current.0 {
        return Err(SnapshotError::Fingerprint {
            stored: Fingerprint(*stored),
            current,
        });
    }
    // `from_bytes` would ignore bytes left over, which a layout that lost a field leaves.
    let (state, rest) = postcard::take_from_bytes(state).map_err(SnapshotError::Decode)?;
    if !rest.is_empty() {
        return Err(SnapshotError::TrailingBytes(rest.len()));
    }
    Ok(state)
}

#[cfg(test)]
mod tests;
