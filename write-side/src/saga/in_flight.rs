//! Which orders a driver in this process is working on, so the recovery scan (and a
//! repeat of a keyed placement) leaves them to it.
//!
//! A mark is a guard: it goes when the guard is dropped, whether the driver returned,
//! panicked or was cancelled (its future dropped). A mark that outlived its driver would
//! keep the recovery scan away from the order for as long as the process runs.

use events::OrderId;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Drivers per order: two in one process may drive one order at once (a keyed repeat
/// that saw no driver, the recovery scan), and the first to finish must not unmark it
/// for the other.
#[derive(Debug, Default)]
pub(super) struct InFlight {
    drivers: Mutex<HashMap<OrderId, usize>>,
}

impl InFlight {
    /// Marks `order_id` until the guard is dropped.
    pub(super) fn enter(&self, order_id: OrderId) -> Driving<'_> {
        *self.lock().entry(order_id).or_insert(0) += 1;
        Driving {
            in_flight: self,
            order_id,
        }
    }

    pub(super) fn contains(&self, order_id: OrderId) -> bool {
        self.lock().contains_key(&order_id)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<OrderId, usize>> {
        // The map holds plain counts, each changed in one step: a panic while holding
        // it cannot leave it inconsistent.
        self.drivers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One driver's mark on an order; see `InFlight`.
#[derive(Debug)]
pub(super) struct Driving<'a> {
    in_flight: &'a InFlight,
    order_id: OrderId,
}

impl Drop for Driving<'_> {
    fn drop(&mut self) {
        let mut drivers = self.in_flight.lock();
        if let Some(count) = drivers.get_mut(&self.order_id) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                drivers.remove(&self.order_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    fn order(n: i64) -> OrderId {
        OrderId::new(n).expect("positive id")
    }

    /// A driver that marks the order, then waits forever (until cancelled).
    async fn driver(in_flight: &InFlight, order_id: OrderId) {
        let _driving = in_flight.enter(order_id);
        std::future::pending::<()>().await;
    }

    #[test]
    fn a_finished_driver_leaves_no_mark() {
        let in_flight = InFlight::default();
        {
            let _driving = in_flight.enter(order(1));
            assert!(in_flight.contains(order(1)));
        }
        assert!(!in_flight.contains(order(1)));
    }

    #[test]
    fn a_cancelled_driver_leaves_no_mark() {
        let in_flight = InFlight::default();
        {
            let mut driving = pin!(driver(&in_flight, order(1)));
            let mut context = Context::from_waker(Waker::noop());
            assert_eq!(driving.as_mut().poll(&mut context), Poll::Pending);
            assert!(in_flight.contains(order(1)));
            // Dropping the future here is what a timeout or an aborted task does.
        }
        assert!(!in_flight.contains(order(1)));
    }

    #[test]
    fn a_panicking_driver_leaves_no_mark() {
        let in_flight = InFlight::default();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _driving = in_flight.enter(order(1));
            panic!("a driver's bug");
        }));
        assert!(panicked.is_err());
        assert!(!in_flight.contains(order(1)));
        // And the map still works after the unwind.
        let _driving = in_flight.enter(order(2));
        assert!(in_flight.contains(order(2)));
    }

    #[test]
    fn the_order_stays_marked_until_its_last_driver_here_is_done() {
        let in_flight = InFlight::default();
        let first = in_flight.enter(order(1));
        let second = in_flight.enter(order(1));
        drop(first);
        assert!(in_flight.contains(order(1)));
        drop(second);
        assert!(!in_flight.contains(order(1)));
    }
}
