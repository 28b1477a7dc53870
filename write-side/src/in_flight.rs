//! Which work is running in this process, by key: the orders a saga driver is working on
//! (the recovery scan, and a repeat of a keyed placement, leave them to it) and the
//! idempotency keys whose first request is running (a repeat is answered 409 meanwhile).
//!
//! A mark is a guard: it goes when the guard is dropped, whether its holder returned,
//! panicked or was cancelled (its future dropped). A mark that outlived its holder would
//! keep the key marked for as long as the process runs.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Marks per key. Counted: two drivers in one process may drive one order at once (a keyed
/// repeat that saw no driver, the recovery scan), and the first to finish must not unmark
/// it for the other.
#[derive(Debug)]
pub struct InFlight<K> {
    marks: Arc<Mutex<HashMap<K, usize>>>,
}

impl<K> Default for InFlight<K> {
    fn default() -> Self {
        Self {
            marks: Arc::default(),
        }
    }
}

impl<K> Clone for InFlight<K> {
    fn clone(&self) -> Self {
        Self {
            marks: self.marks.clone(),
        }
    }
}

impl<K: Eq + Hash + Clone> InFlight<K> {
    /// Marks `key` until the guard is dropped.
    pub fn enter(&self, key: K) -> Mark<K> {
        *self.lock().entry(key.clone()).or_insert(0) += 1;
        self.mark(key)
    }

    /// Marks `key` if nothing else has it marked; `None` if something does.
    pub fn enter_alone(&self, key: K) -> Option<Mark<K>> {
        let mut marks = self.lock();
        if marks.contains_key(&key) {
            return None;
        }
        marks.insert(key.clone(), 1);
        drop(marks);
        Some(self.mark(key))
    }

    pub fn contains(&self, key: &K) -> bool {
        self.lock().contains_key(key)
    }

    fn mark(&self, key: K) -> Mark<K> {
        Mark {
            marks: self.marks.clone(),
            key,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, usize>> {
        lock(&self.marks)
    }
}

fn lock<K>(marks: &Mutex<HashMap<K, usize>>) -> MutexGuard<'_, HashMap<K, usize>> {
    // The map holds plain counts, each changed in one step: a panic while holding it
    // cannot leave it inconsistent.
    marks.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One holder's mark on a key; see `InFlight`.
#[derive(Debug)]
pub struct Mark<K: Eq + Hash> {
    marks: Arc<Mutex<HashMap<K, usize>>>,
    key: K,
}

impl<K: Eq + Hash> Drop for Mark<K> {
    fn drop(&mut self) {
        let mut marks = lock(&self.marks);
        if let Some(count) = marks.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                marks.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use events::OrderId;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    fn order(n: i64) -> OrderId {
        OrderId::new(n).expect("positive id")
    }

    /// A driver that marks the order, then waits forever (until cancelled).
    async fn driver(in_flight: &InFlight<OrderId>, order_id: OrderId) {
        let _driving = in_flight.enter(order_id);
        std::future::pending::<()>().await;
    }

    #[test]
    fn a_finished_driver_leaves_no_mark() {
        let in_flight = InFlight::<OrderId>::default();
        {
            let _driving = in_flight.enter(order(1));
            assert!(in_flight.contains(&order(1)));
        }
        assert!(!in_flight.contains(&order(1)));
    }

    #[test]
    fn a_cancelled_driver_leaves_no_mark() {
        let in_flight = InFlight::<OrderId>::default();
        {
            let mut driving = pin!(driver(&in_flight, order(1)));
            let mut context = Context::from_waker(Waker::noop());
            assert_eq!(driving.as_mut().poll(&mut context), Poll::Pending);
            assert!(in_flight.contains(&order(1)));
            // Dropping the future here is what a timeout or an aborted task does.
        }
        assert!(!in_flight.contains(&order(1)));
    }

    #[test]
    fn a_panicking_driver_leaves_no_mark() {
        let in_flight = InFlight::<OrderId>::default();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _driving = in_flight.enter(order(1));
            panic!("a driver's bug");
        }));
        assert!(panicked.is_err());
        assert!(!in_flight.contains(&order(1)));
        // And the map still works after the unwind.
        let _driving = in_flight.enter(order(2));
        assert!(in_flight.contains(&order(2)));
    }

    #[test]
    fn the_order_stays_marked_until_its_last_driver_here_is_done() {
        let in_flight = InFlight::<OrderId>::default();
        let first = in_flight.enter(order(1));
        let second = in_flight.enter(order(1));
        drop(first);
        assert!(in_flight.contains(&order(1)));
        drop(second);
        assert!(!in_flight.contains(&order(1)));
    }

    #[test]
    fn an_alone_mark_is_refused_while_another_holds_the_key() {
        let in_flight = InFlight::<(String, String)>::default();
        let key = ("user:1 placeOrder".to_owned(), "k".to_owned());
        let first = in_flight.enter_alone(key.clone()).expect("first");
        assert!(in_flight.enter_alone(key.clone()).is_none());
        drop(first);
        assert!(in_flight.enter_alone(key).is_some());
    }
}
