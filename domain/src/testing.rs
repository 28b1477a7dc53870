//! A tiny given/when/then harness for aggregates: `given(history).when(command)` runs
//! `decide` against the state folded from `history`, then `.then(events)` or
//! `.then_error(error)` checks the outcome. `.then(..)` returns the state after the new
//! events so a test can also check `reply`.

use super::{Aggregate, replay};
use std::fmt::Debug;

pub(crate) struct Given<A: Aggregate> {
    state: A,
}

pub(crate) fn given<A: Aggregate>(history: impl IntoIterator<Item = A::Event>) -> Given<A> {
    let history: Vec<A::Event> = history.into_iter().collect();
    Given {
        state: replay(A::default(), &history),
    }
}

/// Starts from a state built some other way (learned entries, a decoded snapshot).
pub(crate) fn given_state<A: Aggregate>(state: A) -> Given<A> {
    Given { state }
}

impl<A: Aggregate> Given<A> {
    pub(crate) fn when(self, command: A::Command) -> When<A> {
        let outcome = self.state.decide(&command);
        When {
            state: self.state,
            command,
            outcome,
        }
    }
}

pub(crate) struct When<A: Aggregate> {
    state: A,
    command: A::Command,
    outcome: Result<Vec<A::Event>, A::Error>,
}

impl<A: Aggregate> When<A>
where
    A::Event: Debug + PartialEq,
    A::Error: Debug + PartialEq,
{
    #[track_caller]
    pub(crate) fn then(self, expected: impl IntoIterator<Item = A::Event>) -> Then<A> {
        let expected: Vec<A::Event> = expected.into_iter().collect();
        match self.outcome {
            Ok(events) => {
                assert_eq!(events, expected, "unexpected events");
                Then {
                    state: replay(self.state, &events),
                    command: self.command,
                }
            }
            Err(error) => panic!("expected events {expected:?}, got error {error:?}"),
        }
    }

    #[track_caller]
    pub(crate) fn then_error(self, expected: A::Error) {
        match self.outcome {
            Ok(events) => panic!("expected error {expected:?}, got events {events:?}"),
            Err(error) => assert_eq!(error, expected, "unexpected error"),
        }
    }
}

pub(crate) struct Then<A: Aggregate> {
    pub(crate) state: A,
    command: A::Command,
}

impl<A: Aggregate> Then<A> {
    /// The reply the caller would get: computed from the state after the events.
    pub(crate) fn reply(&self) -> A::Reply {
        self.state.reply(&self.command)
    }
}
