use crate::bulk;
use crate::{Envelope, Projection, ProjectionError};
use async_trait::async_trait;
use events::product::ProductRegistered;
use events::search_text::{fold_name, name_grams};
use events::{DomainEvent, ProductEvent};
use sqlx::AnyConnection;
use std::collections::BTreeMap;

/// The product-name search index: `search_products` (each name folded, with the price and
/// stock a hit shows) and `search_grams` (each name's characters and adjacent pairs). It
/// keeps its own price and stock instead of joining `products`, so a search that waited
/// for this projection never meets a catalog row that is not there yet.
pub struct Search;

/// A stock movement of the event, as the catalog applies it.
fn stock_delta(event: &ProductEvent) -> Option<(i64, i64)> {
    match event {
        ProductEvent::ProductRegistered(_) => None,
        ProductEvent::ProductRestocked(e) => Some((e.product_id.get(), e.quantity)),
        ProductEvent::StockReserved(e) => Some((e.product_id.get(), -e.quantity)),
        ProductEvent::StockReleased(e) => Some((e.product_id.get(), e.quantity)),
    }
}

#[async_trait]
impl Projection for Search {
    fn name(&self) -> &'static str {
        events::ProjectionName::Search.name()
    }

    fn categories(&self) -> &'static [&'static str] {
        events::ProjectionName::Search.categories()
    }

    fn tables(&self) -> &'static [&'static str] {
        &["search_products", "search_grams"]
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
                *totals.entry(product_id).or_default() += delta;
            }
        }
        insert(tx, &registered).await?;
        let totals: Vec<(i64, i64)> = totals.into_iter().collect();
        bulk::add_by_key(
            tx,
            "search_products",
            "product_id",
            "stock",
            &totals,
            "update searchable stock",
        )
        .await
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

/// One product's row and its grams.
struct Indexed<'a> {
    registered: &'a ProductRegistered,
    compact: String,
    spaced: String,
    chars: i64,
}

async fn insert(
    tx: &mut AnyConnection,
    registered: &[&ProductRegistered],
) -> Result<(), ProjectionError> {
    if registered.is_empty() {
        return Ok(());
    }
    let mut rows = Vec::with_capacity(registered.len());
    let mut grams = Vec::new();
    for e in registered {
        let folded = fold_name(&e.name);
        let product_id = e.product_id.get();
        grams.extend(
            name_grams(&folded.compact)
                .into_iter()
                .map(|g| (g, product_id)),
        );
        rows.push(Indexed {
            registered: e,
            compact: folded.compact,
            spaced: folded.spaced,
            chars: folded.chars,
        });
    }
    bulk::insert_rows(
        tx,
        "INSERT INTO search_products (product_id, name, compact, spaced, chars, price, stock) ",
        &rows,
        |mut row, indexed| {
            let e = indexed.registered;
            row.push_bind(e.product_id.get())
                .push_bind(e.name.clone())
                .push_bind(indexed.compact.clone())
                .push_bind(indexed.spaced.clone())
                .push_bind(indexed.chars)
                .push_bind(e.price.won())
                .push_bind(e.stock);
        },
        "index a product name",
    )
    .await?;
    bulk::insert_rows(
        tx,
        "INSERT INTO search_grams (gram, product_id) ",
        &grams,
        |mut row, (gram, product_id)| {
            row.push_bind(gram.clone()).push_bind(*product_id);
        },
        "index a product name's grams",
    )
    .await
}
