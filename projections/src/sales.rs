use crate::bulk::{self, MAX_LIST, padded};
use crate::sold_day::{DailyTotals, add_completion, completion, day_key};
use crate::{Envelope, Projection, ProjectionError};
use async_trait::async_trait;
use chrono::NaiveDate;
use chrono_tz::Tz;
use events::DomainEvent;
use sqlx::{Any, AnyConnection, QueryBuilder};
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

/// `(product_id, quantity)` sold on one day.
type Sold = (i64, i64);

/// Adds `totals` to `daily_sales`, a few statements per day whatever the number of
/// products: which of them have a row already, one UPDATE adding to those (a CASE per
/// product), one multi-row INSERT for the rest. Two projectors racing on a new row make
/// the second insert fail on the primary key, which rolls its batch back for a retry.
pub(crate) async fn add_sales(
    tx: &mut AnyConnection,
    totals: &DailyTotals,
) -> Result<(), ProjectionError> {
    let mut by_day: BTreeMap<NaiveDate, Vec<Sold>> = BTreeMap::new();
    for ((date, product_id), quantity) in totals {
        by_day
            .entry(*date)
            .or_default()
            .push((*product_id, *quantity));
    }
    for (date, sold) in by_day {
        let day = day_key(date);
        for chunk in sold.chunks(MAX_LIST) {
            let known = products_with_a_row(tx, &day, chunk).await?;
            let (old, new): (Vec<Sold>, Vec<Sold>) = chunk
                .iter()
                .partition(|(product_id, _)| known.contains(product_id));
            if !old.is_empty() {
                let mut query = QueryBuilder::<Any>::new(
                    "UPDATE daily_sales SET sold_quantity = sold_quantity + CASE product_id",
                );
                // A padded pair repeats the last one; CASE takes the first match.
                for (product_id, quantity) in padded(&old) {
                    query
                        .push(" WHEN ")
                        .push_bind(*product_id)
                        .push(" THEN ")
                        .push_bind(*quantity);
                }
                query
                    .push(" END WHERE sold_date = ")
                    .push_bind(day.clone())
                    .push(" AND product_id IN (");
                let mut list = query.separated(", ");
                for (product_id, _) in padded(&old) {
                    list.push_bind(*product_id);
                }
                query.push(")");
                query
                    .build()
                    .execute(&mut *tx)
                    .await
                    .map_err(ProjectionError::db("add daily sales"))?;
            }
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
    }
    Ok(())
}

/// Which products of `sold` have a `daily_sales` row on `day`.
async fn products_with_a_row(
    tx: &mut AnyConnection,
    day: &str,
    sold: &[Sold],
) -> Result<HashSet<i64>, ProjectionError> {
    let mut query =
        QueryBuilder::<Any>::new("SELECT product_id FROM daily_sales WHERE sold_date = ");
    query.push_bind(day.to_owned()).push(" AND product_id IN (");
    let mut list = query.separated(", ");
    for (product_id, _) in padded(sold) {
        list.push_bind(*product_id);
    }
    query.push(")");
    let rows: Vec<(i64,)> = query
        .build_query_as()
        .fetch_all(&mut *tx)
        .await
        .map_err(ProjectionError::db("read daily sales"))?;
    Ok(rows.into_iter().map(|(product_id,)| product_id).collect())
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
