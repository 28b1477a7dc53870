//! One task per hot aggregate: it owns the hydrated state and drains its queue in batches.

use super::{Job, Shared, batch};
use crate::domain::Aggregate;
use events::StreamId;
use std::sync::Arc;
use tokio::sync::mpsc;

pub(super) fn spawn<A: Aggregate>(shared: Arc<Shared>, stream: StreamId) -> mpsc::Sender<Job<A>> {
    let (sender, mut receiver) = mpsc::channel::<Job<A>>(shared.config.mailbox_capacity);
    tokio::spawn(async move {
        let max_batch = shared.config.max_batch;
        let mut hydrated = None;
        let mut jobs = Vec::with_capacity(max_batch);
        while receiver.recv_many(&mut jobs, max_batch).await > 0 {
            batch::run(&shared, &stream, &mut hydrated, &mut jobs).await;
        }
        tracing::debug!(%stream, "mailbox closed");
    });
    sender
}
