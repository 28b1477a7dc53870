//! Group loads: the first command for each of many cold streams (a rush of charges by
//! distinct users) would cost one snapshot read and one event read per stream. Loads queue
//! here instead, and one task reads whatever queued meanwhile in one `load_streams` call:
//! two statements for up to `MAX_BATCH` streams on MySQL, one blocking hop on SQLite, as
//! group commit does for appends.

use crate::store::{EventStore, Loaded, StoreError};
use events::StreamId;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Most streams loaded in one call.
const MAX_BATCH: usize = 256;
/// Loads waiting before callers wait to queue.
const QUEUE: usize = 16_384;

type Answer = oneshot::Sender<Result<Loaded, StoreError>>;

pub(crate) struct Loader {
    loads: mpsc::Sender<(StreamId, Answer)>,
}

impl Loader {
    /// Starts the loading task; it ends once the `Loader` is dropped and its queue drained.
    pub(crate) fn spawn(store: Arc<dyn EventStore>) -> Self {
        let (loads, mut queue) = mpsc::channel::<(StreamId, Answer)>(QUEUE);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
                let (streams, answers): (Vec<StreamId>, Vec<Answer>) = batch.drain(..).unzip();
                metrics::histogram!("shop_executor_load_batch_size").record(streams.len() as f64);
                match store.load_streams(&streams).await {
                    Ok(loaded) => {
                        for (answer, loaded) in answers.into_iter().zip(loaded) {
                            let _ = answer.send(Ok(loaded));
                        }
                    }
                    Err(error) => {
                        let error = Arc::new(error);
                        for answer in answers {
                            let _ = answer.send(Err(StoreError::Batch(error.clone())));
                        }
                    }
                }
            }
        });
        Self { loads }
    }

    pub(crate) async fn load(&self, stream: &StreamId) -> Result<Loaded, StoreError> {
        let (answer, answered) = oneshot::channel();
        self.loads
            .send((stream.clone(), answer))
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        answered.await.map_err(|_| StoreError::WriterStopped)?
    }
}
