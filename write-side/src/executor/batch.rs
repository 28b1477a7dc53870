//! Deciding and committing one batch of commands for one aggregate.

use super::hydrate::{self, Hydrated};
use super::{ExecuteError, ExecuteResult, Executed, Job, Shared};
use crate::domain::{Aggregate, StreamEvent};
use crate::idempotency::IdempotencyKey;
use backon::{BackoffBuilder, ExponentialBuilder};
use event_store::{Claim, StoreError};
use events::{ConsistencyToken, EventId, NewEvent, StreamId};
use std::ops::Range;
use std::sync::Arc;

/// What one command came to, before the batch is durable.
enum Outcome<A: Aggregate> {
    /// The reply, and which of the batch's new events are this command's.
    Accepted(A::Reply, Range<usize>),
    Rejected(A::Error),
}

/// Whether a batch met another writer on its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Contention {
    None,
    /// At least one version conflict (another process appended to the stream).
    Conflicted,
}

/// What a batch does when another writer has moved its stream under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnConflict {
    /// Back off, load again and decide again, up to the configured retries.
    Retry,
    /// Return at once with the jobs still unanswered, for the caller to decide them again
    /// in a turn (`store::turns`): retrying without one races the writer that holds the
    /// turns, and every lost race adds a longer back-off (seen as a tail of a second).
    HandBack,
}

