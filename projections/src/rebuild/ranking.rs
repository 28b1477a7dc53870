//! `shop rebuild ranking`: replays the event store's order events into a fresh copy of the
//! sales ranking and swaps it in while the live projectors keep running and the query API
//! keeps answering from the old copy until the swap commits.
//!
//! 1. Replay the whole store into memory: units per (day, product), and the version of
//!    every order stream (what the live projections' guards must say once the copy is in).
//! 2. SQL, in one transaction: lock the `sales` stream versions and `daily_sales` (the
//!    live projector's next write waits on them), read the events appended meanwhile,
//!    then replace the table's rows, the stream versions and the checkpoint. Readers see
//!    the old rows until the commit (MVCC on MySQL, WAL on SQLite). A live batch that
//!    raced it fails its compare-and-set and is retried against the new copy, where the
//!    guards skip what the copy already holds.
//! 3. Redis, when given: raise the pause flag (the projector holds every view update back),
//!    read the events appended meanwhile, write each retained day into a temporary key and
//!    swap them in with the order views and the ready marker in one MULTI/EXEC.

use super::{Cursor, Pass};
use crate::envelope::decode;
use crate::error::ProjectionError;
use crate::order_fold::{OrderChanges, fold};
use crate::redis::{RedisViews, swap_ranking};
use crate::sales::insert_sales;
use crate::sold_day::{DailyTotals, add_completion, completion};
use crate::stream_versions::insert_versions;
use crate::{EventFeed, checkpoint};
use chrono_tz::Tz;
use events::DomainEvent;
use sqlx::AnyPool;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const PROJECTION: &str = events::ProjectionName::Sales.name();
/// A swap that lost a race with the live projector (both inserted one new row) is tried
/// again from a fresh lock; the replay so far is kept.
const SWAP_ATTEMPTS: u32 = 5;

/// How far a rebuild has read, for a progress display.
#[derive(Debug, Clone, Copy)]
pub struct RebuildProgress {
    pub position: i64,
    /// The store's newest position when the rebuild last asked, if the feed can tell.
    pub head: Option<i64>,
    pub events: u64,
}

#[derive(Debug, Clone)]
pub struct RebuildReport {
    /// Events read from the store (all types; only order events are replayed).
    pub events: u64,
    pub completions: u64,
    /// `daily_sales` rows written.
    pub rows: usize,
    pub orders: usize,
    /// The global position the copy is exact at.
    pub position: i64,
    pub redis: bool,
    pub elapsed: Duration,
}

impl RebuildReport {
    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The ranking as of `cursor`, built from every event up to it.
#[derive(Default)]
pub(crate) struct Replay {
    pub cursor: Cursor,
    pub completions: u64,
    pub totals: DailyTotals,
    /// Order stream -> its last version.
    pub versions: BTreeMap<String, i64>,
    /// Each order's current state, for the Redis order views (the guards of the day keys).
    pub orders: OrderChanges,
}

impl Replay {
    /// Reads and applies what the store holds after `self.cursor`, up to its head.
    pub(crate) async fn catch_up(
        &mut self,
        feed: &dyn EventFeed,
        timezone: Tz,
        progress: &(dyn Fn(RebuildProgress) + Sync),
    ) -> Result<(), ProjectionError> {
        let pass = Pass::begin(feed, progress).await;
        while let Some(batch) = pass.next(&self.cursor).await? {
            for recorded in &batch {
                if recorded.stream_id.category() != events::Category::Order.as_str() {
                    continue;
                }
                let decoded = decode(recorded)?;
                self.versions.insert(
                    recorded.stream_id.as_str().to_owned(),
                    recorded.stream_version,
                );
                if let DomainEvent::Order(event) = &decoded {
                    fold(&mut self.orders, event, recorded.recorded_at);
                }
                if let Some(completed) = completion(&decoded) {
                    self.completions += 1;
                    add_completion(&mut self.totals, completed, timezone);
                }
            }
            pass.applied(&mut self.cursor, &batch);
        }
        Ok(())
    }
}

/// Rebuilds `daily_sales` (and the Redis day keys when `redis` is given) from `feed`.
pub async fn rebuild_ranking(
    pool: &AnyPool,
    feed: &dyn EventFeed,
    redis: Option<&RedisViews>,
    timezone: Tz,
    progress: &(dyn Fn(RebuildProgress) + Sync),
) -> Result<RebuildReport, ProjectionError> {
    let started = Instant::now();
    let mut replay = Replay::default();
    replay.catch_up(feed, timezone, progress).await?;

    let mut attempt = 1;
    loop {
        match swap_sql(pool, feed, &mut replay, timezone, progress).await {
            Ok(()) => break,
            Err(error) if attempt < SWAP_ATTEMPTS => {
                tracing::warn!(%error, attempt, "the ranking swap raced the live projector; trying again");
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
    if let Some(views) = redis {
        swap_ranking(views, feed, &mut replay, timezone, progress).await?;
    }
    Ok(RebuildReport {
        events: replay.cursor.events,
        completions: replay.completions,
        rows: replay.totals.len(),
        orders: replay.versions.len(),
        position: replay.cursor.position,
        redis: redis.is_some(),
        elapsed: started.elapsed(),
    })
}

async fn swap_sql(
    pool: &AnyPool,
    feed: &dyn EventFeed,
    replay: &mut Replay,
    timezone: Tz,
    progress: &(dyn Fn(RebuildProgress) + Sync),
) -> Result<(), ProjectionError> {
    let mut tx = pool
        .begin()
        .await
        .map_err(ProjectionError::db("begin the ranking swap"))?;
    // Stream versions first: a live batch for a stream already seen now waits for this
    // transaction and then fails its compare-and-set.
    sqlx::query("DELETE FROM projected_streams WHERE projection = ?")
        .bind(PROJECTION)
        .execute(&mut *tx)
        .await
        .map_err(ProjectionError::db("clear the sales stream versions"))?;
    sqlx::query("DELETE FROM daily_sales")
        .execute(&mut *tx)
        .await
        .map_err(ProjectionError::db("clear daily sales"))?;
    // Whatever the live projector committed before those locks is in the store by now.
    replay.catch_up(feed, timezone, progress).await?;
    insert_versions(&mut tx, PROJECTION, &replay.versions).await?;
    insert_sales(&mut tx, &replay.totals).await?;
    checkpoint::save(&mut tx, PROJECTION, replay.cursor.position).await?;
    tx.commit()
        .await
        .map_err(ProjectionError::db("commit the ranking swap"))
}
