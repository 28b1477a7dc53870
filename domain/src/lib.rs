//! Aggregates as pure functions: `decide` turns a command into events against the current
//! state, `evolve` folds an event into the state. No I/O here; the executor does that.

pub mod coupon;
pub mod entries;
pub mod order;
pub mod product;
pub mod snapshot;
pub mod wallet;

#[cfg(test)]
mod testing;

use serde::{Serialize, de::DeserializeOwned};

pub trait Aggregate: Default + Serialize + DeserializeOwned + Send + Sync + 'static {
    type Command: Send + 'static;
    type Event: StreamEvent;
    type Error: std::error::Error + Clone + Send + Sync + 'static;
    /// What the caller of a command learns, read from the state right after the
    /// command's events were applied (also for commands that produced no events).
    /// Serializable: the reply to a command sent with an idempotency key is recorded and
    /// answered again to its repeats.
    type Reply: Serialize + DeserializeOwned + Send + 'static;

    /// Bumped whenever the state's shape changes, so older snapshots are ignored (a
    /// shape changed without a bump is caught by the snapshot's fingerprint, `snapshot`).
    const SNAPSHOT_VERSION: u16;

    /// The aggregate type, as metrics label it (`wallet`, `coupon`, ...).
    const NAME: &'static str;

    /// The command's name, as metrics label it (`issue`, `reserve`, ...).
    fn command_name(command: &Self::Command) -> &'static str;

    fn decide(&self, command: &Self::Command) -> Result<Vec<Self::Event>, Self::Error>;
    fn evolve(self, event: &Self::Event) -> Self;
    fn reply(&self, command: &Self::Command) -> Self::Reply;

    // Keyed entries (`entries`): aggregates whose state would grow with their keys keep
    // that part in the store; the rest need none of these.

    /// Keys of stored entries `decide` needs for `command` that the state does not know.
    fn missing_entries(&self, _command: &Self::Command) -> Vec<String> {
        Vec::new()
    }

    /// Tells the state what the store holds under `key` (`None`: nothing).
    fn learn(&mut self, key: &str, _stored: Option<&[u8]>) -> Result<(), EntryError> {
        Err(EntryError(key.to_owned()))
    }

    /// The entries written since the last call, to store with the events that wrote them.
    fn take_entries(&mut self) -> Vec<entries::EntryWrite> {
        Vec::new()
    }

    /// Drops known entries past the aggregate's bound (after each committed batch).
    fn forget(&mut self) {}

    /// Traces, one by one, the enums the state holds, before the snapshot fingerprint
    /// traces the state (`snapshot::fingerprint`): the tracer explores an enum behind an
    /// `Option` or in a collection only once, so it cannot find all their variants from
    /// the state alone. One left out makes the fingerprint an error, not a weaker one.
    fn trace_enums(_tracer: &mut serde_reflection::Tracer) -> serde_reflection::Result<()> {
        Ok(())
    }
}

/// A stored entry this aggregate does not recognise, or whose value does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable entry {0}")]
pub struct EntryError(pub String);

/// An aggregate's event enum, as the store needs it.
pub trait StreamEvent: Clone + Send + Sync + 'static {
    fn encode(&self) -> Result<events::EncodedEvent, events::CodecError>;
    fn decode(event_type: &str, version: u16, bytes: &[u8]) -> Result<Self, events::CodecError>;
}

macro_rules! stream_event {
    ($($event:ty),*) => {$(
        impl StreamEvent for $event {
            fn encode(&self) -> Result<events::EncodedEvent, events::CodecError> {
                <$event>::encode(self)
            }
            fn decode(event_type: &str, version: u16, bytes: &[u8]) -> Result<Self, events::CodecError> {
                <$event>::decode(event_type, version, bytes)
            }
        }
    )*};
}

stream_event!(
    events::WalletEvent,
    events::ProductEvent,
    events::CouponEvent,
    events::OrderEvent
);

/// Folds events into a state, for loading and for tests.
pub fn replay<'a, A: Aggregate>(state: A, events: impl IntoIterator<Item = &'a A::Event>) -> A {
    events.into_iter().fold(state, A::evolve)
}
