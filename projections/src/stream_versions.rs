//! `projected_streams`: the last version of each stream a projection applied. Loaded at
//! the start of a batch's transaction, advanced as its events apply, and written back at
//! the end with a compare-and-set, so an event delivered twice applies once and two
//! projectors racing on one stream (a partition changing hands) cannot both apply it.
//!
//! Streams the projection remembers (`KnownVersions`) are not loaded: the compare-and-set
//! at the end catches a remembered version that is stale. Nor, while deliveries are fresh
//! (the caller's `NewStreams::Assumed`), are streams the batch starts at version 1: under a
//! rush those are new orders, and their first insert is what proves them new, since a
//! stream already recorded fails it on the primary key.
//!
//! Loads and compare-and-sets go many streams per statement. Their lists are padded to a
//! few fixed lengths (repeating the last stream changes nothing), so the statements stay
//! in sqlx's prepared-statement cache: a one-off statement is closed right after use, and
//! on MySQL that close (which gets no reply) stalls the next command by a delayed ACK,
//! about 40 ms, every batch.

use crate::bulk::{self, MAX_LIST, padded};
use crate::error::ProjectionError;
use crate::known_versions::KnownVersions;
use sqlx::{Any, AnyConnection, QueryBuilder};
use std::collections::{BTreeMap, HashMap};

struct Tracked {
    stored: Option<i64>,
    current: i64,
}

/// Whether a stream that is not remembered and that a batch starts at version 1 is taken
/// for new without loading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NewStreams {
    /// Taken for new: an insert that finds it recorded fails the batch
    /// (`ProjectionError::StreamRecordedAlready`), which is then retried with `Loaded`.
    Assumed,
    /// Loaded like any other: after a failure, or while Kafka is redelivering.
    Loaded,
}

pub(crate) struct StreamVersions {
    projection: &'static str,
    streams: HashMap<String, Tracked>,
}

impl StreamVersions {
    /// The versions of the streams of `events` (stream, version; in delivery order) for
    /// `projection`: those `known` remembers, those `new_streams` lets it take for new, and
    /// the others loaded from `projected_streams`.
    pub(crate) async fn load<'a>(
        tx: &mut AnyConnection,
        projection: &'static str,
        known: &KnownVersions,
        new_streams: NewStreams,
        events: impl IntoIterator<Item = (&'a str, i64)>,
    ) -> Result<Self, ProjectionError> {
        let mut streams: HashMap<String, Tracked> = HashMap::new();
        let mut ids = Vec::new();
        for (id, version) in events {
            if streams.contains_key(id) {
                continue;
            }
            // Only the stream's first event in the batch decides: one first seen above
            // version 1 is loaded, whatever comes after it (a redelivery going back).
            let remembered = known.get(id);
            if remembered.is_none() && !(new_streams == NewStreams::Assumed && version == 1) {
                ids.push(id.to_owned());
            }
            streams.insert(
                id.to_owned(),
                Tracked {
                    stored: remembered,
                    current: remembered.unwrap_or(0),
                },
            );
        }
        for chunk in ids.chunks(MAX_LIST) {
            let mut query = QueryBuilder::<Any>::new(
                "SELECT stream_id, version FROM projected_streams WHERE projection = ",
            );
            query.push_bind(projection).push(" AND stream_id IN (");
            let mut list = query.separated(", ");
            for id in padded(chunk) {
                list.push_bind(id.clone());
            }
            query.push(")");
            let rows: Vec<(String, i64)> = query
                .build_query_as()
                .fetch_all(&mut *tx)
                .await
                .map_err(ProjectionError::db("load stream versions"))?;
            for (id, version) in rows {
                if let Some(tracked) = streams.get_mut(&id) {
                    tracked.stored = Some(version);
                    tracked.current = version;
                }
            }
        }
        Ok(Self {
            projection,
            streams,
        })
    }

