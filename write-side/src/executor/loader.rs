//! Group loads: the first command for each of many cold streams (a rush of charges by
//! distinct users) would cost one snapshot read and one event read per stream. Loads queue
//! here instead, and one task reads whatever queued meanwhile in one `load_streams` call:
//! two statements for up to `MAX_BATCH` streams on MySQL, one blocking hop on SQLite, as
//! group commit does for appends.

use event_store::batch_queue::BatchQueue;
use event_store::{EventStore, Loaded, StoreError};
use events::StreamId;
use std::sync::Arc;

/// Most streams loaded in one call.
const MAX_BATCH: usize = 256;
/// Loads waiting before callers wait to queue.
const QUEUE: usize = 16_384;

type LoadAnswer = Result<Loaded, StoreError>;

pub(crate) struct Loader {
    loads: BatchQueue<StreamId, LoadAnswer>,
}

impl Loader {
    /// Starts the loading task (`close` joins it).
    pub(crate) fn spawn(store: Arc<dyn EventStore>) -> Self {
        let loads = BatchQueue::spawn(QUEUE, MAX_BATCH, move |streams: Vec<StreamId>| {
            let store = store.clone();
            async move {
                metrics::histogram!("shop_executor_load_batch_size").record(streams.len() as f64);
                match store.load_streams(&streams).await {
                    Ok(loaded) => loaded.into_iter().map(Ok).collect(),
                    Err(error) => {
                        let error = Arc::new(error);
                        streams
                            .iter()
                            .map(|_| Err(StoreError::Batch(error.clone())))
                            .collect()
                    }
                }
            }
        });
        Self { loads }
    }

    pub(crate) async fn load(&self, stream: &StreamId) -> LoadAnswer {
        self.loads
            .submit(stream.clone())
            .await
            .map_err(|_| StoreError::WriterStopped)?
    }

    /// Answers the loads already queued and joins the task; later loads fail as stopped.
    pub(crate) async fn close(&self) {
        self.loads.close().await;
    }
}
