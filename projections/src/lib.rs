//! Projectors: they read the global event order from an `EventFeed`, apply each event to a
//! read model and move their checkpoint in the same transaction, so a restart resumes
//! where it stopped and applies nothing twice.

mod balances;
mod catalog;
mod coupons;
mod db;
mod error;
mod feed;
mod runner;

pub use db::open_read_db;
pub use error::{FeedError, ProjectionError};
pub use feed::EventFeed;
pub use runner::{ProjectionHandles, spawn_projections};

use async_trait::async_trait;
use events::{DomainEvent, RecordedEvent};
use sqlx::SqliteConnection;

/// One read model. `apply` runs inside the transaction that also moves the checkpoint.
#[async_trait]
pub trait Projection: Send + Sync + 'static {
    fn name(&self) -> &'static str;

    async fn apply(
        &self,
        tx: &mut SqliteConnection,
        event: &RecordedEvent,
        decoded: &DomainEvent,
    ) -> Result<(), ProjectionError>;
}

/// Every projection of the embedded read database.
pub fn all() -> Vec<Box<dyn Projection>> {
    vec![
        Box::new(balances::Balances),
        Box::new(catalog::Catalog),
        Box::new(coupons::Coupons),
    ]
}
