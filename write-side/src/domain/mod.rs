//! Aggregates as pure functions: `decide` turns a command into events against the current
//! state, `evolve` folds an event into the state. No I/O here; the executor does that.

pub mod coupon;
pub mod order;
pub mod product;
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
    type Reply: Send + 'static;

    /// Bumped whenever the state's shape changes, so older snapshots are ignored.
    const SNAPSHOT_VERSION: u16;

    /// The aggregate type, as metrics label it (`wallet`, `coupon`, ...).
    const NAME: &'static str;

    /// The command's name, as metrics label it (`issue`, `reserve`, ...).
    fn command_name(command: &Self::Command) -> &'static str;

    fn decide(&self, command: &Self::Command) -> Result<Vec<Self::Event>, Self::Error>;
    fn evolve(self, event: &Self::Event) -> Self;
    fn reply(&self, command: &Self::Command) -> Self::Reply;
}

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
