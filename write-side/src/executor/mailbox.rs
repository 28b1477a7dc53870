//! One task per hot aggregate: it owns the hydrated state and drains its queue in batches.

use super::batch::{Contention, OnConflict};
use super::hydrate::{self, Hydrated};
use super::registry::Registry;
use super::{Job, Shared, batch};
use crate::domain::Aggregate;
use event_store::turns::Turn;
use events::StreamId;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

/// `hydrated` is where the task starts: `None` loads the stream on the first batch. The task
/// is mailbox `id` in `registry`; it leaves it after `idle_eviction` without a command, and
/// ends once it has decided what was queued until then (which frees the hydrated state).
pub(super) fn spawn<A: Aggregate>(
    shared: Arc<Shared>,
    registry: Arc<Registry<A>>,
    id: u64,
    stream: StreamId,
    hydrated: Option<Hydrated<A>>,
) -> mpsc::Sender<Box<Job<A>>> {
    // Boxed jobs: tokio's channel allocates its first block of 32 slots up front, and with
    // jobs inline (about 230 bytes) that was 7 KB held by every mailbox until it idled out,
    // most of them a new wallet's or order's that saw one command (docs/performance.md).
    let (sender, mut receiver) = mpsc::channel::<Box<Job<A>>>(shared.config.mailbox_capacity);
    let tasks = shared.tasks.clone();
    tasks.spawn(async move {
        let max_batch = shared.config.max_batch;
        let mut hydrated = hydrated;
        // Grown by the batches that come, not `max_batch` up front: most mailboxes (an
        // order's, a wallet's) only ever see a command or two, and a full batch's worth of
        // slots for each of them was a large allocation per order.
        let mut received = Vec::new();
        // Until when this stream takes turns with other processes (after a conflict).
        let mut contended_until: Option<Instant> = None;
        // Whether the store has turns at all (MySQL; SQLite is one process).
        let has_turns = shared.store.turns().is_some();
        let mut open = true;
        let idle = shared.config.idle_eviction;
        // One timer, checked against the last batch only when it fires: pushing it back
        // after every batch would lock the timer wheel each time.
        let idle_timer = tokio::time::sleep(idle);
        tokio::pin!(idle_timer);
        let mut last_batch = tokio::time::Instant::now();
        loop {
            tokio::select! {
                biased;
                count = receiver.recv_many(&mut received, max_batch) => {
                    if count == 0 {
                        break;
                    }
                }
                // Shutting down: take no more commands; the queued ones are still decided.
                () = shared.closing.cancelled(), if open => {
                    receiver.close();
                    open = false;
                    continue;
                }
                // Idle: out of the registry first (no send finds this queue after that),
                // then closed; whatever was sent before is still decided below.
                () = &mut idle_timer, if open => {
                    let idle_until = last_batch + idle;
                    if tokio::time::Instant::now() < idle_until {
                        idle_timer.as_mut().reset(idle_until);
                    } else {
                        registry.leave(&stream, id);
                        receiver.close();
                        open = false;
                    }
                    continue;
                }
            }
            // Unboxed into a vector of this batch only, dropped with it.
            let mut jobs: Vec<Job<A>> = received.drain(..).map(|job| *job).collect();
            // A node that keeps winning never sees a conflict, so a full batch (a rush) is
            // reason enough to take turns as well: otherwise the node that lost would
            // wait for turns the winner never takes. The rush's small batches take turns
            // too (a batch of one decided without a turn races the other node's turns).
            if jobs.len() >= shared.config.turn_from_batch {
                contended_until = Some(Instant::now() + shared.config.contended_for);
            }
            let contended = contended_until.is_some_and(|until| Instant::now() < until);
            let turn = if contended {
                Box::pin(take_turn(&shared, &stream, &mut hydrated)).await
            } else {
                None
            };
            // Without a turn (where turns exist), a conflict hands the batch back to be
            // decided again in one instead of racing for the stream.
            let on_conflict = if turn.is_none() && has_turns {
                OnConflict::HandBack
            } else {
                OnConflict::Retry
            };
            let contention = decide(
                &shared,
                &stream,
                &mut hydrated,
                &mut jobs,
                turn,
                on_conflict,
            )
            .await;
            if contention == Contention::Conflicted {
                contended_until = Some(Instant::now() + shared.config.contended_for);
            }
            if on_conflict == OnConflict::HandBack && !jobs.is_empty() {
                let turn = Box::pin(take_turn(&shared, &stream, &mut hydrated)).await;
                let again = OnConflict::Retry;
                decide(&shared, &stream, &mut hydrated, &mut jobs, turn, again).await;
            }
            last_batch = tokio::time::Instant::now();
        }
        // Usually out already (idle, or shutdown's `clear`). A task that panicked never
        // gets here: the next send finds its sender closed (`forget_closed`).
        registry.leave(&stream, id);
        tracing::debug!(%stream, "mailbox closed");
    });
    sender
}

/// One batch in `turn` (if any), which is given back once the batch is committed. The
/// batch is boxed for its run only, so an idle mailbox does not hold the kilobytes of the
/// load-decide-append state machine.
async fn decide<A: Aggregate>(
    shared: &Shared,
    stream: &StreamId,
    hydrated: &mut Option<Hydrated<A>>,
    jobs: &mut Vec<Job<A>>,
    turn: Option<Box<dyn Turn>>,
    on_conflict: OnConflict,
) -> Contention {
    let contention = Box::pin(batch::run(shared, stream, hydrated, jobs, on_conflict)).await;
    if let Some(turn) = turn {
        turn.release().await;
    }
    contention
}

/// Waits for this process's turn on a contended stream (see `store::turns`); the state
/// first folds in whatever another process appended since. Without a turn (none to take, the
/// wait ran out, an error) the batch is decided anyway: the version check keeps it exact.
async fn take_turn<A: Aggregate>(
    shared: &Shared,
    stream: &StreamId,
    hydrated: &mut Option<Hydrated<A>>,
) -> Option<Box<dyn Turn>> {
    let turns = shared.store.turns()?;
    let turn = match turns.take(stream, shared.config.turn_wait).await {
        Ok(turn) => turn?,
        Err(error) => {
            tracing::warn!(%stream, %error, "cannot take a turn on a contended stream");
            return None;
        }
    };
    if let Some(current) = hydrated.as_mut()
        && let Err(error) = hydrate::catch_up(shared, stream, current).await
    {
        tracing::warn!(%stream, %error, "cannot catch up on a contended stream; reloading");
        *hydrated = None;
    }
    Some(turn)
}
