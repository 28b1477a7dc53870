//! The executor's mailboxes by stream: a sharded map (dashmap) that each mailbox task
//! leaves by itself once it has been idle for `idle_eviction`.
//!
//! It replaced a moka cache. Most streams (an order's, a new wallet's) see a command or two
//! and are gone, so each one was an insert, a frequency-sketch update and an eviction in
//! moka's housekeeping: `Cache::get_with` was 6.8 % of the command API's CPU in the order
//! row's profile. Here a held stream is one shard read lock and a `try_send`; a new one is
//! one shard write lock and a spawn.
//!
//! Sending under the shard's read lock is what makes leaving safe: a task takes its entry
//! out under the write lock, so a job is either queued before that (the task closes its
//! queue and still decides everything in it) or finds no entry and starts a new mailbox.

use super::{Job, Shared, mailbox};
use crate::domain::Aggregate;
use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use events::StreamId;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use tokio::sync::mpsc;

pub(super) struct Registry<A: Aggregate> {
    mailboxes: DashMap<StreamId, Held<A>, foldhash::fast::RandomState>,
    /// Entries in `mailboxes`, kept apart: `DashMap::len` read-locks every shard, which
    /// would deadlock under the write lock of an insert.
    held: AtomicUsize,
    /// Tells a task's own entry from one that replaced it.
    next_id: AtomicU64,
    capacity: usize,
}

struct Held<A: Aggregate> {
    id: u64,
    sender: mpsc::Sender<Box<Job<A>>>,
}

/// What became of a job: queued, or why not (every other case but `Full` hands it back).
pub(super) enum Sent<A: Aggregate> {
    /// Queued behind `depth` others.
    Queued { depth: usize },
    /// The stream's queue is full: the caller is told the service is overloaded.
    Full,
    /// `capacity` streams are held already: the caller decides this one directly.
    AtCapacity(Job<A>),
    /// The mailbox's task has ended (it panicked, or the executor is draining).
    Closed(Job<A>),
}

impl<A: Aggregate> Registry<A> {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            mailboxes: DashMap::with_hasher(crate::memo::hasher()),
            held: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
            capacity,
        }
    }

    /// Queues `job` on `stream`'s mailbox, starting one from `start` if none is held.
    pub(super) fn send(
        self: &Arc<Self>,
        shared: &Arc<Shared>,
        stream: &StreamId,
        job: Job<A>,
        start: impl FnOnce() -> Option<super::hydrate::Hydrated<A>>,
    ) -> Sent<A> {
        if let Some(held) = self.mailboxes.get(stream) {
            return send_to(&held, job);
        }
        match self.mailboxes.entry(stream.clone()) {
            Entry::Occupied(held) => send_to(held.get(), job),
            Entry::Vacant(vacant) => {
                if self.held.load(Ordering::Relaxed) >= self.capacity {
                    return Sent::AtCapacity(job);
                }
                let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                let sender =
                    mailbox::spawn(shared.clone(), self.clone(), id, stream.clone(), start());
                self.held.fetch_add(1, Ordering::Relaxed);
                let held = vacant.insert(Held { id, sender });
                send_to(&held, job)
            }
        }
    }

    /// Called by mailbox `id` when it has been idle or has ended: takes its entry out if it
    /// is still the one held for `stream`.
    pub(super) fn leave(&self, stream: &StreamId, id: u64) {
        self.remove_if(stream, |held| held.id == id);
    }

    /// Takes out the entry whose task has ended, so the next send starts a new one.
    pub(super) fn forget_closed(&self, stream: &StreamId) {
        self.remove_if(stream, |held| held.sender.is_closed());
    }

    fn remove_if(&self, stream: &StreamId, matches: impl FnOnce(&Held<A>) -> bool) {
        if self
            .mailboxes
            .remove_if(stream, |_, held| matches(held))
            .is_some()
        {
            self.held.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// At shutdown: drops every sender (each task then decides what it has queued and ends).
    pub(super) fn clear(&self) {
        self.mailboxes.retain(|_, _| {
            self.held.fetch_sub(1, Ordering::Relaxed);
            false
        });
    }

    pub(super) fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }
}

fn send_to<A: Aggregate>(held: &Held<A>, job: Job<A>) -> Sent<A> {
    let depth = held.sender.max_capacity() - held.sender.capacity();
    match held.sender.try_send(Box::new(job)) {
        Ok(()) => Sent::Queued { depth },
        Err(mpsc::error::TrySendError::Full(_)) => Sent::Full,
        Err(mpsc::error::TrySendError::Closed(job)) => Sent::Closed(*job),
    }
}
