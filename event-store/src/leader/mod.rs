//! Who leads a singleton background job (the relay, the order saga's recovery scan).
//! Several processes may run one for availability; only the holder of the leader lock
//! works. The lock is an optimisation, not what makes either job correct: two relay
//! leaders at once (one that has not yet noticed it lost the lock) only publish
//! duplicates, which consumers drop by stream version, and two recovery scans only send
//! idempotent saga steps twice.

mod mysql;

pub use mysql::MySqlLeaderLock;
pub(crate) use mysql::named_lock;

use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("leader lock {operation} failed: {source}")]
    Database {
        operation: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("leader lock {operation} timed out")]
    Timeout { operation: &'static str },
    #[error("leader lock {name:?} is no longer held by this process")]
    Lost { name: String },
}

#[async_trait]
pub trait LeaderLock: Send + 'static {
    /// Tries once, without waiting, to become the leader. `Ok(true)`: this process leads
    /// until it calls `release` or `confirm` fails.
    async fn try_acquire(&mut self) -> Result<bool, LockError>;

    /// Succeeds while this process still holds the lock. After an error leadership is
    /// lost: the caller must stop publishing and go back to `try_acquire`.
    async fn confirm(&mut self) -> Result<(), LockError>;

    /// Gives leadership up; does nothing when it is not held.
    async fn release(&mut self);
}

/// For a single relay (the embedded all-in-one process): always the leader.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoLeaderLock;

#[async_trait]
impl LeaderLock for NoLeaderLock {
    async fn try_acquire(&mut self) -> Result<bool, LockError> {
        Ok(true)
    }

    async fn confirm(&mut self) -> Result<(), LockError> {
        Ok(())
    }

    async fn release(&mut self) {}
}
