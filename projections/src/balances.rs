use crate::upsert::update_or_insert;
use crate::{Envelope, Projection, ProjectionError};
use async_trait::async_trait;
use events::{DomainEvent, WalletEvent};
use sqlx::AnyConnection;

/// `balances(user_id, balance)`.
pub struct Balances;

#[async_trait]
impl Projection for Balances {
    fn name(&self) -> &'static str {
        "balances"
    }

    fn categories(&self) -> &'static [&'static str] {
        &["wallet"]
    }

    async fn apply(
        &self,
        tx: &mut AnyConnection,
        _envelope: &Envelope,
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
        update_or_insert(
            tx,
            sqlx::query("UPDATE balances SET balance = balance + ? WHERE user_id = ?")
                .bind(delta)
                .bind(user_id.get()),
            sqlx::query("INSERT INTO balances (user_id, balance) VALUES (?, ?)")
                .bind(user_id.get())
                .bind(delta),
            "update a balance",
        )
        .await
    }
}
