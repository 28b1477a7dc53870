use crate::error::FeedError;
use async_trait::async_trait;
use events::RecordedEvent;

/// Where projectors read events from: the event store in-process (embedded mode) or,
/// later, Kafka.
#[async_trait]
pub trait EventFeed: Send + Sync + 'static {
    /// Up to `limit` events with global position > `after`, in position order.
    async fn read_after(&self, after: i64, limit: usize) -> Result<Vec<RecordedEvent>, FeedError>;

    /// Returns when events past `after` may exist (or after a bounded wait).
    async fn wait_past(&self, after: i64);

    /// The newest position, if the source can tell (for progress reports only).
    async fn head(&self) -> Option<i64> {
        None
    }
}
