use super::InboundEvent;
use crate::envelope::trace_projected;
use crate::error::ProjectionError;
use async_trait::async_trait;

/// Where a Kafka projector writes: a SQL read model or the Redis views. `apply` must be
/// idempotent per event (version-guarded), because a batch is retried whole after any
/// failure and Kafka may redeliver what was already applied.
#[async_trait]
pub(crate) trait Sink: Send + Sync + 'static {
    fn name(&self) -> &'static str;

    /// Stream categories this sink reads; other messages are passed over undecoded.
    fn categories(&self) -> &'static [&'static str];

    /// Applies `events` (in consumption order, so each stream's events in version order)
    /// and returns how many of them had been applied before (redeliveries).
    async fn apply(&self, events: &[InboundEvent]) -> Result<usize, ProjectionError>;

    /// One span per applied event (see `trace_projected`), named for the projection that
    /// applied it.
    fn trace(&self, events: &[InboundEvent]) {
        trace_projected(
            self.name(),
            self.categories(),
            events.iter().map(|e| &e.envelope),
        );
    }
}
