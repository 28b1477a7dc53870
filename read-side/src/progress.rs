//! How far each projection has applied the global event order (embedded mode). The
//! per-stream variant for projectors fed by Kafka is in `stream_progress`.

use async_trait::async_trait;
use events::ConsistencyToken;
use sqlx::AnyPool;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::watch;

#[async_trait]
pub trait ReadProgress: Send + Sync + 'static {
    /// Waits until `projection` has applied the write `token` names; false on timeout.
    async fn wait_for(&self, projection: &str, token: &ConsistencyToken, timeout: Duration)
    -> bool;
}

/// Progress published in-process by projectors running beside the query API.
pub struct WatchProgress(HashMap<String, watch::Receiver<i64>>);

impl WatchProgress {
    pub fn new<K: Into<String>>(progress: HashMap<K, watch::Receiver<i64>>) -> Self {
        Self(progress.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
}

#[async_trait]
impl ReadProgress for WatchProgress {
    async fn wait_for(
        &self,
        projection: &str,
        token: &ConsistencyToken,
        timeout: Duration,
    ) -> bool {
        let position = token.position;
        let Some(receiver) = self.0.get(projection) else {
            return false;
        };
        let mut receiver = receiver.clone();
        matches!(
            tokio::time::timeout(timeout, receiver.wait_for(|applied| *applied >= position)).await,
            Ok(Ok(_))
        )
    }
}

/// Progress read from the checkpoint table, for a query API in another process whose
/// projectors still follow the global order.
pub struct PollingProgress {
    pool: AnyPool,
}

impl PollingProgress {
    pub fn new(pool: AnyPool) -> Self {
        Self { pool }
    }
}

const POLL_EVERY: Duration = Duration::from_millis(5);

#[async_trait]
impl ReadProgress for PollingProgress {
    async fn wait_for(
        &self,
        projection: &str,
        token: &ConsistencyToken,
        timeout: Duration,
    ) -> bool {
        let position = token.position;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let applied: Option<i64> =
                sqlx::query_scalar("SELECT position FROM projection_checkpoints WHERE name = ?")
                    .bind(projection)
                    .fetch_optional(&self.pool)
                    .await
                    .unwrap_or(None);
            if applied.is_some_and(|applied| applied >= position) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }
}