/// Decides `jobs` against the aggregate (loading it if `hydrated` is empty), appends their
/// events in one transaction and answers every job. Leaves `hydrated` holding the state
/// after the batch, or empty if it is unknown (the next batch reloads). Handed back on a
/// conflict (`OnConflict::HandBack`), the jobs not answered yet stay in `jobs`.
pub(crate) async fn run<A: Aggregate>(
    shared: &Shared,
    stream: &StreamId,
    hydrated: &mut Option<Hydrated<A>>,
    jobs: &mut Vec<Job<A>>,
    on_conflict: OnConflict,
) -> Contention {
    let mut contention = Contention::None;
    let config = &shared.config;
    let mut delays = ExponentialBuilder::default()
        .with_min_delay(config.retry_min_delay)
        .with_max_delay(config.retry_max_delay)
        .with_max_times(config.max_retries)
        .with_jitter()
        .build();
    loop {
        drop_stale(jobs);
        if jobs.is_empty() {
            return contention;
        }
        let current = match hydrated.take() {
            Some(current) => current,
            None => match hydrate::load::<A>(shared, stream).await {
                Ok(loaded) => loaded,
                // Another writer moved the stream while it was loading: load again.
                Err(StoreError::Conflict { .. }) if on_conflict == OnConflict::HandBack => {
                    return Contention::Conflicted;
                }
                Err(StoreError::Conflict { .. }) => match delays.next() {
                    Some(delay) => {
                        contention = Contention::Conflicted;
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    None => {
                        overloaded(jobs);
                        return Contention::Conflicted;
                    }
                },
                Err(error) => {
                    fail_all(jobs, error);
                    return contention;
                }
            },
        };
        shared.batch_size.record(jobs.len() as f64);
        let base_version = current.version;
        let base_position = current.position;
        // Keys recorded already are answered with their record. Read here, against the
        // state this batch is decided on, a record another process writes meanwhile moves
        // the stream and fails the append's version check, so it is seen on the retry.
        // A new stream has none on it: a key recorded with another stream (a placement
        // that allocated another id) fails the append as `KeyTaken` instead.
        if base_version > 0
            && let Err(error) = answer_recorded(shared, jobs).await
        {
            fail_all(jobs, error);
            return contention;
        }
        if jobs.is_empty() {
            *hydrated = Some(current);
            return contention;
        }
        let mut state = current.state;
        let missing = missing_entries(&state, jobs);
        if let Err(error) = learn_entries(shared, stream, &mut state, missing).await {
            fail_all(jobs, error);
            return contention;
        }
        let (mut state, new_events, outcomes, claims) =
            match decide_all(state, jobs, (base_version, base_position)) {
                Ok(decided) => decided,
                Err(error) => {
                    fail_all(jobs, error);
                    return contention;
                }
            };
        let entries = state.take_entries();
        let committed = if new_events.is_empty() && entries.is_empty() && claims.is_empty() {
            // Rejections and no-ops must not rest on a state another process has moved on
            // from: check the version is still the one they were decided against.
            match shared.store.stream_version(stream).await {
                Ok(actual) if actual == base_version => Ok(None),
                Ok(actual) => Err(StoreError::Conflict {
                    stream: stream.clone(),
                    expected: base_version,
                    actual,
                }),
                Err(error) => Err(error),
            }
        } else {
            shared
                .store
                .append_claimed(stream, base_version, &new_events, &entries, &claims)
                .await
                .map(Some)
        };
        match committed {
            Ok(appended) => {
                state.forget();
                let first_position = appended.map_or(0, |a| a.first_position);
                let mut after = Hydrated {
                    state,
                    version: base_version + new_events.len() as i64,
                    position: appended
                        .filter(|a| a.last_position > 0)
                        .map_or(base_position, |a| a.last_position),
                    snapshot_version: current.snapshot_version,
                };
                answer_all(
                    jobs,
                    outcomes,
                    stream,
                    (base_version, base_position),
                    first_position,
                );
                hydrate::maybe_snapshot(shared, stream, &mut after);
                *hydrated = Some(after);
                return contention;
            }
            Err(StoreError::Conflict { .. }) if on_conflict == OnConflict::HandBack => {
                metrics::counter!("shop_executor_conflicts_total", "aggregate" => A::NAME, "outcome" => "handed-back")
                    .increment(1);
                tracing::debug!(%stream, "version conflict; deciding again in a turn");
                return Contention::Conflicted;
            }
            Err(StoreError::Conflict { .. }) => match delays.next() {
                Some(delay) => {
                    contention = Contention::Conflicted;
                    metrics::counter!("shop_executor_conflicts_total", "aggregate" => A::NAME, "outcome" => "retried")
                        .increment(1);
                    tracing::debug!(%stream, ?delay, "version conflict; deciding again");
                    tokio::time::sleep(delay).await;
                }
                None => {
                    metrics::counter!("shop_executor_conflicts_total", "aggregate" => A::NAME, "outcome" => "gave-up")
                        .increment(1);
                    tracing::warn!(%stream, "version conflicts outlasted the retries");
                    overloaded(jobs);
                    return Contention::Conflicted;
                }
            },
            Err(StoreError::KeyTaken { .. }) => {
                // Another process recorded one of the batch's keys meanwhile: its callers
                // get that record; the rest of the batch is decided again.
                if let Err(error) = answer_taken_keys(shared, jobs).await {
                    fail_all(jobs, error);
                    return contention;
                }
                if jobs.is_empty() {
                    return contention;
                }
            }
            Err(error) => {
                fail_all(jobs, error);
                return contention;
            }
        }
    }
}

/// Answers, from their records, the jobs whose idempotency key is recorded already (one
/// read for the batch), and keeps the others; answers how many were answered.
async fn answer_recorded<A: Aggregate>(
    shared: &Shared,
    jobs: &mut Vec<Job<A>>,
) -> Result<usize, StoreError> {
    let keyed: Vec<(usize, IdempotencyKey)> = jobs
        .iter()
        .enumerate()
        .filter_map(|(index, job)| Some((index, job.claim.clone()?)))
        .collect();
    if keyed.is_empty() {
        return Ok(0);
    }
    let pairs: Vec<(&str, &str)> = keyed
        .iter()
        .map(|(_, key)| (key.scope.as_str(), key.key.as_str()))
        .collect();
    let found = shared.store.load_claims(&pairs).await?;
    let recorded: Vec<(usize, IdempotencyKey, event_store::StoredClaim)> = keyed
        .into_iter()
        .zip(found)
        .filter_map(|((index, key), stored)| Some((index, key, stored?)))
        .collect();
    let answered = recorded.len();
    for (index, key, stored) in recorded.into_iter().rev() {
        let job = jobs.remove(index);
        let _ = job.answer.send(super::replayed::<A>(&key, stored));
    }
    Ok(answered)
}

/// After an append failed as `KeyTaken` (another process recorded one of the batch's keys
/// meanwhile): the jobs whose key is recorded now are answered from their records and the
/// rest of the batch is decided again. With no such job (the record went again), every
/// keyed job is answered `KeyTaken`, so the batch cannot come back to the same failure.
async fn answer_taken_keys<A: Aggregate>(
    shared: &Shared,
    jobs: &mut Vec<Job<A>>,
) -> Result<(), StoreError> {
    if answer_recorded(shared, jobs).await? > 0 {
        return Ok(());
    }
    for job in std::mem::take(jobs) {
        if job.claim.is_some() {
            let _ = job.answer.send(Err(ExecuteError::KeyTaken));
        } else {
            jobs.push(job);
        }
    }
    Ok(())
}

/// Loads, in one read, the stored entries the batch's commands need that the state does
/// not know yet (`domain::entries`).
async fn learn_entries<A: Aggregate>(
    shared: &Shared,
    stream: &StreamId,
    state: &mut A,
    keys: Vec<String>,
) -> Result<(), StoreError> {
    if keys.is_empty() {
        return Ok(());
    }
    let found = shared.store.load_entries(stream, &keys).await?;
    for key in &keys {
        state
            .learn(key, found.get(key).map(Vec::as_slice))
            .map_err(|e| StoreError::Corrupt(format!("{stream}: {e}")))?;
    }
    Ok(())
}

/// The entry keys the batch's commands need that the state does not know, each once.
fn missing_entries<A: Aggregate>(state: &A, jobs: &[Job<A>]) -> Vec<String> {
    let mut keys: Vec<String> = jobs
        .iter()
        .flat_map(|job| state.missing_entries(&job.command))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

type Decided<A> = (A, Vec<NewEvent>, Vec<Outcome<A>>, Vec<Claim>);

/// Decides every job in order against the evolving state; an accepted job sent with an
/// idempotency key gets a record of its reply, written with the batch's events.
fn decide_all<A: Aggregate>(
    mut state: A,
    jobs: &[Job<A>],
    (base_version, base_position): (i64, i64),
) -> Result<Decided<A>, StoreError> {
    let mut new_events = Vec::new();
    let mut outcomes = Vec::with_capacity(jobs.len());
    let mut claims = Vec::new();
    for job in jobs {
        match state.decide(&job.command) {
            Ok(events) => {
                let start = new_events.len();
                for event in &events {
                    let encoded = event
                        .encode()
                        .map_err(|e| StoreError::Bug(format!("cannot encode an event: {e}")))?;
                    new_events.push(NewEvent {
                        event_id: EventId::new(),
                        event_type: encoded.event_type.to_owned(),
                        schema_version: encoded.schema_version,
                        payload: encoded.payload,
                        metadata: job.metadata,
                    });
                }
                state = events.iter().fold(state, A::evolve);
                let reply = state.reply(&job.command);
                if let Some(key) = &job.claim {
                    claims.push(claim(
                        key,
                        &reply,
                        base_version,
                        new_events.len(),
                        base_position,
                    )?);
                }
                outcomes.push(Outcome::Accepted(reply, start..new_events.len()));
            }
            Err(error) => outcomes.push(Outcome::Rejected(error)),
        }
    }
    Ok((state, new_events, outcomes, claims))
}

/// The record of an accepted keyed command: its reply, and where the stream stood after
/// it (its last event, or the latest of the batch's before it, or the stream's base).
fn claim<R: serde::Serialize>(
    key: &IdempotencyKey,
    reply: &R,
    base_version: i64,
    events_so_far: usize,
    base_position: i64,
) -> Result<Claim, StoreError> {
    let outcome = postcard::to_stdvec(reply)
        .map_err(|e| StoreError::Bug(format!("cannot encode a reply: {e}")))?;
    Ok(Claim {
        scope: key.scope.clone(),
        key: key.key.clone(),
        fingerprint: key.fingerprint,
        outcome,
        stream_version: base_version + events_so_far as i64,
        last_event: events_so_far.checked_sub(1),
        position: base_position,
    })
}

/// A command's token names its last event, or for a command that changed nothing, the
/// event the stream was at, so a read with that token sees what the reply describes.
fn answer_all<A: Aggregate>(
    jobs: &mut Vec<Job<A>>,
    outcomes: Vec<Outcome<A>>,
    stream: &StreamId,
    (base_version, base_position): (i64, i64),
    first_position: i64,
) {
    let (mut last_version, mut last_position) = (base_version, base_position);
    for (job, outcome) in jobs.drain(..).zip(outcomes) {
        let answer: ExecuteResult<A> = match outcome {
            Outcome::Accepted(reply, events) => {
                if !events.is_empty() {
                    last_position = first_position + events.end as i64 - 1;
                    last_version = base_version + events.end as i64;
                }
                Ok(Executed {
                    reply,
                    token: ConsistencyToken::new(last_position, stream.clone(), last_version),
                    replayed: false,
                })
            }
            Outcome::Rejected(error) => Err(ExecuteError::Rejected(error)),
        };
        // A caller that gave up waiting is no reason to fail the others.
        let _ = job.answer.send(answer);
    }
}

/// Answers, without deciding them, the jobs queued past their deadline (`Overloaded`:
/// nothing was done, a retry is safe) and drops those whose caller went away (it got no
/// answer, so it cannot have been told anything).
fn drop_stale<A: Aggregate>(jobs: &mut Vec<Job<A>>) {
    let now = std::time::Instant::now();
    if jobs
        .iter()
        .all(|job| job.deadline > now && !job.answer.is_closed())
    {
        return;
    }
    let mut kept = Vec::with_capacity(jobs.len());
    for job in jobs.drain(..) {
        if job.answer.is_closed() {
            metrics::counter!("shop_executor_abandoned_total", "aggregate" => A::NAME).increment(1);
        } else if job.deadline <= now {
            metrics::counter!("shop_executor_expired_total", "aggregate" => A::NAME).increment(1);
            let _ = job.answer.send(Err(ExecuteError::Overloaded));
        } else {
            kept.push(job);
        }
    }
    *jobs = kept;
}

fn overloaded<A: Aggregate>(jobs: &mut Vec<Job<A>>) {
    for job in jobs.drain(..) {
        let _ = job.answer.send(Err(ExecuteError::Overloaded));
    }
}

fn fail_all<A: Aggregate>(jobs: &mut Vec<Job<A>>, error: StoreError) {
    tracing::error!(%error, "a command batch failed");
    let error = Arc::new(error);
    for job in jobs.drain(..) {
        let _ = job.answer.send(Err(ExecuteError::Store(error.clone())));
    }
}
