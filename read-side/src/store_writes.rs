//! What the event store has written, as far as a Consistency-Token needs to know: its
//! head position and a stream's version. The read side never imports the write side, so
//! the binary adapts its event store to this trait (as it adapts it to the projectors'
//! feed).

use async_trait::async_trait;
use events::StreamId;

/// The event store could not be read; a token is then given the benefit of the doubt.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the event store: {0}")]
pub struct StoreWritesError(#[source] Box<dyn std::error::Error + Send + Sync>);

impl StoreWritesError {
    pub fn new(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self(Box::new(source))
    }
}

#[async_trait]
pub trait StoreWrites: Send + Sync + 'static {
    /// The highest committed global position, read from the store now (0 when empty).
    async fn head(&self) -> Result<i64, StoreWritesError>;

    /// The stream's current version, read from the store now (0 for no events).
    async fn stream_version(&self, stream: &StreamId) -> Result<i64, StoreWritesError>;

    /// A head known without a round trip (what this process itself committed last), if
    /// any. A lower bound: other processes may have written past it.
    fn known_head(&self) -> Option<i64> {
        None
    }
}
