use crate::bulk;
use crate::upsert::update_or_insert;
use crate::{Envelope, Projection, ProjectionError};
use async_trait::async_trait;
use events::{DomainEvent, UserId, WalletEvent};
use sqlx::AnyConnection;
use std::collections::{BTreeMap, HashSet};

/// `balances(user_id, balance)`.
pub struct Balances;

/// The change an event makes to its user's balance, if it is a wallet event.
fn delta(decoded: &DomainEvent) -> Option<(UserId, i64)> {
    let DomainEvent::Wallet(event) = decoded else {
        return None;
    };
    Some(match event {
        WalletEvent::PointsCharged(e) => (e.user_id, e.amount.won()),
        WalletEvent::PointsDeducted(e) => (e.user_id, -e.amount.won()),
        WalletEvent::PointsRefunded(e) => (e.user_id, e.amount.won()),
    })
}

#[async_trait]
impl Projection for Balances {
    fn name(&self) -> &'static str {
        events::ProjectionName::Balances.name()
    }

    fn categories(&self) -> &'static [&'static str] {
        events::ProjectionName::Balances.categories()
    }

    fn tables(&self) -> &'static [&'static str] {
        &["balances"]
    }

    /// Balance changes add up, so a batch nets them per user and writes each user once:
    /// one list UPDATE for the users that have a row and multi-row INSERTs for the rest.
    async fn apply_batch(
        &self,
        tx: &mut AnyConnection,
        events: &[(&Envelope, &DomainEvent)],
    ) -> Result<(), ProjectionError> {
        // Ordered by user so concurrent batches would lock rows in one order.
        let mut totals = BTreeMap::<i64, i64>::new();
        for (user_id, delta) in events.iter().filter_map(|(_, decoded)| delta(decoded)) {
            *totals.entry(user_id.get()).or_default() += delta;
        }
        if totals.is_empty() {
            return Ok(());
        }
        let users: Vec<i64> = totals.keys().copied().collect();
        let existing: HashSet<i64> =
            bulk::existing_keys(tx, "balances", "user_id", None, &users, "find balances")
                .await?
                .into_iter()
                .collect();
        let (known, new): (Vec<(i64, i64)>, Vec<(i64, i64)>) = totals
            .into_iter()
            .partition(|(user_id, _)| existing.contains(user_id));
        bulk::add_by_key(
            tx,
            "balances",
            "user_id",
            "balance",
            None,
            &known,
            "update balances",
        )
        .await?;
        // A racing writer that inserted one of these meanwhile makes this fail on the
        // primary key, which rolls the batch back for a retry.
        bulk::insert_rows(
            tx,
            "INSERT INTO balances (user_id, balance) ",
            &new,
            |mut row, (user_id, balance)| {
                row.push_bind(*user_id).push_bind(*balance);
            },
            "insert balances",
        )
        .await
    }

    async fn apply(
        &self,
        tx: &mut AnyConnection,
        _envelope: &Envelope,
        decoded: &DomainEvent,
    ) -> Result<(), ProjectionError> {
        let Some((user_id, delta)) = delta(decoded) else {
            return Ok(());
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
