use super::{InboundEvent, Sink};
use crate::Projection;
use crate::error::ProjectionError;
use crate::stream_versions::StreamVersions;
use async_trait::async_trait;
use sqlx::AnyPool;

/// A SQL projection fed by Kafka: one transaction per batch that applies the events newer
/// than `projected_streams` says and moves those versions.
pub(crate) struct SqlSink {
    pool: AnyPool,
    projection: Box<dyn Projection>,
}

impl SqlSink {
    pub(crate) fn new(pool: AnyPool, projection: Box<dyn Projection>) -> Self {
        Self { pool, projection }
    }
}

#[async_trait]
impl Sink for SqlSink {
    fn name(&self) -> &'static str {
        self.projection.name()
    }

    fn categories(&self) -> &'static [&'static str] {
        self.projection.categories()
    }

    async fn apply(&self, events: &[InboundEvent]) -> Result<usize, ProjectionError> {
        let name = self.projection.name();
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(ProjectionError::db("begin a projection batch"))?;
        let mut versions = StreamVersions::load(
            &mut tx,
            name,
            events.iter().map(|e| e.envelope.stream_id.as_str()),
        )
        .await?;
        let admitted: Vec<_> = events
            .iter()
            .filter(|inbound| {
                let envelope = &inbound.envelope;
                versions.admit(envelope.stream_id.as_str(), envelope.stream_version)
            })
            .map(|inbound| (&inbound.envelope, &inbound.event))
            .collect();
        let duplicates = events.len() - admitted.len();
        self.projection.apply_batch(&mut tx, &admitted).await?;
        versions.save(&mut tx).await?;
        tx.commit()
            .await
            .map_err(ProjectionError::db("commit a projection batch"))?;
        Ok(duplicates)
    }
}