    /// Whether the event at `version` of `stream_id` is new to this projection; if so it
    /// counts as applied from now on. Streams not passed to `load` are never admitted.
    pub(crate) fn admit(&mut self, stream_id: &str, version: i64) -> bool {
        let Some(tracked) = self.streams.get_mut(stream_id) else {
            return false;
        };
        if version <= tracked.current {
            return false;
        }
        if version != tracked.current + 1 {
            // Earlier versions are missing. An idempotent producer can lose a message
            // and still deliver later ones; the relay then republishes the stream from
            // its checkpoint, in order. Waiting for that resend keeps the earlier events
            // from being mistaken for redeliveries once this one is applied.
            tracing::warn!(
                projection = self.projection,
                stream_id,
                expected = tracked.current + 1,
                got = version,
                "stream version arrived before its predecessors; skipped until resent"
            );
            return false;
        }
        tracked.current = version;
        true
    }

    /// Writes the advanced versions back, failing if another projector moved a stream
    /// since `load` (the caller's transaction then rolls back and is retried). Returns every
    /// stream's version as stored once the transaction commits, to remember.
    pub(crate) async fn save(
        self,
        tx: &mut AnyConnection,
    ) -> Result<Vec<(String, i64)>, ProjectionError> {
        let mut moved = Vec::new();
        let mut first_seen = Vec::new();
        let mut stored = Vec::with_capacity(self.streams.len());
        for (stream_id, tracked) in self.streams {
            if tracked.current > 0 {
                stored.push((stream_id.clone(), tracked.current));
            }
            match tracked.stored {
                Some(stored) if stored != tracked.current => {
                    moved.push((stream_id, stored, tracked.current));
                }
                Some(_) => {}
                // A racing insert of the same key fails on the primary key, which rolls
                // this batch back just like a lost compare-and-set. Under load nearly
                // every order is a new stream, so these go many rows per statement.
                None if tracked.current > 0 => first_seen.push((stream_id, tracked.current)),
                None => {}
            }
        }
        // One order of keys for every writer, so two batches cannot lock them crosswise.
        first_seen.sort_unstable();
        let projection = self.projection;
        bulk::insert_rows(
            tx,
            "INSERT INTO projected_streams (projection, stream_id, version) ",
            &first_seen,
            |mut row, (stream_id, version)| {
                row.push_bind(projection)
                    .push_bind(stream_id.clone())
                    .push_bind(*version);
            },
            "record stream versions",
        )
        .await
        .map_err(|error| match error {
            ProjectionError::Database { source, .. } if is_unique_violation(&source) => {
                ProjectionError::StreamRecordedAlready { projection }
            }
            other => other,
        })?;
        for chunk in moved.chunks(MAX_LIST) {
            compare_and_set(tx, self.projection, chunk).await?;
        }
        Ok(stored)
    }
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|error| error.is_unique_violation())
}

/// Records `versions` (stream -> version) for `projection`, which must have no rows yet
/// (a rebuild cleared them in the same transaction).
pub(crate) async fn insert_versions(
    tx: &mut AnyConnection,
    projection: &'static str,
    versions: &BTreeMap<String, i64>,
) -> Result<(), ProjectionError> {
    let rows: Vec<(&String, &i64)> = versions.iter().collect();
    bulk::insert_rows(
        tx,
        "INSERT INTO projected_streams (projection, stream_id, version) ",
        &rows,
        |mut row, (stream_id, version)| {
            row.push_bind(projection)
                .push_bind((*stream_id).clone())
                .push_bind(**version);
        },
        "record stream versions",
    )
    .await
}

