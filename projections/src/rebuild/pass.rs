//! One pass of a rebuild over the store: batches after a position, up to the head the store
//! had when the pass began (or until it has no more, if the feed cannot tell its head), with
//! progress reported after each batch. Not further: under a swap's locks or pause, events
//! appended meanwhile are the live projectors' to apply, and chasing them would hold those
//! back for as long as appends go on.

use super::RebuildProgress;
use crate::EventFeed;
use crate::error::ProjectionError;
use events::RecordedEvent;

const READ_BATCH: usize = 5_000;

/// How far a rebuild has read: the last position applied, and the events read to get there.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Cursor {
    pub position: i64,
    pub events: u64,
}

pub(crate) struct Pass<'a> {
    feed: &'a dyn EventFeed,
    head: Option<i64>,
    progress: &'a (dyn Fn(RebuildProgress) + Sync),
}

impl<'a> Pass<'a> {
    pub(crate) async fn begin(
        feed: &'a dyn EventFeed,
        progress: &'a (dyn Fn(RebuildProgress) + Sync),
    ) -> Self {
        let head = feed.head().await;
        Self {
            feed,
            head,
            progress,
        }
    }

    /// The next batch after `cursor`, or `None` once the pass is through.
    pub(crate) async fn next(
        &self,
        cursor: &Cursor,
    ) -> Result<Option<Vec<RecordedEvent>>, ProjectionError> {
        if self.head.is_some_and(|head| cursor.position >= head) {
            return Ok(None);
        }
        let batch = self.feed.read_after(cursor.position, READ_BATCH).await?;
        Ok((!batch.is_empty()).then_some(batch))
    }

    /// Moves `cursor` past `batch`, once it is applied, and reports it.
    pub(crate) fn applied(&self, cursor: &mut Cursor, batch: &[RecordedEvent]) {
        if let Some(last) = batch.last() {
            cursor.position = last.global_position;
        }
        cursor.events += batch.len() as u64;
        (self.progress)(RebuildProgress {
            position: cursor.position,
            head: self.head,
            events: cursor.events,
        });
    }
}
