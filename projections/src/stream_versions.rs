//! `projected_streams`: the last version of each stream a projection applied. Loaded at
//! the start of a batch's transaction, advanced as its events apply, and written back at
//! the end with a compare-and-set, so an event delivered twice applies once and two
//! projectors racing on one stream (a partition changing hands) cannot both apply it.
//!
//! Loads and compare-and-sets go many streams per statement. Their lists are padded to a
//! few fixed lengths (repeating the last stream changes nothing), so the statements stay
//! in sqlx's prepared-statement cache: a one-off statement is closed right after use, and
//! on MySQL that close (which gets no reply) stalls the next command by a delayed ACK,
//! about 40 ms, every batch.

use crate::bulk::{self, MAX_LIST, padded};
use crate::error::ProjectionError;
use sqlx::{Any, AnyConnection, QueryBuilder};
use std::collections::{BTreeMap, HashMap};

struct Tracked {
    stored: Option<i64>,
    current: i64,
}

pub(crate) struct StreamVersions {
    projection: &'static str,
    streams: HashMap<String, Tracked>,
}

impl StreamVersions {
    /// Loads the stored versions of `stream_ids` (duplicates allowed) for `projection`.
    pub(crate) async fn load<'a>(
        tx: &mut AnyConnection,
        projection: &'static str,
        stream_ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, ProjectionError> {
        let mut streams: HashMap<String, Tracked> = HashMap::new();
        for id in stream_ids {
            streams.entry(id.to_owned()).or_insert(Tracked {
                stored: None,
                current: 0,
            });
        }
        let ids: Vec<String> = streams.keys().cloned().collect();
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
    /// since `load` (the caller's transaction then rolls back and is retried).
    pub(crate) async fn save(self, tx: &mut AnyConnection) -> Result<(), ProjectionError> {
        let mut moved = Vec::new();
        let mut first_seen = Vec::new();
        for (stream_id, tracked) in self.streams {
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
        .await?;
        for chunk in moved.chunks(MAX_LIST) {
            compare_and_set(tx, self.projection, chunk).await?;
        }
        Ok(())
    }
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

    /// Admits `versions` of `stream` in one transaction and commits.
    async fn project(pool: &AnyPool, stream: &str, versions: &[i64]) -> Vec<bool> {
        let mut conn = pool.acquire().await.unwrap();
        let mut tx = conn.begin().await.unwrap();
        let mut tracked = StreamVersions::load(&mut tx, "p", [stream]).await.unwrap();
        let admitted = versions.iter().map(|v| tracked.admit(stream, *v)).collect();
        tracked.save(&mut tx).await.unwrap();
        tx.commit().await.unwrap();
        admitted
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

    #[tokio::test]
    async fn a_projector_that_lost_the_race_for_a_stream_cannot_save() {
        let (_dir, pool) = pool().await;
        project(&pool, "coupon-3", &[1]).await;

        // Two projectors both saw version 1; the first moves it to 2, the second's
        // compare-and-set must then fail.
        let mut conn = pool.acquire().await.unwrap();
        let mut stale = StreamVersions::load(&mut conn, "p", ["coupon-3"])
            .await
            .unwrap();
        assert!(stale.admit("coupon-3", 2));
        drop(conn);
        project(&pool, "coupon-3", &[2]).await;
        let mut conn = pool.acquire().await.unwrap();
        let error = stale.save(&mut conn).await.unwrap_err();
        assert!(matches!(
            error,
            ProjectionError::StreamsMoved { updated: 0, .. }
        ));

        // The same for a stream neither had seen: the second insert fails.
        let mut conn = pool.acquire().await.unwrap();
        let mut stale = StreamVersions::load(&mut conn, "p", ["coupon-4"])
            .await
            .unwrap();
        assert!(stale.admit("coupon-4", 1));
        drop(conn);
        project(&pool, "coupon-4", &[1]).await;
        let mut conn = pool.acquire().await.unwrap();
        assert!(stale.save(&mut conn).await.is_err());
    }
}
