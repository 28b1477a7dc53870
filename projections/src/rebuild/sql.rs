//! `shop rebuild <projection>|all` for the SQL read models, blue/green:
//!
//! 1. Green: a shadow schema (`shadow.rs`) gets every selected projection's tables, empty,
//!    and the whole store is replayed into it through the projections' own `apply_batch`,
//!    while the live projectors and the query API go on with the blue copy.
//! 2. Swap, in one transaction on the live database:
//!    - lock the selected projections' stream versions and checkpoints: a live batch now
//!      waits, and then fails its compare-and-set and is retried against the new copy;
//!    - replay what was appended meanwhile into the shadow (everything the live
//!      projectors applied is in the store by now);
//!    - replace the live tables' rows with the shadow's, and the versions and checkpoints
//!      with where the replay stopped.
//!
//!    Readers see the old rows until the commit (InnoDB MVCC, SQLite WAL), the new ones
//!    after it, never a mix, and all selected read models move together.
//! 3. The shadow is dropped.
//!
//! Why rows are copied rather than tables renamed: MySQL's `RENAME TABLE` is DDL and
//! commits on its own, so it cannot be atomic with the checkpoint and version rows; a
//! crash between the two would make the live projectors apply events twice.

use super::crash::crash_point;
use super::shadow::Shadow;
use super::{Cursor, Pass, RebuildProgress};
use crate::envelope::decode;
use crate::error::ProjectionError;
use crate::stream_versions::insert_versions;
use crate::{Envelope, EventFeed, Projection, checkpoint};
use events::DomainEvent;
use sqlx::{AnyPool, AssertSqlSafe, Connection};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A swap that lost a deadlock to a live batch (both inserting one new row) is tried
/// again; the replay so far is kept.
const SWAP_ATTEMPTS: u32 = 5;

