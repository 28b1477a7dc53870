use crate::{Envelope, Projection, ProjectionError};
use async_trait::async_trait;
use events::{DomainEvent, ProductEvent};
use sqlx::AnyConnection;

/// `products(product_id, name, price, stock)`.
pub struct Catalog;

#[async_trait]
impl Projection for Catalog {
    fn name(&self) -> &'static str {
        "catalog"
    }

    fn categories(&self) -> &'static [&'static str] {
        &["product"]
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
        let (product_id, delta) = match event {
            ProductEvent::ProductRegistered(e) => {
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
            ProductEvent::ProductRestocked(e) => (e.product_id, e.quantity),
            ProductEvent::StockReserved(e) => (e.product_id, -e.quantity),
            ProductEvent::StockReleased(e) => (e.product_id, e.quantity),
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
