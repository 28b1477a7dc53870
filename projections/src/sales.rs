use crate::bulk;
use crate::sold_day::{DailyTotals, add_completion, completion, day_key};
use crate::upsert::update_or_insert;
use crate::{Envelope, Projection, ProjectionError};
use async_trait::async_trait;
use chrono_tz::Tz;
use events::DomainEvent;
use sqlx::AnyConnection;

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

/// Adds `totals` to `daily_sales`. A batch touches few (day, product) pairs (sales
/// concentrate on today and on popular products), so one fixed-shape statement or two per
/// pair is cheap and stays in the prepared-statement cache.
pub(crate) async fn add_sales(
    tx: &mut AnyConnection,
    totals: &DailyTotals,
) -> Result<(), ProjectionError> {
    for ((date, product_id), quantity) in totals {
        let day = day_key(*date);
        update_or_insert(
            tx,
            sqlx::query(
                "UPDATE daily_sales SET sold_quantity = sold_quantity + ? \
                 WHERE sold_date = ? AND product_id = ?",
            )
            .bind(*quantity)
            .bind(day.clone())
            .bind(*product_id),
            sqlx::query(
                "INSERT INTO daily_sales (sold_date, product_id, sold_quantity) VALUES (?, ?, ?)",
            )
            .bind(day)
            .bind(*product_id)
            .bind(*quantity),
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
