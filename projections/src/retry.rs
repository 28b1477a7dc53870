//! How projectors back off from a failing read model, broker or Redis, embedded or over
//! Kafka alike: from `MIN_BACKOFF`, doubling up to `MAX_BACKOFF`.

use std::time::Duration;

pub(crate) const MIN_BACKOFF: Duration = Duration::from_millis(100);
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// The wait after `backoff`.
pub(crate) fn doubled(backoff: Duration) -> Duration {
    (backoff * 2).min(MAX_BACKOFF)
}
