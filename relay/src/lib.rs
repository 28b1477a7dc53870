//! The outbox relay (`shop relay`): publishes every appended event to Kafka, at least once,
//! in stream order, none skipped. The event store's global positions are commit-ordered,
//! so "read after the checkpoint" never misses a late commit; the checkpoint moves only
//! after Kafka acknowledged everything before it. Several relays may run; a leader lock
//! lets one publish at a time. The Kafka contract is in docs/events.md.
//!
//! ```ignore
//! let lock = MySqlLeaderLock::new(store.pool().clone(), &config.reader);
//! relay::run(store, Box::new(lock), config, shutdown).await?;
//! ```

mod config;
mod message;
mod publisher;
mod runner;

pub use config::RelayConfig;
pub use event_store::leader::{LeaderLock, LockError, MySqlLeaderLock, NoLeaderLock};
pub use message::{MessageError, OutgoingMessage, Topics};
pub use publisher::PublishError;
pub use runner::{Relay, RelayProgress};

use event_store::{EventStore, StoreError};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("invalid relay configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Message(#[from] MessageError),
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error(transparent)]
    Lock(#[from] LockError),
}

impl RelayError {
    /// Failures no retry can cure; everything else ends a leader's term and is retried.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            RelayError::Config(_) | RelayError::Publish(PublishError::Create(_))
        )
    }
}

/// Runs a relay until `shutdown` is cancelled. Use `Relay::new(..)?.progress()` first
/// to watch the published position.
pub async fn run(
    store: Arc<dyn EventStore>,
    lock: Box<dyn LeaderLock>,
    config: RelayConfig,
    shutdown: CancellationToken,
) -> Result<(), RelayError> {
    Relay::new(store, lock, config)?.run(shutdown).await
}
