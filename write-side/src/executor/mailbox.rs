//! One task per hot aggregate: it owns the hydrated state and drains its queue in batches.

use super::hydrate::Hydrated;
use super::{Job, Shared, batch};
use crate::domain::Aggregate;
use events::StreamId;
use std::sync::Arc;
use tokio::sync::mpsc;

/// `hydrated` is where the task starts: `None` loads the stream on the first batch.
pub(super) fn spawn<A: Aggregate>(
    shared: Arc<Shared>,
    stream: StreamId,
    hydrated: Option<Hydrated<A>>,
) -> mpsc::Sender<Job<A>> {
    let (sender, mut receiver) = mpsc::channel::<Job<A>>(shared.config.mailbox_capacity);
    tokio::spawn(async move {
        let max_batch = shared.config.max_batch;
        let mut hydrated = hydrated;
        let mut jobs = Vec::with_capacity(max_batch);
        while receiver.recv_many(&mut jobs, max_batch).await > 0 {
            batch::run(&shared, &stream, &mut hydrated, &mut jobs).await;
        }
        tracing::debug!(%stream, "mailbox closed");
    });
    sender
}
