use crate::bulk;
use crate::catalog::stock_delta;
use crate::upsert::update_or_insert;
use crate::{Envelope, Projection, ProjectionError};
use async_trait::async_trait;
use events::product::ProductRegistered;
use events::search_text::fold_name;
use events::{DomainEvent, ProductEvent};
use sqlx::{Any, AnyConnection, QueryBuilder};
use std::collections::BTreeMap;

/// The product-name search index: `search_products` (each name folded, with the price and
/// stock a hit shows, numbered by `seq` in commit order, and numbered anew when its stock
/// moves, so a reader following `seq` sees the new stock too) and `search_head` (the last `seq`
/// and this copy's generation). The query API keeps the grams in memory and follows
/// `seq`. It keeps its own price and stock instead of joining `products`, so a search
/// that waited for this projection never meets a catalog row that is not there yet.
pub struct Search;

#[async_trait]
impl Projection for Search {
    fn name(&self) -> &'static str {
        events::ProjectionName::Search.name()
    }

    fn categories(&self) -> &'static [&'static str] {
        events::ProjectionName::Search.categories()
    }

    fn tables(&self) -> &'static [&'static str] {
        &["search_products", "search_head"]
    }

    /// The batch's registrations in multi-row inserts (a rebuild replays a whole catalog
    /// through here), then its stock movements netted per product. A product's movements
    /// follow its registration in its stream, and additions commute.
    async fn apply_batch(
        &self,
        tx: &mut AnyConnection,
        events: &[(&Envelope, &DomainEvent)],
    ) -> Result<(), ProjectionError> {
        let mut registered = Vec::new();
        let mut totals = BTreeMap::<i64, i64>::new();
        for (_, decoded) in events {
            let DomainEvent::Product(event) = decoded else {
                continue;
            };
            if let ProductEvent::ProductRegistered(e) = event {
                registered.push(e);
            } else if let Some((product_id, delta)) = stock_delta(event) {
                *totals.entry(product_id.get()).or_default() += delta;
            }
        }
        insert(tx, &registered).await?;
        let totals: Vec<(i64, i64)> = totals.into_iter().collect();
        restock(tx, &totals).await
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

/// One product's row.
struct Indexed<'a> {
    registered: &'a ProductRegistered,
    compact: String,
    spaced: String,
    chars: i64,
    seq: i64,
}

async fn insert(
    tx: &mut AnyConnection,
    registered: &[&ProductRegistered],
) -> Result<(), ProjectionError> {
    // A batch holds at most a few thousand events.
    let count = i64::try_from(registered.len()).unwrap_or(i64::MAX);
    if count == 0 {
        return Ok(());
    }
    let first = take_seqs(tx, count).await?;
    let rows: Vec<Indexed<'_>> = registered
        .iter()
        .zip(first..)
        .map(|(e, seq)| {
            let folded = fold_name(&e.name);
            Indexed {
                registered: e,
                compact: folded.compact,
                spaced: folded.spaced,
                chars: folded.chars,
                seq,
            }
        })
        .collect();
    bulk::insert_rows(
        tx,
        "INSERT INTO search_products (product_id, name, compact, spaced, chars, price, stock, seq) ",
        &rows,
        |mut row, indexed| {
            let e = indexed.registered;
            row.push_bind(e.product_id.get())
                .push_bind(e.name.clone())
                .push_bind(indexed.compact.clone())
                .push_bind(indexed.spaced.clone())
                .push_bind(indexed.chars)
                .push_bind(e.price.won())
                .push_bind(e.stock)
                .push_bind(indexed.seq);
        },
        "index a product name",
    )
    .await
}

/// Adds each (product, delta) to its row's stock and gives the row the next `seq`, in one
/// statement per chunk: the query API keeps stock in memory and follows rows by `seq`.
async fn restock(tx: &mut AnyConnection, totals: &[(i64, i64)]) -> Result<(), ProjectionError> {
    for chunk in totals.chunks(bulk::MAX_LIST) {
        let count = i64::try_from(chunk.len()).unwrap_or(i64::MAX);
        let first = take_seqs(tx, count).await?;
        let numbered: Vec<(i64, (i64, i64))> = chunk
            .iter()
            .zip(first..)
            .map(|((id, delta), seq)| (*id, (*delta, seq)))
            .collect();
        let mut query = QueryBuilder::<Any>::new("UPDATE search_products SET stock = stock +");
        bulk::push_case(&mut query, "product_id", &numbered, |query, (delta, _)| {
            query.push_bind(*delta);
        });
        query.push(" END, seq =");
        bulk::push_case(&mut query, "product_id", &numbered, |query, (_, seq)| {
            query.push_bind(*seq);
        });
        query.push(" END WHERE ");
        bulk::push_in(&mut query, "product_id", &numbered);
        query
            .build()
            .execute(&mut *tx)
            .await
            .map_err(ProjectionError::db("update searchable stock"))?;
    }
    Ok(())
}

/// Hands out `count` sequence numbers; the first. Moving the head row locks it until this
/// transaction ends, so batches that add products commit one after another in `seq`
/// order: a reader that saw `seq` n can never later find a row below n it had not seen.
/// The first batch of a copy creates the row with a new generation.
async fn take_seqs(tx: &mut AnyConnection, count: i64) -> Result<i64, ProjectionError> {
    let generation = uuid::Uuid::new_v4().simple().to_string();
    update_or_insert(
        tx,
        sqlx::query("UPDATE search_head SET seq = seq + ? WHERE id = 1").bind(count),
        sqlx::query("INSERT INTO search_head (id, generation, seq) VALUES (1, ?, ?)")
            .bind(generation)
            .bind(count),
        "number indexed products",
    )
    .await?;
    let head: i64 = sqlx::query_scalar("SELECT seq FROM search_head WHERE id = 1")
        .fetch_one(&mut *tx)
        .await
        .map_err(ProjectionError::db("read the search head"))?;
    Ok(head - count + 1)
}
