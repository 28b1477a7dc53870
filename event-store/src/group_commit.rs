//! Group commit across streams. Appends from every stream in this process queue for one
//! writer task, which commits whatever has queued in one transaction: one fsync (SQLite)
//! or one redo-log flush and one `event_head` lock (MySQL) for up to `MAX_BATCH` appends,
//! instead of one each. Each append is still checked against its own expected version
//! (the store's, or what an earlier append of the same batch left), so a conflict fails
//! only that append.

use super::{Appended, Claim, StoreError};
use crate::batch_queue::BatchQueue;
use async_trait::async_trait;
use backon::{BackoffBuilder, ExponentialBuilder};
use events::{NewEntry, NewEvent, StreamId};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

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

    /// After a commit whose outcome is unknown (the connection was lost during COMMIT):
    /// where each request landed if it was committed, `None` if it was not. The event
    /// ids are known, so reading them back settles it.
    async fn committed(
        &self,
        requests: &[AppendRequest],
    ) -> Result<Vec<Option<Appended>>, StoreError>;
}

/// Attempts at a batch whose transaction failed for a passing reason (a lost connection,
/// a deadlock, a lock wait timeout) before its appends are failed; with the backoff
/// below, about 6 s of outage are bridged.
const BATCH_ATTEMPTS: usize = 8;
const RETRY_MIN_DELAY: Duration = Duration::from_millis(25);
const RETRY_MAX_DELAY: Duration = Duration::from_secs(2);

/// Commits `requests`, retrying the whole batch while its transaction fails for a passing
/// reason (nothing of a failed transaction is written, so a retry is the same batch
/// again). A commit whose outcome is unknown is settled by reading the events back first:
/// the appends it did commit are answered as such and only the others are retried.
/// Failures of single appends (a version conflict, a taken key) are answers, not retried.
async fn commit_with_retries(
    appender: &impl BatchAppender,
    requests: Vec<AppendRequest>,
) -> Vec<AppendAnswer> {
    let mut answers: Vec<Option<AppendAnswer>> = (0..requests.len()).map(|_| None).collect();
    let mut pending: Vec<usize> = (0..requests.len()).collect();
    let mut delays = ExponentialBuilder::default()
        .with_min_delay(RETRY_MIN_DELAY)
        .with_max_delay(RETRY_MAX_DELAY)
        .with_max_times(BATCH_ATTEMPTS - 1)
        .with_jitter()
        .build();
    let mut batch: Vec<AppendRequest> = requests;
    loop {
        let error = match appender.append_batch(&batch).await {
            Ok(results) => {
                for (index, result) in pending.iter().zip(results) {
                    answers[*index] = Some(result);
                }
                break;
            }
            Err(error) => error,
        };
        let unknown = matches!(error, StoreError::CommitUnknown(_));
        let retry = error.is_transient().then(|| delays.next()).flatten();
        let Some(delay) = retry else {
            tracing::error!(%error, appends = pending.len(), "an append batch failed");
            let error = Arc::new(error);
            for index in &pending {
                answers[*index] = Some(Err(StoreError::Batch(error.clone())));
            }
            break;
        };
        tracing::warn!(%error, ?delay, appends = pending.len(), "an append batch failed; retrying");
        metrics::counter!("shop_store_append_batch_retries_total").increment(1);
        tokio::time::sleep(delay).await;
        if unknown {
            let settled = settle_unknown(appender, &batch, &mut delays).await;
            let mut still = Vec::new();
            let mut still_pending = Vec::new();
            for ((index, request), landed) in pending.iter().zip(batch).zip(settled) {
                match landed {
                    Some(Ok(appended)) => answers[*index] = Some(Ok(appended)),
                    Some(Err(error)) => answers[*index] = Some(Err(error)),
                    None => {
                        still.push(request);
                        still_pending.push(*index);
                    }
                }
            }
            batch = still;
            pending = still_pending;
            if batch.is_empty() {
                break;
            }
        }
    }
    answers
        .into_iter()
        .map(|answer| answer.unwrap_or(Err(StoreError::WriterStopped)))
        .collect()
}

/// Reads back where an unknown commit's appends landed, retrying while the database is
/// away. `Some(Ok)`: committed; `None`: not committed (retry it); `Some(Err)`: still
/// unknown after every attempt, answered as a failure whose outcome is unknown.
async fn settle_unknown(
    appender: &impl BatchAppender,
    batch: &[AppendRequest],
    delays: &mut impl Iterator<Item = Duration>,
) -> Vec<Option<AppendAnswer>> {
    loop {
        match appender.committed(batch).await {
            Ok(landed) => return landed.into_iter().map(|l| l.map(Ok)).collect(),
            Err(error) => match delays.next() {
                Some(delay) => {
                    tracing::warn!(%error, "cannot tell whether a batch committed yet; retrying");
                    tokio::time::sleep(delay).await;
                }
                None => {
                    let error = Arc::new(error);
                    return batch
                        .iter()
                        .map(|_| Some(Err(StoreError::OutcomeUnknown(error.clone()))))
                        .collect();
                }
            },
        }
    }
}

pub(crate) struct GroupCommit {
    appends: BatchQueue<AppendRequest, AppendAnswer>,
}

impl GroupCommit {
    /// Starts the writer (`close` joins it).
    pub(crate) fn spawn(appender: impl BatchAppender) -> Self {
        let appender = Arc::new(appender);
        let appends = BatchQueue::spawn(QUEUE, MAX_BATCH, move |requests: Vec<AppendRequest>| {
            let appender = appender.clone();
            async move {
                metrics::histogram!("shop_store_append_batch_size").record(requests.len() as f64);
                let started = std::time::Instant::now();
                let answers = commit_with_retries(&*appender, requests).await;
                metrics::histogram!("shop_store_append_batch_duration_seconds")
                    .record(started.elapsed().as_secs_f64());
                answers
            }
        });
        Self { appends }
    }

