//! Group commit across streams. Appends from every stream in this process queue for one
//! writer task, which commits whatever has queued in one transaction: one fsync (SQLite)
//! or one redo-log flush and one `event_head` lock (MySQL) for up to `MAX_BATCH` appends,
//! instead of one each. Each append is still checked against its own expected version
//! (the store's, or what an earlier append of the same batch left), so a conflict fails
//! only that append.

use super::{Appended, StoreError};
use async_trait::async_trait;
use events::{NewEvent, StreamId};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Most appends committed in one transaction.
const MAX_BATCH: usize = 256;
/// Appends waiting for the writer before callers wait to queue.
const QUEUE: usize = 16_384;

pub(crate) struct AppendRequest {
    pub stream: StreamId,
    pub expected: i64,
    pub events: Vec<NewEvent>,
}

pub(crate) type AppendAnswer = Result<Appended, StoreError>;

/// What a backend does for the writer.
#[async_trait]
pub(crate) trait BatchAppender: Send + Sync + 'static {
    /// Appends, in one transaction and in order, every request whose expected version
    /// holds, and answers each request. `Err` means the transaction failed and nothing
    /// of the batch was appended.
    async fn append_batch(
        &self,
        requests: &[AppendRequest],
    ) -> Result<Vec<AppendAnswer>, StoreError>;
}

struct Job {
    request: AppendRequest,
    answer: oneshot::Sender<AppendAnswer>,
}

pub(crate) struct GroupCommit {
    jobs: mpsc::Sender<Job>,
}

impl GroupCommit {
    /// Starts the writer; it stops once the `GroupCommit` is dropped and its queue drained.
    pub(crate) fn spawn(appender: impl BatchAppender) -> Self {
        let (jobs, mut queue) = mpsc::channel::<Job>(QUEUE);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
                let (requests, answers): (Vec<_>, Vec<_>) = batch
                    .drain(..)
                    .map(|job: Job| (job.request, job.answer))
                    .unzip();
                metrics::histogram!("shop_store_append_batch_size").record(requests.len() as f64);
                let started = std::time::Instant::now();
                let committed = appender.append_batch(&requests).await;
                metrics::histogram!("shop_store_append_batch_duration_seconds")
                    .record(started.elapsed().as_secs_f64());
                match committed {
                    Ok(results) => {
                        for (answer, result) in answers.into_iter().zip(results) {
                            // A caller that stopped waiting does not undo the commit.
                            let _ = answer.send(result);
                        }
                    }
                    Err(error) => {
                        tracing::error!(%error, appends = answers.len(), "an append batch failed");
                        let error = Arc::new(error);
                        for answer in answers {
                            let _ = answer.send(Err(StoreError::Batch(error.clone())));
                        }
                    }
                }
            }
        });
        Self { jobs }
    }

    pub(crate) async fn append(
        &self,
        stream: &StreamId,
        expected: i64,
        events: &[NewEvent],
    ) -> AppendAnswer {
        let (answer, answered) = oneshot::channel();
        let job = Job {
            request: AppendRequest {
                stream: stream.clone(),
                expected,
                events: events.to_vec(),
            },
            answer,
        };
        self.jobs
            .send(job)
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        answered.await.map_err(|_| StoreError::WriterStopped)?
    }
}
