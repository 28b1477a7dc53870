//! Read-your-writes across the Kafka hop. A projector fed by Kafka sees each stream in
//! order but streams interleaved, so a global position says nothing about what it has
//! applied; it records the last version applied per stream in `projected_streams`, and a
//! query waits for the token's stream there.

use crate::log_limit::LogLimiter;
use crate::progress::ReadProgress;
use async_trait::async_trait;
use events::ConsistencyToken;
use events::ProjectionName;
use sqlx::AnyPool;
use std::time::Duration;

const DEFAULT_POLL_EVERY: Duration = Duration::from_millis(5);

pub struct StreamProgress {
    pool: AnyPool,
    poll_every: Duration,
    errors: LogLimiter,
}

impl StreamProgress {
    pub fn new(pool: AnyPool) -> Self {
        Self {
            pool,
            poll_every: DEFAULT_POLL_EVERY,
            errors: LogLimiter::new(Duration::from_secs(60)),
        }
    }

    pub fn with_poll_interval(mut self, every: Duration) -> Self {
        self.poll_every = every;
        self
    }

    async fn applied(&self, projection: &str, stream: &str) -> Option<i64> {
        let version = sqlx::query_scalar::<_, i64>(
            "SELECT version FROM projected_streams WHERE projection = ? AND stream_id = ?",
        )
        .bind(projection)
        .bind(stream)
        .fetch_optional(&self.pool)
        .await;
        match version {
            Ok(version) => version,
            Err(error) => {
                // Keep polling: a blip should cost this request some latency, not an error;
                // if it lasts, the wait times out into a 503 like any other lag.
                match self.errors.loud() {
                    Some(held_back) => {
                        tracing::warn!(held_back, "cannot read projected_streams: {error}");
                    }
                    None => tracing::debug!("cannot read projected_streams: {error}"),
                }
                None
            }
        }
    }
}

/// The aggregate type (stream category) whose events each projection applies. A token for
/// another category (an order's, say, read back on the balances route) names a write this
/// read model never records, so waiting for it could only time out.
fn consumes(projection: &str, category: &str) -> bool {
    ProjectionName::parse(projection).is_some_and(|p| p.consumes(category))
}

#[async_trait]
impl ReadProgress for StreamProgress {
    /// Answers at once for a token without a stream (a bare position cannot be compared
    /// per stream), for a stream this projection does not consume, or for version 0 (a
    /// command that wrote nothing to a new stream: there is nothing to wait for, and no
    /// row would ever show it).
    async fn wait_for(
        &self,
        projection: &str,
        token: &ConsistencyToken,
        timeout: Duration,
    ) -> bool {
        let Some((stream, version)) = &token.stream else {
            return true;
        };
        if *version <= 0 || !consumes(projection, stream.category()) {
            return true;
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self
                .applied(projection, stream.as_str())
                .await
                .is_some_and(|applied| applied >= *version)
            {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(self.poll_every).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::consumes;

    #[test]
    fn each_projection_waits_only_for_its_own_aggregate_type() {
        assert!(consumes("balances", "wallet"));
        assert!(consumes("catalog", "product"));
        assert!(consumes("coupons", "coupon"));
        assert!(!consumes("balances", "order"));
        assert!(!consumes("catalog", "coupon"));
        assert!(consumes("orders", "order"));
        assert!(consumes("sales", "order"));
        assert!(!consumes("sales", "wallet"));
    }
}