/// Moves each `(stream, stored, new)` from `stored` to `new` in one statement; every row
/// must still hold `stored`, or the statement matches fewer rows than it names.
async fn compare_and_set(
    tx: &mut AnyConnection,
    projection: &'static str,
    streams: &[(String, i64, i64)],
) -> Result<(), ProjectionError> {
    let mut query =
        QueryBuilder::<Any>::new("UPDATE projected_streams SET version = CASE stream_id");
    for (stream_id, _, new) in padded(streams) {
        query
            .push(" WHEN ")
            .push_bind(stream_id.clone())
            .push(" THEN ")
            .push_bind(*new);
    }
    query
        .push(" END WHERE projection = ")
        .push_bind(projection)
        .push(" AND (");
    for (i, (stream_id, stored, _)) in padded(streams).enumerate() {
        if i > 0 {
            query.push(" OR ");
        }
        query
            .push("(stream_id = ")
            .push_bind(stream_id.clone())
            .push(" AND version = ")
            .push_bind(*stored)
            .push(")");
    }
    query.push(")");
    let updated = query
        .build()
        .execute(&mut *tx)
        .await
        .map_err(ProjectionError::db("move stream versions"))?;
    // Padding repeats a stream, and a row matches once however often it is named.
    if updated.rows_affected() != streams.len() as u64 {
        return Err(ProjectionError::StreamsMoved {
            projection,
            expected: streams.len(),
            updated: updated.rows_affected(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::{Acquire, AnyPool};

    async fn pool() -> (tempfile::TempDir, AnyPool) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/read.db", dir.path().display());
        let pool = crate::open_read_db(&url).await.unwrap();
        (dir, pool)
    }

    fn stream_events<'a>(stream: &'a str, versions: &[i64]) -> Vec<(&'a str, i64)> {
        versions.iter().map(|version| (stream, *version)).collect()
    }

    /// Admits `versions` of `stream` in one transaction, commits, and remembers in `known`
    /// what it stored.
    async fn project_with(
        pool: &AnyPool,
        known: &KnownVersions,
        stream: &str,
        versions: &[i64],
    ) -> Vec<bool> {
        project_as(pool, known, NewStreams::Loaded, stream, versions).await
    }

    /// The same, with `new_streams` deciding whether a stream starting at 1 is loaded.
    async fn project_as(
        pool: &AnyPool,
        known: &KnownVersions,
        new_streams: NewStreams,
        stream: &str,
        versions: &[i64],
    ) -> Vec<bool> {
        let mut conn = pool.acquire().await.unwrap();
        let mut tx = conn.begin().await.unwrap();
        let events = stream_events(stream, versions);
        let mut tracked = StreamVersions::load(&mut tx, "p", known, new_streams, events)
            .await
            .unwrap();
        let admitted = versions.iter().map(|v| tracked.admit(stream, *v)).collect();
        let stored = tracked.save(&mut tx).await.unwrap();
        tx.commit().await.unwrap();
        known.remember(stored);
        admitted
    }

    /// The same, remembering nothing from one call to the next: every stream is loaded.
    async fn project(pool: &AnyPool, stream: &str, versions: &[i64]) -> Vec<bool> {
        project_with(pool, &KnownVersions::new(), stream, versions).await
    }

    #[tokio::test]
    async fn each_version_is_admitted_once_across_batches() {
        let (_dir, pool) = pool().await;
        assert_eq!(
            project(&pool, "wallet-1", &[1, 2, 2]).await,
            [true, true, false]
        );
        assert_eq!(
            project(&pool, "wallet-1", &[1, 2, 3]).await,
            [false, false, true]
        );
        assert_eq!(project(&pool, "wallet-2", &[1]).await, [true]);
        assert_eq!(project(&pool, "wallet-1", &[3, 4]).await, [false, true]);
    }

    #[tokio::test]
    async fn a_version_ahead_of_its_predecessors_waits_for_them() {
        let (_dir, pool) = pool().await;
        assert_eq!(
            project(&pool, "wallet-9", &[2, 1, 3, 2, 3]).await,
            [false, true, false, true, true]
        );
    }

    /// `version` of `stream` admitted by a projector that loaded it and has not saved yet.
    async fn admitted_unsaved(pool: &AnyPool, stream: &str, version: i64) -> StreamVersions {
        let mut conn = pool.acquire().await.unwrap();
        let mut tracked = StreamVersions::load(
            &mut conn,
            "p",
            &KnownVersions::new(),
            NewStreams::Loaded,
            [(stream, version)],
        )
        .await
        .unwrap();
        assert!(tracked.admit(stream, version));
        tracked
    }

    #[tokio::test]
    async fn a_projector_that_lost_the_race_for_a_stream_cannot_save() {
        let (_dir, pool) = pool().await;
        project(&pool, "coupon-3", &[1]).await;

        // Two projectors both saw version 1; the first moves it to 2, the second's
        // compare-and-set must then fail.
        let stale = admitted_unsaved(&pool, "coupon-3", 2).await;
        project(&pool, "coupon-3", &[2]).await;
        let mut conn = pool.acquire().await.unwrap();
        let error = stale.save(&mut conn).await.unwrap_err();
        assert!(matches!(
            error,
            ProjectionError::StreamsMoved { updated: 0, .. }
        ));

        // The same for a stream neither had seen: the second insert fails.
        let stale = admitted_unsaved(&pool, "coupon-4", 1).await;
        project(&pool, "coupon-4", &[1]).await;
        let mut conn = pool.acquire().await.unwrap();
        assert!(stale.save(&mut conn).await.is_err());
    }

    #[tokio::test]
    async fn a_remembered_version_is_not_loaded_and_a_stale_one_cannot_be_saved() {
        let (_dir, pool) = pool().await;
        let known = KnownVersions::new();
        assert_eq!(
            project_with(&pool, &known, "wallet-5", &[1, 2]).await,
            [true, true]
        );
        assert_eq!(known.get("wallet-5"), Some(2));

        // Another projector applies 3 and 4 (a rebalance), so the remembered 2 is stale.
        project(&pool, "wallet-5", &[3, 4]).await;
        let mut conn = pool.acquire().await.unwrap();
        let mut tx = conn.begin().await.unwrap();
        let mut stale =
            StreamVersions::load(&mut tx, "p", &known, NewStreams::Loaded, [("wallet-5", 3)])
                .await
                .unwrap();
        assert!(
            stale.admit("wallet-5", 3),
            "the remembered version decides, not the table's"
        );
        let error = stale.save(&mut tx).await.unwrap_err();
        assert!(matches!(
            error,
            ProjectionError::StreamsMoved { updated: 0, .. }
        ));
        drop(tx);

        // Forgotten, the table decides again: 3 and 4 were applied, 5 is next.
        known.forget_all();
        assert_eq!(known.get("wallet-5"), None);
        assert_eq!(
            project_with(&pool, &known, "wallet-5", &[3, 4, 5]).await,
            [false, false, true]
        );
        assert_eq!(known.get("wallet-5"), Some(5));
    }

    #[tokio::test]
    async fn a_stream_taken_for_new_that_was_recorded_fails_its_batch() {
        let (_dir, pool) = pool().await;
        project(&pool, "order-8", &[1, 2]).await;

        // Redelivered from version 1 to a projector that does not remember the stream.
        let mut conn = pool.acquire().await.unwrap();
        let mut tx = conn.begin().await.unwrap();
        let events = [("order-8", 1), ("order-8", 2), ("order-8", 3)];
        let known = KnownVersions::new();
        let mut assumed = StreamVersions::load(&mut tx, "p", &known, NewStreams::Assumed, events)
            .await
            .unwrap();
        assert!(assumed.admit("order-8", 1), "taken for new, not loaded");
        let error = assumed.save(&mut tx).await.unwrap_err();
        assert!(
            matches!(
                error,
                ProjectionError::StreamRecordedAlready { projection: "p" }
            ),
            "{error}"
        );
        drop(tx);

        // Loaded, only 3 is new.
        let mut tx = conn.begin().await.unwrap();
        let mut loaded = StreamVersions::load(&mut tx, "p", &known, NewStreams::Loaded, events)
            .await
            .unwrap();
        let admitted: Vec<bool> = events.iter().map(|(s, v)| loaded.admit(s, *v)).collect();
        assert_eq!(admitted, [false, false, true]);
        loaded.save(&mut tx).await.unwrap();
        tx.commit().await.unwrap();

        // A stream that is new is recorded without a load, as usual.
        assert_eq!(
            project_as(
                &pool,
                &KnownVersions::new(),
                NewStreams::Assumed,
                "order-9",
                &[1, 2]
            )
            .await,
            [true, true]
        );
        assert_eq!(project(&pool, "order-9", &[2, 3]).await, [false, true]);
    }
}
