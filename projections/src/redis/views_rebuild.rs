//! Blue/green rebuild of every Redis hot view of the `redis-views` projection, while the
//! live projector keeps running and readers keep reading the old views until each one is
//! replaced.
//!
//! 1. Replay the whole store through the projector's own path (`ViewUpdate::of` and the
//!    script, `apply.rs`) under the shadow prefix `{p}rebuild:`, after deleting whatever a
//!    crashed rebuild left there. There is no second fold of the events to drift apart
//!    from the projector's.
//! 2. Raise the pause flag `{p}views:rebuilding`: the script then holds every live view
//!    update back, so each event the projector applied is in the store by now.
//! 3. Replay the rest into the shadow, up to the store's head as of then, keeping the
//!    flag up.
//! 4. Swap (`views_swap.rs`): rename each shadow key onto its live name, delete live view
//!    keys without a counterpart, in bounded MULTI/EXEC steps; the last one marks the
//!    ranking ready and drops the flag. The projector retries its held-back batch; the
//!    version guard (`v`) passes over what the copy already holds and applies the rest.
//!
//! A failure before the swap drops the flag (the projector goes on at once over the
//! untouched live views) and the copy.

use super::apply::apply_updates;
use super::sink::CATEGORIES;
use super::view_update::ViewUpdate;
use super::views_swap::{Pause, delete_matching, glob_escape, swap_in};
use super::{RedisViews, keys};
use crate::envelope::decode;
use crate::error::ProjectionError;
use crate::rebuild::{Cursor, Pass, RebuildProgress};
use crate::{Envelope, EventFeed};
use ::redis::AsyncConnectionConfig;
use ::redis::aio::MultiplexedConnection;
use chrono_tz::Tz;
use events::RecordedEvent;
use std::time::{Duration, Instant};

/// A pipeline of one read batch's script calls (5,000 updates) or a swap step of thousands of
/// commands takes longer than the client's default half second on a busy server.
pub(super) const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);
pub(super) const CONNECTION_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct ViewsRebuildReport {
    /// Events read from the store.
    pub events: u64,
    /// Rebuilt keys renamed onto their live names.
    pub keys_swapped: usize,
    /// Live view keys the rebuilt copy had no counterpart for, deleted.
    pub stale_keys_removed: usize,
    /// The global position the swapped-in views were exact at; the live projector goes on
    /// from there.
    pub position: i64,
    pub elapsed: Duration,
}

impl ViewsRebuildReport {
    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Rebuilds every hot view under `views`' prefix from `feed` and swaps the copy in.
/// `timezone` decides a sale's day, as for the live projector.
pub async fn rebuild_redis_views(
    views: &RedisViews,
    feed: &dyn EventFeed,
    timezone: Tz,
    progress: &(dyn Fn(RebuildProgress) + Sync),
) -> Result<ViewsRebuildReport, ProjectionError> {
    let started = Instant::now();
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECTION_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT));
    let mut connection = views
        .client()
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(ProjectionError::redis("connect"))?;
    let prefix = views.prefix();
    let mut replay = ShadowReplay {
        prefix: keys::shadow_prefix(prefix),
        timezone,
        cursor: Cursor::default(),
    };
    let copy = format!("{}*", glob_escape(&replay.prefix));
    // A copy left by a crashed rebuild may hold keys this replay would not make (from
    // other code or another store): none of it may be renamed in.
    delete_matching(&mut connection, &copy).await?;

    let filled = async {
        replay
            .catch_up(&mut connection, feed, progress, None)
            .await?;
        Pause::raise(&mut connection, prefix).await
    }
    .await;
    let pause = match filled {
        Ok(pause) => pause,
        Err(error) => {
            discard(&mut connection, &copy).await;
            return Err(error);
        }
    };
    let swapped = async {
        replay
            .catch_up(&mut connection, feed, progress, Some(&pause))
            .await?;
        swap_in(&mut connection, prefix, &pause).await
    }
    .await;
    match swapped {
        Ok(swapped) => Ok(ViewsRebuildReport {
            events: replay.cursor.events,
            keys_swapped: swapped.renamed,
            stale_keys_removed: swapped.stale,
            position: replay.cursor.position,
            elapsed: started.elapsed(),
        }),
        Err(error) => {
            // The live views are untouched unless a swap step already ran: then those
            // keys are the copy's, exact at its position, and the projector goes on from
            // them; the ranking's ready marker stays down (readers rank from SQL) until a
            // rebuild completes.
            pause.lower(&mut connection).await;
            discard(&mut connection, &copy).await;
            Err(error)
        }
    }
}

/// Deletes the copy after a failure. Best effort: the next rebuild deletes it first.
async fn discard(connection: &mut MultiplexedConnection, copy: &str) {
    if let Err(error) = delete_matching(connection, copy).await {
        tracing::warn!(%error, "could not delete the rebuild's copy; the next rebuild will");
    }
}

/// The copy under the shadow prefix, as of `cursor`.
struct ShadowReplay {
    prefix: String,
    timezone: Tz,
    cursor: Cursor,
}

impl ShadowReplay {
    /// Applies what the store holds after `self.cursor` to the copy, up to its head
    /// (`rebuild/pass.rs`). With `pause`, keeps the flag up after every batch.
    async fn catch_up(
        &mut self,
        connection: &mut MultiplexedConnection,
        feed: &dyn EventFeed,
        progress: &(dyn Fn(RebuildProgress) + Sync),
        pause: Option<&Pause>,
    ) -> Result<(), ProjectionError> {
        let pass = Pass::begin(feed, progress).await;
        while let Some(batch) = pass.next(&self.cursor).await? {
            // Outcomes other than "applied" are what the live projector gets for the same
            // events (a view that does not exist yet, a stream whose start is missing).
            apply_updates(connection, &self.updates(&batch)?).await?;
            if let Some(pause) = pause {
                pause.hold(connection).await?;
            }
            pass.applied(&mut self.cursor, &batch);
        }
        Ok(())
    }

    /// The updates `batch` makes to the copy, as the live projector would make them.
    fn updates(&self, batch: &[RecordedEvent]) -> Result<Vec<ViewUpdate>, ProjectionError> {
        let mut updates = Vec::with_capacity(batch.len());
        for recorded in batch {
            if !CATEGORIES.contains(&recorded.stream_id.category()) {
                continue;
            }
            updates.extend(ViewUpdate::of(
                &self.prefix,
                self.timezone,
                &Envelope::from(recorded),
                &decode(recorded)?,
            ));
        }
        Ok(updates)
    }
}
