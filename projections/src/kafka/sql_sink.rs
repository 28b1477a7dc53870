use super::{InboundEvent, Sink};
use crate::Projection;
use crate::envelope::trace_projected;
use crate::error::ProjectionError;
use crate::known_versions::KnownVersions;
use crate::stream_versions::{NewStreams, StreamVersions};
use async_trait::async_trait;
use events::names::SQL_READ_MODELS;
use sqlx::AnyPool;
use std::sync::atomic::{AtomicBool, Ordering};

/// Every SQL projection fed by one Kafka consumer: one transaction per batch that, for
/// each projection, applies the events of its categories newer than `projected_streams`
/// says and moves those versions.
///
/// One consumer instead of one per projection: each message is fetched from Kafka and
/// decoded once, and a batch is one commit instead of six. The projections share one
/// database, so one that cannot write could not have gone on without the others anyway.
pub(crate) struct SqlSink {
    pool: AnyPool,
    projections: Vec<Box<dyn Projection>>,
    /// One per projection, in the same order: the versions it committed lately.
    known: Vec<KnownVersions>,
    /// Whether the last batch committed and redelivered nothing; only then are streams a
    /// batch starts at version 1 taken for new (`NewStreams`). False at start: a projector
    /// that starts or restarts is handed what its group had not committed yet.
    fresh: AtomicBool,
}

impl SqlSink {
    pub(crate) fn new(pool: AnyPool, projections: Vec<Box<dyn Projection>>) -> Self {
        let known = projections.iter().map(|_| KnownVersions::new()).collect();
        Self {
            pool,
            projections,
            known,
            fresh: AtomicBool::new(false),
        }
    }

    /// The projections this sink applies, by name.
    pub(crate) fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.projections.iter().map(|projection| projection.name())
    }

    /// One attempt: a transaction over every projection, remembered versions kept only
    /// once it committed.
    async fn apply_once(&self, events: &[InboundEvent]) -> Result<usize, ProjectionError> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(ProjectionError::db("begin a projection batch"))?;
        let new_streams = if self.fresh.load(Ordering::Relaxed) {
            NewStreams::Assumed
        } else {
            NewStreams::Loaded
        };
        let mut duplicates = 0;
        let mut committed = Vec::with_capacity(self.projections.len());
        for (projection, known) in self.projections.iter().zip(&self.known) {
            let categories = projection.categories();
            let relevant: Vec<&InboundEvent> = events
                .iter()
                .filter(|inbound| categories.contains(&inbound.envelope.stream_id.category()))
                .collect();
            if relevant.is_empty() {
                continue;
            }
            let name = projection.name();
            let mut versions = StreamVersions::load(
                &mut tx,
                name,
                known,
                new_streams,
                relevant.iter().map(|inbound| {
                    let envelope = &inbound.envelope;
                    (envelope.stream_id.as_str(), envelope.stream_version)
                }),
            )
            .await?;
            let admitted: Vec<_> = relevant
                .iter()
                .filter(|inbound| {
                    let envelope = &inbound.envelope;
                    versions.admit(envelope.stream_id.as_str(), envelope.stream_version)
                })
                .map(|inbound| (&inbound.envelope, &inbound.event))
                .collect();
            duplicates = duplicates.max(relevant.len() - admitted.len());
            projection.apply_batch(&mut tx, &admitted).await?;
            committed.push((known, versions.save(&mut tx).await?));
        }
        tx.commit()
            .await
            .map_err(ProjectionError::db("commit a projection batch"))?;
        for (known, versions) in committed {
            known.remember(versions);
        }
        Ok(duplicates)
    }
}