    /// Commits what is queued and joins the writer; later appends fail as stopped.
    pub(crate) async fn close(&self) {
        self.appends.close().await;
    }

    pub(crate) async fn append(
        &self,
        stream: &StreamId,
        expected: i64,
        events: &[NewEvent],
        entries: &[NewEntry],
        claims: &[Claim],
    ) -> AppendAnswer {
        let request = AppendRequest {
            stream: stream.clone(),
            expected,
            events: events.to_vec(),
            entries: entries.to_vec(),
            claims: claims.to_vec(),
        };
        self.appends
            .submit(request)
            .await
            .map_err(|_| StoreError::WriterStopped)?
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

#[cfg(test)]
mod tests {
    //! The writer's retry logic against a scripted appender (no database): which batches
    //! it sends again, and what each caller is answered.
    #![allow(clippy::unwrap_used)]
    use super::*;
    use events::{EventId, Metadata, StreamId, UserId};
    use std::sync::Mutex;

    /// Answers `append_batch` calls from a script, and records the streams each call got.
    struct Scripted {
        script: Mutex<Vec<Result<(), StoreError>>>,
        calls: Mutex<Vec<Vec<StreamId>>>,
        /// What `committed` says landed, per stream; absent: not committed.
        landed: HashMap<StreamId, Appended>,
    }

    fn request(user: i64) -> AppendRequest {
        AppendRequest {
            stream: StreamId::wallet(UserId::new(user).unwrap()),
            expected: 0,
            events: vec![NewEvent {
                event_id: EventId::new(),
                event_type: "PointsCharged".into(),
                schema_version: 1,
                payload: vec![],
                metadata: Metadata::for_new_command(),
            }],
            entries: vec![],
            claims: vec![],
        }
    }

    fn at(position: i64) -> Appended {
        Appended {
            stream_version: 1,
            first_position: position,
            last_position: position,
        }
    }

    fn io() -> sqlx::Error {
        sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset))
    }

    #[async_trait]
    impl BatchAppender for Scripted {
        async fn append_batch(
            &self,
            requests: &[AppendRequest],
        ) -> Result<Vec<AppendAnswer>, StoreError> {
            self.calls
                .lock()
                .unwrap()
                .push(requests.iter().map(|r| r.stream.clone()).collect());
            let next = self.script.lock().unwrap().remove(0);
            next.map(|()| {
                (0..requests.len())
                    .map(|i| Ok(at(100 + i as i64)))
                    .collect()
            })
        }

        async fn committed(
            &self,
            requests: &[AppendRequest],
        ) -> Result<Vec<Option<Appended>>, StoreError> {
            Ok(requests
                .iter()
                .map(|r| self.landed.get(&r.stream).copied())
                .collect())
        }
    }

    fn scripted(script: Vec<Result<(), StoreError>>, landed: &[(i64, i64)]) -> Scripted {
        Scripted {
            script: Mutex::new(script),
            calls: Mutex::default(),
            landed: landed
                .iter()
                .map(|&(user, position)| (request(user).stream, at(position)))
                .collect(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_passing_failure_is_retried_whole_and_nothing_is_answered_until_it_lands() {
        let appender = scripted(
            vec![
                Err(StoreError::Database {
                    operation: "begin",
                    source: io(),
                }),
                Ok(()),
            ],
            &[],
        );
        let answers = commit_with_retries(&appender, vec![request(1), request(2)]).await;
        assert_eq!(appender.calls.lock().unwrap().len(), 2);
        assert_eq!(answers.len(), 2);
        assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn an_unknown_commit_is_read_back_and_only_what_did_not_land_is_sent_again() {
        // The COMMIT's reply is lost; user 1's append had landed (at 41), user 2's not.
        let appender = scripted(
            vec![Err(StoreError::CommitUnknown(io())), Ok(())],
            &[(1, 41)],
        );
        let answers = commit_with_retries(&appender, vec![request(1), request(2)]).await;
        let calls = appender.calls.lock().unwrap().clone();
        assert_eq!(calls.len(), 2);
        assert_eq!(
            calls[1],
            vec![request(2).stream],
            "only the lost append again"
        );
        assert_eq!(
            answers[0].as_ref().unwrap().first_position,
            41,
            "answered as it landed"
        );
        assert_eq!(answers[1].as_ref().unwrap().first_position, 100);
    }

    #[tokio::test(start_paused = true)]
    async fn a_fault_that_does_not_pass_fails_the_batch_at_once() {
        let appender = scripted(vec![Err(StoreError::Corrupt("bad".into()))], &[]);
        let answers = commit_with_retries(&appender, vec![request(1)]).await;
        assert_eq!(appender.calls.lock().unwrap().len(), 1, "not retried");
        assert!(matches!(answers[0], Err(StoreError::Batch(_))));
    }

    #[tokio::test(start_paused = true)]
    async fn an_outage_longer_than_the_retries_fails_the_batch_retryably() {
        let script = (0..BATCH_ATTEMPTS)
            .map(|_| {
                Err(StoreError::Database {
                    operation: "begin",
                    source: io(),
                })
            })
            .collect();
        let appender = scripted(script, &[]);
        let answers = commit_with_retries(&appender, vec![request(1)]).await;
        assert_eq!(appender.calls.lock().unwrap().len(), BATCH_ATTEMPTS);
        let error = answers[0].as_ref().unwrap_err();
        assert!(matches!(error, StoreError::Batch(_)));
        assert!(error.is_transient(), "answered as a retryable outage");
    }
}
