//! The read-your-writes token a command answers with and a query may send back.
//!
//! `{position}:{stream}:{version}`: the write's global position (what an in-process
//! projector that follows the global order compares against) and its stream and version
//! (what a Kafka projector, which sees each stream in order but streams interleaved,
//! compares against). A bare `{position}` is accepted too.

use crate::envelope::StreamId;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyToken {
    pub position: i64,
    /// The stream written and its version after the write, when known.
    pub stream: Option<(StreamId, i64)>,
}

impl ConsistencyToken {
    pub fn new(position: i64, stream: StreamId, version: i64) -> Self {
        Self {
            position,
            stream: Some((stream, version)),
        }
    }
}

impl fmt::Display for ConsistencyToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.stream {
            Some((stream, version)) => write!(f, "{}:{stream}:{version}", self.position),
            None => write!(f, "{}", self.position),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a consistency token is `position` or `position:stream:version` with non-negative numbers")]
pub struct InvalidToken;

impl FromStr for ConsistencyToken {
    type Err = InvalidToken;

    fn from_str(raw: &str) -> Result<Self, InvalidToken> {
        let number = |s: &str| {
            s.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or(InvalidToken)
        };
        let mut parts = raw.trim().splitn(3, ':');
        let position = number(parts.next().unwrap_or_default())?;
        match (parts.next(), parts.next()) {
            (None, None) => Ok(Self {
                position,
                stream: None,
            }),
            (Some(stream), Some(version))
                if !stream.is_empty()
                    && stream.len() <= 191
                    && stream
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
            {
                Ok(Self {
                    position,
                    stream: Some((StreamId::from_stored(stream.to_owned()), number(version)?)),
                })
            }
            _ => Err(InvalidToken),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let token: ConsistencyToken = "12:coupon-3:7".parse().unwrap();
        assert_eq!(token.position, 12);
        assert_eq!(token.to_string(), "12:coupon-3:7");
        assert_eq!("5".parse::<ConsistencyToken>().unwrap().stream, None);
        for bad in [
            "",
            "-1",
            "x",
            "1:coupon-3",
            "1:coupon-3:-2",
            "1::3",
            "1:a b:3",
            "1:c:2:3",
        ] {
            assert!(bad.parse::<ConsistencyToken>().is_err(), "{bad}");
        }
    }
}
