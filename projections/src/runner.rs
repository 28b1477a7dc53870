//! One task per projection: read a batch after the checkpoint, apply it and move the
//! checkpoint in one transaction, publish the new position, repeat.

use crate::error::ProjectionError;
use crate::{EventFeed, Projection};
use events::DomainEvent;
use sqlx::SqlitePool;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const BATCH: usize = 2_000;
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

pub struct ProjectionHandles {
    progress: HashMap<&'static str, watch::Receiver<i64>>,
    tasks: Vec<JoinHandle<()>>,
}

impl ProjectionHandles {
    /// The applied position of each projection, by name.
    pub fn progress(&self) -> HashMap<&'static str, watch::Receiver<i64>> {
        self.progress.clone()
    }

    pub async fn join(self) {
        for task in self.tasks {
            if let Err(error) = task.await {
                tracing::error!(%error, "a projection task panicked");
            }
        }
    }
}

pub fn spawn_projections(
    pool: SqlitePool,
    feed: Arc<dyn EventFeed>,
    shutdown: CancellationToken,
) -> ProjectionHandles {
    let mut progress = HashMap::new();
    let mut tasks = Vec::new();
    for projection in crate::all() {
        let (sender, receiver) = watch::channel(0);
        progress.insert(projection.name(), receiver);
        tasks.push(tokio::spawn(run(
            projection,
            pool.clone(),
            feed.clone(),
            sender,
            shutdown.clone(),
        )));
    }
    ProjectionHandles { progress, tasks }
}

async fn run(
    projection: Box<dyn Projection>,
    pool: SqlitePool,
    feed: Arc<dyn EventFeed>,
    progress: watch::Sender<i64>,
    shutdown: CancellationToken,
) {
    let name = projection.name();
    let mut backoff = MIN_BACKOFF;
    let mut checkpoint = None;
    while !shutdown.is_cancelled() {
        let step = async {
            let position = match checkpoint {
                Some(position) => position,
                None => load_checkpoint(&pool, name).await?,
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
            apply_batch(&pool, projection.as_ref(), &batch).await
        };
        match step.await {
            Ok(position) => {
                backoff = MIN_BACKOFF;
                checkpoint = Some(position);
                progress.send_replace(position);
            }
            Err(error) => {
                tracing::error!(projection = name, %error, ?backoff, "projection failed; retrying");
                checkpoint = None;
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {},
                    () = shutdown.cancelled() => {},
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

async fn load_checkpoint(pool: &SqlitePool, name: &str) -> Result<i64, ProjectionError> {
    let position: Option<i64> =
        sqlx::query_scalar("SELECT position FROM projection_checkpoints WHERE name = ?")
            .bind(name)
            .fetch_optional(pool)
            .await
            .map_err(ProjectionError::db("load a checkpoint"))?;
    Ok(position.unwrap_or(0))
}

/// Applies `batch` and moves the checkpoint past it, atomically. An event that cannot be
/// decoded fails the batch: skipping it would silently corrupt the read model.
async fn apply_batch(
    pool: &SqlitePool,
    projection: &dyn Projection,
    batch: &[events::RecordedEvent],
) -> Result<i64, ProjectionError> {
    let mut tx = pool
        .begin()
        .await
        .map_err(ProjectionError::db("begin a projection batch"))?;
    let mut last = 0;
    for event in batch {
        let decoded =
            DomainEvent::decode_recorded(event).map_err(|source| ProjectionError::Decode {
                position: event.global_position,
                source,
            })?;
        projection.apply(&mut tx, event, &decoded).await?;
        last = event.global_position;
    }
    sqlx::query(
        "INSERT INTO projection_checkpoints (name, position) VALUES (?, ?) \
         ON CONFLICT (name) DO UPDATE SET position = excluded.position",
    )
    .bind(projection.name())
    .bind(last)
    .execute(&mut *tx)
    .await
    .map_err(ProjectionError::db("move a checkpoint"))?;
    tx.commit()
        .await
        .map_err(ProjectionError::db("commit a projection batch"))?;
    Ok(last)
}
