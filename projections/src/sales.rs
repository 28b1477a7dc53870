use crate::bulk;
use crate::sold_day::{DailyTotals, add_completion, completion, day_key};
use crate::{Envelope, Projection, ProjectionError};
use async_trait::async_trait;
use chrono::NaiveDate;
use chrono_tz::Tz;
use events::DomainEvent;
use sqlx::AnyConnection;
use std::collections::{BTreeMap, HashSet};

/// `daily_sales(sold_date, product_id, sold_quantity)`, fed by `OrderCompleted` only. It
/// reads every order event all the same: the stream-version guard must see each version
/// of a stream to admit the next, and an order stream holds exactly one completion, so
/// the guard is what keeps a redelivered completion from counting twice.
pub struct Sales {
    timezone: Tz,
}

impl Sales {
    pub fn new(timezone: Tz) -> Self {
        Self { timezone }
    }
}

#[async_trait]
impl Projection for Sales {
    fn name(&self) -> &'static str {
        events::ProjectionName::Sales.name()
    }

    fn categories(&self) -> &'static [&'static str] {
        events::ProjectionName::Sales.categories()
    }

    fn tables(&self) -> &'static [&'static str] {
        &["daily_sales"]
    }

    /// Sums the batch's completions per (day, product) and writes each sum once.
    async fn apply_batch(
        &self,
        tx: &mut AnyConnection,
        events: &[(&Envelope, &DomainEvent)],
    ) -> Result<(), ProjectionError> {
        let mut totals = DailyTotals::new();
        for (_, decoded) in events {
            if let Some(completed) = completion(decoded) {
                add_completion(&mut totals, completed, self.timezone);
            }
        }
        add_sales(tx, &totals).await
    }

    async fn apply(
        &self,
        tx: &mut AnyConnection,
        envelope: &Envelope,
        decoded: &DomainEvent,
    ) -> Result<(), ProjectionError> {
        self.apply_batch(tx, &[(envelope, decoded)]).await
    }
}

/// Adds `totals` to `daily_sales`, a few statements per day whatever the number of
/// products: which of them have a row already, one UPDATE adding to those, one multi-row
/// INSERT for the rest. Two projectors racing on a new row make the second insert fail
/// on the primary key, which rolls its batch back for a retry.
pub(crate) async fn add_sales(
    tx: &mut AnyConnection,
    totals: &DailyTotals,
) -> Result<(), ProjectionError> {
    let mut by_day: BTreeMap<NaiveDate, Vec<(i64, i64)>> = BTreeMap::new();
    for ((date, product_id), quantity) in totals {
        by_day
            .entry(*date)
            .or_default()
            .push((*product_id, *quantity));
    }
    for (date, sold) in by_day {
        let day = day_key(date);
        let scope = Some(("sold_date", day.as_str()));
        let products: Vec<i64> = sold.iter().map(|(product_id, _)| *product_id).collect();
        let known: HashSet<i64> = bulk::existing_keys(
            tx,
            "daily_sales",
            "product_id",
            scope,
            &products,
            "read daily sales",
        )
        .await?
        .into_iter()
        .collect();
        let (old, new): (Vec<_>, Vec<_>) = sold
            .into_iter()
            .partition(|(product_id, _)| known.contains(product_id));
        bulk::add_by_key(
            tx,
            "daily_sales",
            "product_id",
            "sold_quantity",
            scope,
            &old,
            "add daily sales",
        )
        .await?;
        bulk::insert_rows(
            tx,
            "INSERT INTO daily_sales (sold_date, product_id, sold_quantity) ",
            &new,
            |mut row, (product_id, quantity)| {
                row.push_bind(day.clone())
                    .push_bind(*product_id)
                    .push_bind(*quantity);
            },
            "add daily sales",
        )
        .await?;
    }
    Ok(())
}

/// Inserts `totals` into an emptied `daily_sales` (a rebuild), many rows per statement.
pub(crate) async fn insert_sales(
    tx: &mut AnyConnection,
    totals: &DailyTotals,
) -> Result<(), ProjectionError> {
    let rows: Vec<(String, i64, i64)> = totals
        .iter()
        .map(|((date, product_id), quantity)| (day_key(*date), *product_id, *quantity))
        .collect();
    bulk::insert_rows(
        tx,
        "INSERT INTO daily_sales (sold_date, product_id, sold_quantity) ",
        &rows,
        |mut row, (day, product_id, quantity)| {
            row.push_bind(day.clone())
                .push_bind(*product_id)
                .push_bind(*quantity);
        },
        "insert daily sales",
    )
    .await
}
