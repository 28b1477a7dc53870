use crate::{Projection, ProjectionError};
use async_trait::async_trait;
use events::{DomainEvent, RecordedEvent, WalletEvent};
use sqlx::SqliteConnection;

/// `balances(user_id, balance)`.
pub struct Balances;

#[async_trait]
impl Projection for Balances {
    fn name(&self) -> &'static str {
        "balances"
    }

    async fn apply(
        &self,
        tx: &mut SqliteConnection,
        _event: &RecordedEvent,
        decoded: &DomainEvent,
    ) -> Result<(), ProjectionError> {
        let DomainEvent::Wallet(event) = decoded else {
            return Ok(());
        };
        let (user_id, delta) = match event {
            WalletEvent::PointsCharged(e) => (e.user_id, e.amount.won()),
            WalletEvent::PointsDeducted(e) => (e.user_id, -e.amount.won()),
            WalletEvent::PointsRefunded(e) => (e.user_id, e.amount.won()),
        };
        sqlx::query(
            "INSERT INTO balances (user_id, balance) VALUES (?, ?) \
             ON CONFLICT (user_id) DO UPDATE SET balance = balance + excluded.balance",
        )
        .bind(user_id.get())
        .bind(delta)
        .execute(tx)
        .await
        .map_err(ProjectionError::db("update a balance"))?;
        Ok(())
    }
}
