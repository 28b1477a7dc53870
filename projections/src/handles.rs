//! What starting the projectors gives back, embedded or over Kafka: their progress, their
//! lag and their tasks, joined at shutdown.

use crate::lag::{LagWatches, ProjectionLag};
use std::collections::HashMap;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The running projectors of either kind.
pub struct ProjectionHandles {
    pub(crate) progress: HashMap<&'static str, watch::Receiver<i64>>,
    pub(crate) lag: LagWatches,
    pub(crate) tasks: Vec<JoinHandle<()>>,
}

impl ProjectionHandles {
    /// The applied global position of each embedded projection, by name. Kafka
    /// projectors have no single position (partitions move independently) and are not
    /// listed: readers wait on `projected_streams` / the Redis `v` field instead.
    pub fn progress(&self) -> HashMap<&'static str, watch::Receiver<i64>> {
        self.progress.clone()
    }

    /// Each projection's lag, by name (Kafka mode adds `redis-views` when it runs; there
    /// the SQL projections share one consumer, so they show the same lag).
    pub fn lag(&self) -> HashMap<&'static str, watch::Receiver<ProjectionLag>> {
        self.lag.clone()
    }

    /// Waits for every task; call after cancelling the shutdown token.
    pub async fn join(self) {
        for task in self.tasks {
            if let Err(error) = task.await
                && !error.is_cancelled()
            {
                tracing::error!(%error, "a projection task panicked");
            }
        }
    }
}
