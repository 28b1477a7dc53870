use crate::bulk;
use crate::{Envelope, Projection, ProjectionError};
use async_trait::async_trait;
use events::{DomainEvent, ProductEvent, ProductId};
use sqlx::AnyConnection;
use std::collections::BTreeMap;

/// `products(product_id, name, price, stock)`.
pub struct Catalog;

/// The change an event makes to its product's stock, if it is a stock movement (the
/// search index keeps stock the same way).
pub(crate) fn stock_delta(event: &ProductEvent) -> Option<(ProductId, i64)> {
    match event {
        ProductEvent::ProductRegistered(_) => None,
        ProductEvent::ProductRestocked(e) => Some((e.product_id, e.quantity)),
        ProductEvent::StockReserved(e) => Some((e.product_id, -e.quantity)),
        ProductEvent::StockReleased(e) => Some((e.product_id, e.quantity)),
    }
}

#[async_trait]
impl Projection for Catalog {
    fn name(&self) -> &'static str {
        events::ProjectionName::Catalog.name()
    }

    fn categories(&self) -> &'static [&'static str] {
        events::ProjectionName::Catalog.categories()
    }

    fn tables(&self) -> &'static [&'static str] {
        &["products"]
    }

    /// Registrations first, in order; then the batch's stock movements netted per product
    /// in one list UPDATE. Equivalent to one event at a time: a product's movements come
    /// after its registration in its stream, and additions commute.
    async fn apply_batch(
        &self,
        tx: &mut AnyConnection,
        events: &[(&Envelope, &DomainEvent)],
    ) -> Result<(), ProjectionError> {
        // Ordered by product so concurrent batches would lock rows in one order.
        let mut totals = BTreeMap::<i64, i64>::new();
        for (envelope, decoded) in events {
            let DomainEvent::Product(event) = decoded else {
                continue;
            };
            match stock_delta(event) {
                Some((product_id, delta)) => {
                    *totals.entry(product_id.get()).or_default() += delta;
                }
                None => self.apply(tx, envelope, decoded).await?,
            }
        }
        let totals: Vec<(i64, i64)> = totals.into_iter().collect();
        bulk::add_by_key(
            tx,
            "products",
            "product_id",
            "stock",
            None,
            &totals,
            "update stock",
        )
        .await
    }

    async fn apply(
        &self,
        tx: &mut AnyConnection,
        _envelope: &Envelope,
        decoded: &DomainEvent,
    ) -> Result<(), ProjectionError> {
        let DomainEvent::Product(event) = decoded else {
            return Ok(());
        };
        if let ProductEvent::ProductRegistered(e) = event {
            sqlx::query(
                "INSERT INTO products (product_id, name, price, stock) VALUES (?, ?, ?, ?)",
            )
            .bind(e.product_id.get())
            .bind(&e.name)
            .bind(e.price.won())
            .bind(e.stock)
            .execute(tx)
            .await
            .map_err(ProjectionError::db("insert a product"))?;
            return Ok(());
        }
        let Some((product_id, delta)) = stock_delta(event) else {
            return Ok(());
        };
        sqlx::query("UPDATE products SET stock = stock + ? WHERE product_id = ?")
            .bind(delta)
            .bind(product_id.get())
            .execute(tx)
            .await
            .map_err(ProjectionError::db("update stock"))?;
        Ok(())
    }
}
