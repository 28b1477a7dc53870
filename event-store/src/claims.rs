//! Idempotency records: what a command sent with an `Idempotency-Key` answered, stored in
//! the same transaction as the events it caused (see `crate::idempotency`).

use events::StreamId;

/// A record to write with an append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The caller and the route the key is scoped to.
    pub scope: String,
    pub key: String,
    /// SHA-256 of the route and the request, to tell a retry from a reuse of the key.
    pub fingerprint: [u8; 32],
    /// The command's reply, encoded.
    pub outcome: Vec<u8>,
    /// The stream's version after the command's events.
    pub stream_version: i64,
    /// Which of the append's events is the command's last; the store fills in its
    /// position. `None`: the command appended nothing and `position` is the stream's.
    pub last_event: Option<usize>,
    pub position: i64,
}

impl Claim {
    /// The global position of the command's write once the append landed at
    /// `first_position`.
    pub(crate) fn position_after(&self, first_position: i64) -> i64 {
        self.last_event
            .map_or(self.position, |index| first_position + index as i64)
    }
}

/// A record as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredClaim {
    pub fingerprint: [u8; 32],
    pub stream: StreamId,
    pub stream_version: i64,
    pub position: i64,
    pub outcome: Vec<u8>,
}

/// A record's columns as every backend selects them: fingerprint, stream, stream version,
/// position, outcome.
pub(crate) type ClaimRow = (Vec<u8>, String, i64, i64, Vec<u8>);

/// A selected row as a record; a stored fingerprint of the wrong length is corrupt.
pub(crate) fn from_row(
    (fingerprint, stream, stream_version, position, outcome): ClaimRow,
) -> Result<StoredClaim, super::StoreError> {
    Ok(StoredClaim {
        fingerprint: fingerprint
            .as_slice()
            .try_into()
            .map_err(|_| super::StoreError::Corrupt("an idempotency fingerprint".into()))?,
        stream: StreamId::from_stored(stream),
        stream_version,
        position,
        outcome,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_position_is_the_commands_last_event_or_the_streams() {
        let mut claim = Claim {
            scope: "s".into(),
            key: "k".into(),
            fingerprint: [0; 32],
            outcome: vec![],
            stream_version: 3,
            last_event: Some(2),
            position: 0,
        };
        assert_eq!(claim.position_after(10), 12);
        claim.last_event = None;
        claim.position = 7;
        assert_eq!(claim.position_after(10), 7);
    }
}
