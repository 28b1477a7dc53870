//! A queue one task drains in batches: callers submit a request and wait for its answer,
//! the task takes whatever queued meanwhile and answers the whole batch with one piece of
//! work (one transaction of appends, one read of many streams). Group commit and the
//! executor's group loads are both this.
//!
//! Its task is owned: `close` stops taking requests, lets the task answer every request
//! already queued, and joins it; dropping the queue without `close` does the same, unjoined.

use std::future::Future;
use std::sync::Mutex;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The queue was closed: the request was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

type Queued<R, A> = (R, oneshot::Sender<A>);

pub struct BatchQueue<R, A> {
    requests: mpsc::Sender<Queued<R, A>>,
    closing: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl<R: Send + 'static, A: Send + 'static> BatchQueue<R, A> {
    /// Starts the task. `answer` gets up to `max_batch` requests in arrival order and must
    /// give one answer per request, in the same order (a request left without one is told
    /// `Closed`). At most `capacity` requests wait; past that, submitters wait to queue.
    pub fn spawn<F, Fut>(capacity: usize, max_batch: usize, mut answer: F) -> Self
    where
        F: FnMut(Vec<R>) -> Fut + Send + 'static,
        Fut: Future<Output = Vec<A>> + Send,
    {
        let (requests, mut queue) = mpsc::channel::<Queued<R, A>>(capacity);
        let closing = CancellationToken::new();
        let closed = closing.clone();
        let task = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(max_batch);
            let mut open = true;
            loop {
                tokio::select! {
                    biased;
                    received = queue.recv_many(&mut batch, max_batch) => {
                        if received == 0 {
                            break;
                        }
                    }
                    // Refuse new requests; what is queued is still answered below.
                    () = closed.cancelled(), if open => {
                        queue.close();
                        open = false;
                        continue;
                    }
                }
                let (requests, waiting): (Vec<R>, Vec<_>) = batch.drain(..).unzip();
                for (caller, answered) in waiting.into_iter().zip(answer(requests).await) {
                    // A caller that stopped waiting does not undo the work.
                    let _ = caller.send(answered);
                }
            }
        });
        Self {
            requests,
            closing,
            task: Mutex::new(Some(task)),
        }
    }

    /// Queues `request` and waits for its answer.
    pub async fn submit(&self, request: R) -> Result<A, Closed> {
        let (caller, answered) = oneshot::channel();
        self.requests
            .send((request, caller))
            .await
            .map_err(|_| Closed)?;
        answered.await.map_err(|_| Closed)
    }

    /// Stops taking requests, answers those already queued and joins the task.
    pub async fn close(&self) {
        self.closing.cancel();
        let task = self.task.lock().ok().and_then(|mut task| task.take());
        if let Some(task) = task
            && let Err(error) = task.await
        {
            tracing::error!(%error, "a batch queue's task failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{BatchQueue, Closed};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn requests_are_answered_in_batches_and_in_order() {
        let batches = Arc::new(AtomicUsize::new(0));
        let counted = batches.clone();
        let queue = Arc::new(BatchQueue::spawn(64, 8, move |requests: Vec<u32>| {
            counted.fetch_add(1, Ordering::Relaxed);
            async move { requests.into_iter().map(|r| r * 10).collect() }
        }));
        let answers: Vec<_> = (0..32)
            .map(|i| {
                let queue = queue.clone();
                tokio::spawn(async move { queue.submit(i).await })
            })
            .collect();
        for (i, answer) in answers.into_iter().enumerate() {
            assert_eq!(answer.await.unwrap(), Ok(i as u32 * 10));
        }
        let batches = batches.load(Ordering::Relaxed);
        assert!((4..=32).contains(&batches), "{batches} batches");
    }

    #[tokio::test]
    async fn close_answers_what_is_queued_then_refuses() {
        let (release, released) = tokio::sync::watch::channel(false);
        let queue = Arc::new(BatchQueue::spawn(64, 1, move |requests: Vec<u32>| {
            let mut released = released.clone();
            async move {
                // The first batch waits, so the others queue behind it.
                let _ = released.wait_for(|go| *go).await;
                requests
            }
        }));
        let waiting: Vec<_> = (0..5)
            .map(|i| {
                let queue = queue.clone();
                tokio::spawn(async move { queue.submit(i).await })
            })
            .collect();
        tokio::task::yield_now().await;
        let closing = {
            let queue = queue.clone();
            tokio::spawn(async move { queue.close().await })
        };
        tokio::task::yield_now().await;
        release.send(true).unwrap();
        closing.await.unwrap();
        for (i, answer) in waiting.into_iter().enumerate() {
            assert_eq!(answer.await.unwrap(), Ok(i as u32), "queued before close");
        }
        assert_eq!(queue.submit(9).await, Err(Closed));
    }

    #[tokio::test]
    async fn a_request_left_without_an_answer_is_told_closed() {
        let queue = BatchQueue::spawn(4, 4, |_requests: Vec<u32>| async { Vec::<u32>::new() });
        assert_eq!(queue.submit(1).await, Err(Closed));
    }
}
