//! Projectors: they apply events to read models (SQL through an `AnyPool`, SQLite or
//! MySQL, and optionally Redis hot views), effectively once.
//!
//! - Embedded: `spawn_projections` reads the global order from an `EventFeed` and moves a
//!   checkpoint per projection in the same transaction as the rows it covers.
//! - Full: `spawn_kafka_projections` runs one Kafka consumer group for the SQL projections
//!   (one transaction per batch across them) and one for the Redis views; each event
//!   applies only if its stream version is above the one stored for that stream
//!   (`projected_streams` in SQL, the hash field `v` in Redis), checked and moved
//!   atomically with the write, and the Kafka offset is stored only after the write.

mod balances;
#[cfg(test)]
mod batch_tests;
mod bulk;
mod catalog;
mod checkpoint;
mod coupons;
mod envelope;
mod error;
mod feed;
mod handles;
mod kafka;
mod known_versions;
mod lag;
mod order_fold;
mod orders;
mod read_db;
mod rebuild;
mod redis;
mod retry;
mod runner;
mod sales;
mod search;
mod sold_day;
mod stream_versions;
mod upsert;

pub use envelope::Envelope;
pub use error::{FeedError, MessageError, ProjectionError};
pub use feed::EventFeed;
pub use handles::ProjectionHandles;
pub use kafka::{KafkaProjectorConfig, spawn_kafka_projections};
pub use lag::ProjectionLag;
pub use read_db::open_read_db;
pub use rebuild::{
    ReadModelsReport, RebuildProgress, RebuildReport, rebuild_ranking, rebuild_read_models,
};
pub use redis::{
    DEFAULT_REDIS_PREFIX, RedisViews, RedisViewsError, ViewsRebuildReport, rebuild_redis_views,
};
pub use runner::spawn_projections;
pub use sold_day::SALES_RETENTION_DAYS;

use async_trait::async_trait;
use chrono_tz::Tz;
use events::DomainEvent;
use sqlx::AnyConnection;

/// One SQL read model. `apply` and `apply_batch` run inside the transaction that also
/// records how far the projection got (a checkpoint, or the streams' versions).
#[async_trait]
pub trait Projection: Send + Sync + 'static {
    fn name(&self) -> &'static str;

    /// The stream categories (aggregate types) whose events this projection reads; a
    /// Kafka projector skips other streams without decoding them.
    fn categories(&self) -> &'static [&'static str];

    /// The tables this projection alone writes (besides the shared checkpoint and stream
    /// version tables): what `shop rebuild` builds afresh and swaps in.
    fn tables(&self) -> &'static [&'static str];

    async fn apply(
        &self,
        tx: &mut AnyConnection,
        envelope: &Envelope,
        decoded: &DomainEvent,
    ) -> Result<(), ProjectionError>;

    /// Applies `events` in order, in one transaction; each must be applied exactly once
    /// (callers pass only events new to this projection). Projections override it to
    /// write many events per statement: one statement per event makes a batch thousands
    /// of round trips.
    async fn apply_batch(
        &self,
        tx: &mut AnyConnection,
        events: &[(&Envelope, &DomainEvent)],
    ) -> Result<(), ProjectionError> {
        for (envelope, decoded) in events {
            self.apply(tx, envelope, decoded).await?;
        }
        Ok(())
    }
}

/// Every SQL projection. `timezone` (`SHOP_TIMEZONE`) decides which calendar day a sale
/// counts on.
pub fn all(timezone: Tz) -> Vec<Box<dyn Projection>> {
    vec![
        Box::new(balances::Balances),
        Box::new(catalog::Catalog),
        Box::new(coupons::Coupons),
        Box::new(orders::Orders),
        Box::new(sales::Sales::new(timezone)),
        Box::new(search::Search),
    ]
}
