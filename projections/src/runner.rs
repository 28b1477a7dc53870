//! The embedded projector: one task reads a batch after the projections' checkpoints,
//! applies it to every projection and moves their checkpoints in one transaction,
//! publishes the new positions, repeats.
//!
//! One reader for all of them, not a task each: each event is read from the store and
//! decoded once, and a batch is one commit of the read database instead of six.

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

/// One projection, with how far it got and where that is published.
struct Follower {
    projection: Box<dyn Projection>,
    /// `None` until loaded, and again after a failure (a rebuild may have moved it).
    checkpoint: Option<i64>,
    progress: watch::Sender<i64>,
    lag: watch::Sender<ProjectionLag>,
}

/// Starts the task that applies `feed` to every projection of `crate::all(timezone)`.
pub fn spawn_projections(
    pool: AnyPool,
    feed: Arc<dyn EventFeed>,
    timezone: Tz,
    shutdown: CancellationToken,
) -> ProjectionHandles {
    let mut progress = HashMap::new();
    let mut lag = HashMap::new();
    let mut followers = Vec::new();
    for projection in crate::all(timezone) {
        let (position_sender, position) = watch::channel(0);
        let (lag_sender, lag_receiver) = watch::channel(ProjectionLag::default());
        progress.insert(projection.name(), position);
        lag.insert(projection.name(), lag_receiver);
        followers.push(Follower {
            projection,
            checkpoint: None,
            progress: position_sender,
            lag: lag_sender,
        });
    }
    let task = tokio::spawn(run(followers, pool, feed, shutdown));
    ProjectionHandles {
        progress,
        lag,
        tasks: vec![task],
    }
}

async fn run(
    mut followers: Vec<Follower>,
    pool: AnyPool,
    feed: Arc<dyn EventFeed>,
    shutdown: CancellationToken,
) {
    let mut backoff = MIN_BACKOFF;
    while !shutdown.is_cancelled() {
        match step(&mut followers, &pool, feed.as_ref(), &shutdown).await {
            Ok(()) => backoff = MIN_BACKOFF,
            Err(ProjectionError::CheckpointMoved { projection, .. }) => {
                // A rebuild swapped its copy in: go on from its checkpoint at once.
                tracing::info!(
                    projection,
                    "the checkpoint moved under a rebuild; reloading it"
                );
                forget_checkpoints(&mut followers);
            }
            Err(error) => {
                for follower in &followers {
                    follower.lag.send_modify(|lag| lag.errors += 1);
                }
                tracing::error!(%error, ?backoff, "projection failed; retrying");
                forget_checkpoints(&mut followers);
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {},
                    () = shutdown.cancelled() => {},
                }
                backoff = doubled(backoff);
            }
        }
    }
}

fn forget_checkpoints(followers: &mut [Follower]) {
    for follower in followers {
        follower.checkpoint = None;
    }
}

/// Reads one batch after the furthest-behind checkpoint and applies it, or waits for the
/// store to move when there is nothing to read.
async fn step(
    followers: &mut [Follower],
    pool: &AnyPool,
    feed: &dyn EventFeed,
    shutdown: &CancellationToken,
) -> Result<(), ProjectionError> {
    for follower in followers.iter_mut() {
        let position = match follower.checkpoint {
            Some(position) => position,
            None => checkpoint::load(pool, follower.projection.name()).await?,
        };
        follower.checkpoint = Some(position);
        follower.progress.send_replace(position);
    }
    let from = followers
        .iter()
        .filter_map(|follower| follower.checkpoint)
        .min()
        .unwrap_or(0);
    let batch = feed.read_after(from, BATCH).await?;
    if batch.is_empty() {
        tokio::select! {
            () = feed.wait_past(from) => {},
            () = shutdown.cancelled() => {},
        }
        return Ok(());
    }
    let last = apply_batch(pool, followers, &batch).await?;
    let newest = batch.last().map(|e| e.recorded_at);
    for follower in followers.iter_mut() {
        let behind = follower.checkpoint.unwrap_or(0);
        if behind < last {
            let applied = batch.iter().filter(|e| e.global_position > behind).count();
            follower
                .lag
                .send_modify(|lag| lag.record_batch(applied, 0, newest));
            follower.checkpoint = Some(last);
            follower.progress.send_replace(last);
        }
    }
    Ok(())
}

/// Applies `batch` to every projection whose checkpoint it goes past (each from its own
/// checkpoint on) and moves those checkpoints to its end, atomically; returns that end.
/// An event that cannot be decoded fails the batch: skipping it would silently corrupt a
/// read model. So does a checkpoint that is no longer where it was loaded (`shop rebuild`
/// swapped a read model in under this task): the task then reloads them and goes on.
async fn apply_batch(
    pool: &AnyPool,
    followers: &[Follower],
    batch: &[events::RecordedEvent],
) -> Result<i64, ProjectionError> {
    let decoded = batch.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    let envelopes: Vec<Envelope> = batch.iter().map(Envelope::from).collect();
    let events: Vec<_> = envelopes.iter().zip(&decoded).collect();
    let last = batch.last().map_or(0, |event| event.global_position);
    let mut tx = pool
        .begin()
        .await
        .map_err(ProjectionError::db("begin a projection batch"))?;
    // Each projection behind the batch's end, with where its part of the batch starts.
    let behind: Vec<(&Follower, i64, usize)> = followers
        .iter()
        .filter_map(|follower| {
            let from = follower.checkpoint.unwrap_or(0);
            let start = batch.partition_point(|event| event.global_position <= from);
            (from < last).then_some((follower, from, start))
        })
        .collect();
    // The checkpoints move first: on SQLite a transaction that reads before it writes
    // cannot wait for the write lock (another writer's commit in between fails it with
    // SQLITE_BUSY at once), while one that starts by writing waits its busy timeout.
    for (follower, from, _) in &behind {
        checkpoint::advance(&mut tx, follower.projection.name(), *from, last).await?;
    }
    for (follower, _, start) in &behind {
        follower
            .projection
            .apply_batch(&mut tx, &events[*start..])
            .await?;
    }
    tx.commit()
        .await
        .map_err(ProjectionError::db("commit a projection batch"))?;
    for (follower, _, start) in &behind {
        let projection = &follower.projection;
        trace_projected(
            projection.name(),
            projection.categories(),
            &envelopes[*start..],
        );
    }
    Ok(last)
}
