//! The embedded projector: one task per projection reads a batch after its checkpoint,
//! applies it and moves the checkpoint in one transaction, publishes the new position,
//! repeats.

use crate::envelope::{decode, trace_projected};
use crate::error::ProjectionError;
use crate::handles::ProjectionHandles;
use crate::lag::ProjectionLag;
use crate::retry::{MIN_BACKOFF, doubled};
use crate::{Envelope, EventFeed, Projection, checkpoint};
use chrono_tz::Tz;
use sqlx::AnyPool;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

const BATCH: usize = 2_000;

/// Starts one task per projection of `crate::all(timezone)`, each following `feed`.
pub fn spawn_projections(
    pool: AnyPool,
    feed: Arc<dyn EventFeed>,
    timezone: Tz,
    shutdown: CancellationToken,
) -> ProjectionHandles {
    let mut progress = HashMap::new();
    let mut lag = HashMap::new();
    let mut tasks = Vec::new();
    for projection in crate::all(timezone) {
        let (position_sender, position) = watch::channel(0);
        let (lag_sender, lag_receiver) = watch::channel(ProjectionLag::default());
        progress.insert(projection.name(), position);
        lag.insert(projection.name(), lag_receiver);
        tasks.push(tokio::spawn(run(
            projection,
            pool.clone(),
            feed.clone(),
            position_sender,
            lag_sender,
            shutdown.clone(),
        )));
    }
    ProjectionHandles {
        progress,
        lag,
        tasks,
    }
}

async fn run(
    projection: Box<dyn Projection>,
    pool: AnyPool,
    feed: Arc<dyn EventFeed>,
    progress: watch::Sender<i64>,
    lag: watch::Sender<ProjectionLag>,
    shutdown: CancellationToken,
) {
    let name = projection.name();
    let mut backoff = MIN_BACKOFF;
    let mut checkpoint = None;
    while !shutdown.is_cancelled() {
        let step = async {
            let position = match checkpoint {
                Some(position) => position,
                None => checkpoint::load(&pool, name).await?,
            };
            checkpoint = Some(position);
            progress.send_replace(position);
            let batch = feed.read_after(position, BATCH).await?;
            if batch.is_empty() {
                tokio::select! {
                    () = feed.wait_past(position) => {},
                    () = shutdown.cancelled() => {},
                }
                return Ok(position);
            }
            let last = apply_batch(&pool, projection.as_ref(), position, &batch).await?;
            lag.send_modify(|lag| {
                lag.record_batch(batch.len(), 0, batch.last().map(|e| e.recorded_at));
            });
            Ok::<_, ProjectionError>(last)
        };
        match step.await {
            Ok(position) => {
                backoff = MIN_BACKOFF;
                checkpoint = Some(position);
                progress.send_replace(position);
            }
            Err(ProjectionError::CheckpointMoved { .. }) => {
                // A rebuild swapped its copy in: go on from its checkpoint at once.
                tracing::info!(
                    projection = name,
                    "the checkpoint moved under a rebuild; reloading it"
                );
                checkpoint = None;
            }
            Err(error) => {
                lag.send_modify(|lag| lag.errors += 1);
                tracing::error!(projection = name, %error, ?backoff, "projection failed; retrying");
                checkpoint = None;
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {},
                    () = shutdown.cancelled() => {},
                }
                backoff = doubled(backoff);
            }
        }
    }
}

/// Applies `batch` and moves the checkpoint from `from` past it, atomically. An event
/// that cannot be decoded fails the batch: skipping it would silently corrupt the read
/// model. So does a checkpoint that is no longer at `from` (`shop rebuild` swapped the
/// read model in under this task): the task then reloads it and goes on from there.
async fn apply_batch(
    pool: &AnyPool,
    projection: &dyn Projection,
    from: i64,
    batch: &[events::RecordedEvent],
) -> Result<i64, ProjectionError> {
    let mut tx = pool
        .begin()
        .await
        .map_err(ProjectionError::db("begin a projection batch"))?;
    let decoded = batch.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    let envelopes: Vec<Envelope> = batch.iter().map(Envelope::from).collect();
    let events: Vec<_> = envelopes.iter().zip(&decoded).collect();
    // The checkpoint moves first: on SQLite a transaction that reads before it writes
    // cannot wait for the write lock (another projection's commit in between fails it
    // with SQLITE_BUSY at once), while one that starts by writing waits its busy timeout.
    let last = batch.last().map_or(0, |event| event.global_position);
    checkpoint::advance(&mut tx, projection.name(), from, last).await?;
    projection.apply_batch(&mut tx, &events).await?;
    tx.commit()
        .await
        .map_err(ProjectionError::db("commit a projection batch"))?;
    trace_projected(projection.name(), projection.categories(), &envelopes);
    Ok(last)
}
