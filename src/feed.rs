//! The embedded event bus: projectors read the event store directly and wake on the
//! store's head-position channel instead of a Kafka topic.

use async_trait::async_trait;
use event_store::EventStore;
use events::RecordedEvent;
use projections::{EventFeed, FeedError};
use std::sync::Arc;
use std::time::Duration;

/// Other processes may append to the same store without notifying this one; polling at
/// this interval bounds how late their events are seen.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

pub struct StoreFeed(pub Arc<dyn EventStore>);

#[async_trait]
impl EventFeed for StoreFeed {
    async fn read_after(&self, after: i64, limit: usize) -> Result<Vec<RecordedEvent>, FeedError> {
        self.0.read_all(after, limit).await.map_err(FeedError::new)
    }

    async fn head(&self) -> Option<i64> {
        self.0.head_position().await.ok()
    }

    async fn wait_past(&self, after: i64) {
        let mut head = self.0.subscribe_head();
        let _ =
            tokio::time::timeout(POLL_INTERVAL, head.wait_for(|position| *position > after)).await;
    }
}
