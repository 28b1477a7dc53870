use super::{InboundEvent, Sink};
use crate::Projection;
use crate::envelope::trace_projected;
use crate::error::ProjectionError;
use crate::stream_versions::StreamVersions;
use async_trait::async_trait;
use events::names::SQL_READ_MODELS;
use sqlx::AnyPool;

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
}

impl SqlSink {
    pub(crate) fn new(pool: AnyPool, projections: Vec<Box<dyn Projection>>) -> Self {
        Self { pool, projections }
    }

    /// The projections this sink applies, by name.
    pub(crate) fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.projections.iter().map(|projection| projection.name())
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
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(ProjectionError::db("begin a projection batch"))?;
        let mut duplicates = 0;
        for projection in &self.projections {
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
                relevant.iter().map(|e| e.envelope.stream_id.as_str()),
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
            versions.save(&mut tx).await?;
        }
        tx.commit()
            .await
            .map_err(ProjectionError::db("commit a projection batch"))?;
        Ok(duplicates)
    }
}
