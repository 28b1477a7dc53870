//! Whether a Consistency-Token names a write the event store has made, cheaply enough to
//! ask on every request that carries one. The head is cached and read again only for a
//! token beyond it; concurrent requests share one read, so a flood of forged tokens costs
//! at most one store read in flight, not one per request.

use crate::log_limit::LogLimiter;
use crate::store_writes::{StoreWrites, StoreWritesError};
use events::StreamId;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::Mutex;

/// A store read slower than this counts as failed: the token then waits as before (a
/// bounded wait) instead of every request queueing behind a hung read.
const STORE_READ_TIMEOUT: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Written,
    NotWritten,
    /// The store could not be read: neither proven nor refuted.
    Unknown,
}

/// The last head read: which read it was (its number in start order) and whether it
/// succeeded.
#[derive(Default)]
struct LastRead {
    number: u64,
    succeeded: bool,
}

pub(crate) struct KnownWrites {
    store: Arc<dyn StoreWrites>,
    /// The highest head any read has seen; heads only grow.
    head: AtomicI64,
    /// How many head reads have started; a request notes it on arrival.
    reads_started: AtomicU64,
    /// Held while a head read runs, so only one runs at a time.
    last_read: Mutex<LastRead>,
    errors: LogLimiter,
}

impl KnownWrites {
    pub(crate) fn new(store: Arc<dyn StoreWrites>) -> Self {
        Self {
            store,
            head: AtomicI64::new(0),
            reads_started: AtomicU64::new(0),
            last_read: Mutex::new(LastRead::default()),
            errors: LogLimiter::new(Duration::from_secs(60)),
        }
    }

    fn cached_head(&self) -> i64 {
        let known = self.store.known_head().unwrap_or(0);
        self.head.load(Ordering::Acquire).max(known)
    }

    /// Whether the store has written global position `position`.
    pub(crate) async fn has_position(&self, position: i64) -> Verdict {
        if position <= self.cached_head() {
            return Verdict::Written;
        }
        // A genuine token's write committed before its command answered, so before this
        // request arrived: any head read that starts after this point sees it.
        let arrived = self.reads_started.load(Ordering::SeqCst);
        let mut last = self.last_read.lock().await;
        if position <= self.cached_head() {
            return Verdict::Written;
        }
        if last.number > arrived {
            // A read that started after this request arrived has finished meanwhile; its
            // answer holds for this request too, so do not read again.
            return if last.succeeded {
                Verdict::NotWritten
            } else {
                Verdict::Unknown
            };
        }
        let number = self.reads_started.fetch_add(1, Ordering::SeqCst) + 1;
        let read = self.read(self.store.head()).await;
        *last = LastRead {
            number,
            succeeded: read.is_some(),
        };
        match read {
            Some(head) => {
                self.head.fetch_max(head, Ordering::AcqRel);
                if position <= head {
                    Verdict::Written
                } else {
                    Verdict::NotWritten
                }
            }
            None => Verdict::Unknown,
        }
    }

    /// Whether `stream` has reached `version`. Read from the store every time: it is only
    /// asked when a read model lags behind a token, which is when it would otherwise wait.
    pub(crate) async fn has_version(&self, stream: &StreamId, version: i64) -> Verdict {
        match self.read(self.store.stream_version(stream)).await {
            Some(current) if current >= version => Verdict::Written,
            Some(_) => Verdict::NotWritten,
            None => Verdict::Unknown,
        }
    }

    async fn read(&self, read: impl Future<Output = Result<i64, StoreWritesError>>) -> Option<i64> {
        let error = match tokio::time::timeout(STORE_READ_TIMEOUT, read).await {
            Ok(Ok(value)) => return Some(value),
            Ok(Err(error)) => error.to_string(),
            Err(_) => format!("no answer within {STORE_READ_TIMEOUT:?}"),
        };
        match self.errors.loud() {
            Some(held_back) => {
                tracing::warn!(held_back, "cannot check a consistency token: {error}");
            }
            None => tracing::debug!("cannot check a consistency token: {error}"),
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::{KnownWrites, Verdict};
    use crate::store_writes::{StoreWrites, StoreWritesError};
    use async_trait::async_trait;
    use events::StreamId;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
    use std::time::Duration;

    #[derive(Default)]
    struct FakeStore {
        head: AtomicI64,
        head_reads: AtomicUsize,
        fail: std::sync::atomic::AtomicBool,
    }

    #[async_trait]
    impl StoreWrites for FakeStore {
        async fn head(&self) -> Result<i64, StoreWritesError> {
            self.head_reads.fetch_add(1, Ordering::SeqCst);
            // Long enough for every concurrent request to queue behind this read.
            tokio::time::sleep(Duration::from_millis(20)).await;
            if self.fail.load(Ordering::SeqCst) {
                return Err(StoreWritesError::new(std::io::Error::other("down")));
            }
            Ok(self.head.load(Ordering::SeqCst))
        }

        async fn stream_version(&self, stream: &StreamId) -> Result<i64, StoreWritesError> {
            Ok(if stream.as_str() == "wallet-1" { 3 } else { 0 })
        }
    }

    fn known(head: i64) -> (Arc<FakeStore>, KnownWrites) {
        let store = Arc::new(FakeStore::default());
        store.head.store(head, Ordering::SeqCst);
        (store.clone(), KnownWrites::new(store))
    }

    #[tokio::test]
    async fn the_head_is_read_again_only_for_a_position_beyond_the_cached_one() {
        let (store, known) = known(10);
        assert_eq!(known.has_position(7).await, Verdict::Written);
        assert_eq!(store.head_reads.load(Ordering::SeqCst), 1, "first sight");
        assert_eq!(known.has_position(10).await, Verdict::Written);
        assert_eq!(store.head_reads.load(Ordering::SeqCst), 1, "cached");
        assert_eq!(known.has_position(11).await, Verdict::NotWritten);
        store.head.store(12, Ordering::SeqCst);
        assert_eq!(known.has_position(11).await, Verdict::Written);
        assert_eq!(store.head_reads.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn concurrent_forged_tokens_share_head_reads() {
        let (store, known) = known(10);
        let known = Arc::new(known);
        let checks: Vec<_> = (0..200)
            .map(|i| {
                let known = known.clone();
                tokio::spawn(async move { known.has_position(1_000 + i).await })
            })
            .collect();
        for check in checks {
            assert_eq!(check.await.unwrap(), Verdict::NotWritten);
        }
        let reads = store.head_reads.load(Ordering::SeqCst);
        assert!(reads <= 2, "{reads} head reads for 200 concurrent requests");
    }

    #[tokio::test]
    async fn a_store_that_cannot_be_read_proves_nothing() {
        let (store, known) = known(10);
        store.fail.store(true, Ordering::SeqCst);
        assert_eq!(known.has_position(11).await, Verdict::Unknown);
        store.fail.store(false, Ordering::SeqCst);
        assert_eq!(known.has_position(10).await, Verdict::Written);
    }

    #[tokio::test]
    async fn a_stream_version_is_checked_against_the_store() {
        let (_, known) = known(10);
        let wallet = StreamId::from_stored("wallet-1".to_owned());
        assert_eq!(known.has_version(&wallet, 3).await, Verdict::Written);
        assert_eq!(known.has_version(&wallet, 4).await, Verdict::NotWritten);
    }
}