#[async_trait]
impl Sink for SqlSink {
    fn name(&self) -> &'static str {
        SQL_READ_MODELS
    }

    fn categories(&self) -> &'static [&'static str] {
        &events::Category::NAMES
    }

    fn trace(&self, events: &[InboundEvent]) {
        for projection in &self.projections {
            trace_projected(
                projection.name(),
                projection.categories(),
                events.iter().map(|e| &e.envelope),
            );
        }
    }

    /// Returns the most events any one projection had applied before (a redelivered
    /// batch counts once, not once per projection).
    async fn apply(&self, events: &[InboundEvent]) -> Result<usize, ProjectionError> {
        let applied = self.apply_once(events).await;
        // Redelivered events show a rebalance or a restart in progress: a stream the next
        // batch starts at 1 may then be one recorded already, so load it.
        self.fresh
            .store(matches!(applied, Ok(0)), Ordering::Relaxed);
        if applied.is_err() {
            // A lost compare-and-set is how a stale remembered version shows, a failed
            // insert how a stream taken for new shows it was not; whatever failed, the
            // retry reads every stream from the table.
            for known in &self.known {
                known.forget_all();
            }
        }
        applied
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Envelope;
    use events::wallet::PointsCharged;
    use events::{DomainEvent, Krw, StreamId, UserId};

    fn charge(version: i64, amount: i64) -> InboundEvent {
        charge_of(1, version, amount)
    }

    fn charge_of(user: i64, version: i64, amount: i64) -> InboundEvent {
        let user_id = UserId::new(user).unwrap();
        InboundEvent {
            envelope: Envelope {
                stream_id: StreamId::wallet(user_id),
                stream_version: version,
                event_id: None,
                global_position: None,
                correlation_id: None,
                trace: None,
                recorded_at: chrono::Utc::now(),
            },
            event: DomainEvent::Wallet(
                PointsCharged {
                    user_id,
                    amount: Krw::new(amount).unwrap(),
                    idempotency_key: None,
                }
                .into(),
            ),
        }
    }

    /// A fresh read database and two sinks on it: two projectors of one group.
    async fn two_projectors() -> (tempfile::TempDir, AnyPool, SqlSink, SqlSink) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/read.db", dir.path().display());
        let pool = crate::open_read_db(&url).await.unwrap();
        let timezone = chrono_tz::Asia::Seoul;
        let first = SqlSink::new(pool.clone(), crate::all(timezone));
        let second = SqlSink::new(pool.clone(), crate::all(timezone));
        (dir, pool, first, second)
    }

    async fn balance(pool: &AnyPool) -> i64 {
        sqlx::query_scalar("SELECT balance FROM balances WHERE user_id = 1")
            .fetch_one(pool)
            .await
            .unwrap()
    }

    /// Applies `batch`, whose first event `sink` applied before: the first attempt must
    /// fail and roll back (the balance stays `before`), the retry applies only the rest
    /// (one duplicate). Returns the first attempt's error.
    async fn fails_once_then_applies_the_new(
        sink: &SqlSink,
        pool: &AnyPool,
        batch: &[InboundEvent],
        before: i64,
    ) -> ProjectionError {
        let error = sink.apply(batch).await.unwrap_err();
        assert_eq!(balance(pool).await, before, "the failed batch rolled back");
        assert_eq!(
            sink.apply(batch).await.unwrap(),
            1,
            "its first event was applied before"
        );
        error
    }

    /// Two projectors own the wallet's partition in turn (a rebalance). The first still
    /// remembers version 1 when the stream is at 2; its batch must fail once, then apply
    /// only what is new.
    #[tokio::test]
    async fn a_stale_remembered_version_costs_one_retry_and_applies_nothing_twice() {
        let (_dir, pool, first, second) = two_projectors().await;

        assert_eq!(first.apply(&[charge(1, 100)]).await.unwrap(), 0);
        assert_eq!(
            second
                .apply(&[charge(1, 100), charge(2, 50)])
                .await
                .unwrap(),
            1
        );
        assert_eq!(balance(&pool).await, 150);

        let batch = [charge(2, 50), charge(3, 7)];
        let lost = fails_once_then_applies_the_new(&first, &pool, &batch, 150).await;
        assert!(
            matches!(lost, ProjectionError::StreamsMoved { .. }),
            "{lost}"
        );
        assert_eq!(balance(&pool).await, 157);
    }

    /// A projector that has run clean takes a stream first seen at version 1 for new. If
    /// another projector had recorded it (a partition handed over with its last batch not
    /// committed to Kafka), the batch fails once and then applies only what is new.
    #[tokio::test]
    async fn a_redelivered_first_version_is_not_taken_for_new_twice() {
        let (_dir, pool, sink, other) = two_projectors().await;

        assert_eq!(other.apply(&[charge(1, 100)]).await.unwrap(), 0);
        // `sink` has applied a clean batch of another stream, so it trusts new streams.
        assert_eq!(sink.apply(&[charge_of(2, 1, 5)]).await.unwrap(), 0);

        let batch = [charge(1, 100), charge(2, 50)];
        let taken = fails_once_then_applies_the_new(&sink, &pool, &batch, 100).await;
        assert!(
            matches!(taken, ProjectionError::StreamRecordedAlready { .. }),
            "{taken}"
        );
        assert_eq!(balance(&pool).await, 150);
    }
}
