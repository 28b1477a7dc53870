//! The event store as the query API's token check sees it (`read_side::StoreWrites`): the
//! read side never imports the write side, so the binary adapts one to the other.

use async_trait::async_trait;
use event_store::EventStore;
use events::StreamId;
use read_side::{StoreWrites, StoreWritesError};
use std::sync::Arc;
use tokio::sync::watch;

pub struct EventStoreWrites {
    store: Arc<dyn EventStore>,
    /// What this process committed last: free to read, and in embedded mode (one writer)
    /// the head itself, so a genuine token never costs a store read.
    committed: watch::Receiver<i64>,
}

impl EventStoreWrites {
    pub fn new(store: Arc<dyn EventStore>) -> Arc<Self> {
        let committed = store.subscribe_head();
        Arc::new(Self { store, committed })
    }
}

#[async_trait]
impl StoreWrites for EventStoreWrites {
    async fn head(&self) -> Result<i64, StoreWritesError> {
        self.store
            .head_position()
            .await
            .map_err(StoreWritesError::new)
    }

    async fn stream_version(&self, stream: &StreamId) -> Result<i64, StoreWritesError> {
        self.store
            .stream_version(stream)
            .await
            .map_err(StoreWritesError::new)
    }

    fn known_head(&self) -> Option<i64> {
        Some(*self.committed.borrow())
    }
}