/// What a SQL rebuild did.
#[derive(Debug, Clone)]
pub struct ReadModelsReport {
    /// Events read from the store (all of them; each projection applies its categories).
    pub events: u64,
    /// The global position the swapped-in copies are exact at.
    pub position: i64,
    /// Rows swapped in, per table.
    pub rows: Vec<(&'static str, i64)>,
    /// How long the (last) swap transaction held the live projectors back.
    pub swap: Duration,
    pub elapsed: Duration,
}

impl ReadModelsReport {
    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Rebuilds `projections` (tables, stream versions, checkpoints) of the read database
/// `live` (opened from `live_url`) from `feed`, and swaps them in together.
pub async fn rebuild_read_models(
    live: &AnyPool,
    live_url: &str,
    projections: Vec<Box<dyn Projection>>,
    feed: &dyn EventFeed,
    progress: &(dyn Fn(RebuildProgress) + Sync),
) -> Result<ReadModelsReport, ProjectionError> {
    let started = Instant::now();
    let shadow = Shadow::create(live_url).await?;
    let mut replay = ShadowReplay::new(projections);
    let mut swap_took = Duration::ZERO;
    let rebuilt = async {
        replay.catch_up(&shadow.pool, feed, progress).await?;
        crash_point("rebuild-before-swap");
        let mut attempt = 1;
        loop {
            let swap_started = Instant::now();
            let swapped = swap(live, &shadow, &mut replay, feed, progress).await;
            swap_took = swap_started.elapsed();
            match swapped {
                Ok(rows) => return Ok(rows),
                Err(error) if attempt < SWAP_ATTEMPTS => {
                    tracing::warn!(%error, attempt, "the swap raced a live projector; trying again");
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }
    .await;
    if let Err(error) = shadow.remove().await {
        tracing::warn!(%error, "the rebuild's shadow schema is left behind; the next rebuild drops it");
    }
    Ok(ReadModelsReport {
        events: replay.cursor.events,
        position: replay.cursor.position,
        rows: rebuilt?,
        swap: swap_took,
        elapsed: started.elapsed(),
    })
}

/// The selected projections, applied to the shadow up to `cursor`, and the version of
/// every stream each one applied (what its live guards must say once the copy is in).
struct ShadowReplay {
    projections: Vec<Box<dyn Projection>>,
    versions: Vec<BTreeMap<String, i64>>,
    cursor: Cursor,
}

impl ShadowReplay {
    fn new(projections: Vec<Box<dyn Projection>>) -> Self {
        let versions = projections.iter().map(|_| BTreeMap::new()).collect();
        Self {
            projections,
            versions,
            cursor: Cursor::default(),
        }
    }

    fn reads(&self, category: &str) -> bool {
        self.projections
            .iter()
            .any(|projection| projection.categories().contains(&category))
    }

    /// Applies what the store holds after `self.cursor` to the shadow, up to its head.
    async fn catch_up(
        &mut self,
        shadow: &AnyPool,
        feed: &dyn EventFeed,
        progress: &(dyn Fn(RebuildProgress) + Sync),
    ) -> Result<(), ProjectionError> {
        let pass = Pass::begin(feed, progress).await;
        while let Some(batch) = pass.next(&self.cursor).await? {
            let mut decoded = Vec::with_capacity(batch.len());
            for recorded in &batch {
                if self.reads(recorded.stream_id.category()) {
                    decoded.push((Envelope::from(recorded), decode(recorded)?));
                }
            }
            for (projection, versions) in self.projections.iter().zip(&mut self.versions) {
                let events: Vec<(&Envelope, &DomainEvent)> = decoded
                    .iter()
                    .filter(|(envelope, _)| {
                        projection
                            .categories()
                            .contains(&envelope.stream_id.category())
                    })
                    .map(|(envelope, event)| (envelope, event))
                    .collect();
                if events.is_empty() {
                    continue;
                }
                for (envelope, _) in &events {
                    versions.insert(
                        envelope.stream_id.as_str().to_owned(),
                        envelope.stream_version,
                    );
                }
                let mut tx = shadow
                    .begin()
                    .await
                    .map_err(ProjectionError::db("begin a rebuild batch"))?;
                projection.apply_batch(&mut tx, &events).await?;
                tx.commit()
                    .await
                    .map_err(ProjectionError::db("commit a rebuild batch"))?;
            }
            pass.applied(&mut self.cursor, &batch);
        }
        Ok(())
    }
}

async fn swap(
    live: &AnyPool,
    shadow: &Shadow,
    replay: &mut ShadowReplay,
    feed: &dyn EventFeed,
    progress: &(dyn Fn(RebuildProgress) + Sync),
) -> Result<Vec<(&'static str, i64)>, ProjectionError> {
    let mut connection = live
        .acquire()
        .await
        .map_err(ProjectionError::db("connect for the swap"))?;
    shadow.attach(&mut connection).await?;
    let swapped = async {
        let mut tx = connection
            .begin()
            .await
            .map_err(ProjectionError::db("begin the swap"))?;
        for projection in &replay.projections {
            sqlx::query("DELETE FROM projected_streams WHERE projection = ?")
                .bind(projection.name())
                .execute(&mut *tx)
                .await
                .map_err(ProjectionError::db("lock the stream versions"))?;
            sqlx::query("UPDATE projection_checkpoints SET position = position WHERE name = ?")
                .bind(projection.name())
                .execute(&mut *tx)
                .await
                .map_err(ProjectionError::db("lock the checkpoint"))?;
        }
        replay.catch_up(&shadow.pool, feed, progress).await?;
        let mut rows = Vec::new();
        for projection in &replay.projections {
            for table in projection.tables() {
                let copied = shadow.table(table);
                // Table names come from the projections' own constants, never from input.
                sqlx::query(AssertSqlSafe(format!("DELETE FROM {table}")))
                    .execute(&mut *tx)
                    .await
                    .map_err(ProjectionError::db("clear a live table"))?;
                let inserted = sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO {table} SELECT * FROM {copied}"
                )))
                .execute(&mut *tx)
                .await
                .map_err(ProjectionError::db("copy a rebuilt table"))?;
                rows.push((
                    *table,
                    i64::try_from(inserted.rows_affected()).unwrap_or(i64::MAX),
                ));
            }
        }
        for (projection, versions) in replay.projections.iter().zip(&replay.versions) {
            // Again: a Kafka batch may have recorded a stream that was new to it since the
            // first delete (an insert takes no lock the delete held).
            sqlx::query("DELETE FROM projected_streams WHERE projection = ?")
                .bind(projection.name())
                .execute(&mut *tx)
                .await
                .map_err(ProjectionError::db("clear the stream versions"))?;
            insert_versions(&mut tx, projection.name(), versions).await?;
            checkpoint::save(&mut tx, projection.name(), replay.cursor.position).await?;
        }
        crash_point("rebuild-before-swap-commit");
        tx.commit()
            .await
            .map_err(ProjectionError::db("commit the swap"))?;
        Ok(rows)
    }
    .await;
    // A connection left with the shadow attached would keep its file open.
    let detached = shadow.detach(&mut connection).await;
    if detached.is_err() {
        connection.detach().close().await.ok();
    }
    swapped
}
