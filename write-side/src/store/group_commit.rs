//! Group commit across streams. Appends from every stream in this process queue for one
//! writer task, which commits whatever has queued in one transaction: one fsync (SQLite)
//! or one redo-log flush and one `event_head` lock (MySQL) for up to `MAX_BATCH` appends,
//! instead of one each. Each append is still checked against its own expected version
//! (the store's, or what an earlier append of the same batch left), so a conflict fails
//! only that append.

use super::{Appended, Claim, StoreError};
use async_trait::async_trait;
use events::{NewEntry, NewEvent, StreamId};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};

/// Most appends committed in one transaction.
const MAX_BATCH: usize = 256;
/// Appends waiting for the writer before callers wait to queue.
const QUEUE: usize = 16_384;

pub(crate) struct AppendRequest {
    pub stream: StreamId,
    pub expected: i64,
    pub events: Vec<NewEvent>,
    pub entries: Vec<NewEntry>,
    pub claims: Vec<Claim>,
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
        entries: &[NewEntry],
        claims: &[Claim],
    ) -> AppendAnswer {
        let (answer, answered) = oneshot::channel();
        let job = Job {
            request: AppendRequest {
                stream: stream.clone(),
                expected,
                events: events.to_vec(),
                entries: entries.to_vec(),
                claims: claims.to_vec(),
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

/// Each stream's version as one batch leaves it, so a later append of the same stream in
/// the batch is checked against the earlier one instead of the database.
#[derive(Default)]
pub(crate) struct BatchVersions<'a>(HashMap<&'a StreamId, i64>);

impl<'a> BatchVersions<'a> {
    /// The stream's version so far in this batch, if an earlier request touched it.
    pub(crate) fn known(&self, stream: &StreamId) -> Option<i64> {
        self.0.get(stream).copied()
    }

    /// Checks `request` against the stream's `actual` version. `Some` when it is answered
    /// without writing (a conflict, or nothing to append); `None` when its events must be
    /// written, after which `appended` records the new version.
    pub(crate) fn settle(
        &mut self,
        request: &'a AppendRequest,
        actual: i64,
    ) -> Option<AppendAnswer> {
        self.0.insert(&request.stream, actual);
        if actual != request.expected {
            return Some(Err(StoreError::Conflict {
                stream: request.stream.clone(),
                expected: request.expected,
                actual,
            }));
        }
        if request.events.is_empty() && request.entries.is_empty() && request.claims.is_empty() {
            return Some(Ok(Appended {
                stream_version: actual,
                first_position: 0,
                last_position: 0,
            }));
        }
        None
    }

    /// Records that `request`'s events were written; answers the stream's new version.
    pub(crate) fn appended(&mut self, request: &'a AppendRequest) -> i64 {
        let version = request.expected + request.events.len() as i64;
        self.0.insert(&request.stream, version);
        version
    }
}

/// Moves this process's head watch forward to `last_position` (never back).
pub(crate) fn advance_head(head: &watch::Sender<i64>, last_position: i64) {
    head.send_if_modified(|head| {
        let moved = last_position > *head;
        if moved {
            *head = last_position;
        }
        moved
    });
}
