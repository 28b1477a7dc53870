//! Why a Consistency-Token is refused before (or instead of) any wait. A token that could
//! never be satisfied must not hold a connection for the whole bounded wait and then
//! answer 503, which says "retry" to a client that should not.

use api_common::{ErrorCode, Problem};
use axum::http::StatusCode;
use events::{ConsistencyToken, InvalidToken, StreamId};

#[derive(Debug, thiserror::Error)]
pub(crate) enum TokenRejection {
    #[error("Consistency-Token: {0}")]
    Malformed(#[from] InvalidToken),
    /// A stream at version `v` has `v` events, each at its own global position, so the
    /// position of its last one is at least `v`.
    #[error(
        "Consistency-Token names version {version} of {stream} at position {position}; no \
         write can: a stream's version never exceeds the position of its last event"
    )]
    Impossible {
        position: i64,
        stream: StreamId,
        version: i64,
    },
    #[error(
        "Consistency-Token names position {0}, beyond every write this event store has \
         made; send back the token a command answered"
    )]
    BeyondHead(i64),
    #[error(
        "Consistency-Token names version {version} of {stream}, which that stream has not \
         reached; send back the token a command answered"
    )]
    UnknownVersion { stream: StreamId, version: i64 },
}

impl TokenRejection {
    /// The one mapping to an answer. Every variant is final, so none is a 503 (which
    /// would invite a retry) and none waits.
    fn status_and_code(&self) -> (StatusCode, ErrorCode) {
        match self {
            Self::Malformed(_) => (StatusCode::BAD_REQUEST, ErrorCode::ValidationFailed),
            Self::Impossible { .. } | Self::BeyondHead(_) | Self::UnknownVersion { .. } => {
                (StatusCode::BAD_REQUEST, ErrorCode::ConsistencyTokenUnknown)
            }
        }
    }
}

impl From<TokenRejection> for Problem {
    fn from(rejection: TokenRejection) -> Self {
        let (status, code) = rejection.status_and_code();
        Problem::new(status, code, rejection.to_string())
    }
}

/// Refuses what no write can have produced, before anything is read.
pub(crate) fn check_shape(token: &ConsistencyToken) -> Result<(), TokenRejection> {
    match &token.stream {
        Some((stream, version)) if *version > token.position => Err(TokenRejection::Impossible {
            position: token.position,
            stream: stream.clone(),
            version: *version,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::{TokenRejection, check_shape};
    use events::ConsistencyToken;

    fn shape(raw: &str) -> Result<(), TokenRejection> {
        check_shape(&raw.parse::<ConsistencyToken>().unwrap())
    }

    #[test]
    fn a_version_beyond_its_position_is_impossible() {
        assert!(shape("12:wallet-42:1").is_ok());
        assert!(shape("12:wallet-42:12").is_ok());
        assert!(
            shape("0:wallet-42:0").is_ok(),
            "a command that wrote nothing"
        );
        assert!(shape("7").is_ok());
        assert!(matches!(
            shape("3:wallet-42:4"),
            Err(TokenRejection::Impossible { version: 4, .. })
        ));
    }
}
