//! Rate-limits a warning that could otherwise fire on every request (Redis down under
//! load would flood the log with one line per read).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub(crate) struct LogLimiter {
    started: Instant,
    every: Duration,
    /// Milliseconds since `started` of the last warning; `u64::MAX` before the first.
    last_warn_ms: AtomicU64,
    suppressed: AtomicU64,
}

impl LogLimiter {
    pub(crate) fn new(every: Duration) -> Self {
        Self {
            started: Instant::now(),
            every,
            last_warn_ms: AtomicU64::new(u64::MAX),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(n)` when this occurrence should be logged loudly, `n` being how many were
    /// held back since the last loud one; `None` when it should go to debug only.
    pub(crate) fn loud(&self) -> Option<u64> {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        let every = u64::try_from(self.every.as_millis()).unwrap_or(u64::MAX);
        let last = self.last_warn_ms.load(Ordering::Relaxed);
        let due = last == u64::MAX || now.saturating_sub(last) >= every;
        // Only the caller that wins the swap warns, so a burst yields one line.
        if due
            && self
                .last_warn_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            return Some(self.suppressed.swap(0, Ordering::Relaxed));
        }
        self.suppressed.fetch_add(1, Ordering::Relaxed);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::LogLimiter;
    use std::time::Duration;

    #[test]
    fn the_first_occurrence_is_loud_and_a_burst_after_it_is_not() {
        let limiter = LogLimiter::new(Duration::from_secs(60));
        assert_eq!(limiter.loud(), Some(0));
        assert_eq!(limiter.loud(), None);
        assert_eq!(limiter.loud(), None);
    }

    #[test]
    fn after_the_interval_it_is_loud_again_and_counts_what_it_held_back() {
        let limiter = LogLimiter::new(Duration::ZERO);
        assert_eq!(limiter.loud(), Some(0));
        assert_eq!(limiter.loud(), Some(0));
    }
}
