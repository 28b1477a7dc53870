use super::{CommandServices, id_error};
use crate::domain::product::{Product, ProductCommand};
use crate::executor::ExecuteResult;
use crate::idempotency::IdempotencyKey;
use crate::ids::IdSequence;
use events::{Krw, Metadata, ProductId, StreamId};

pub struct NewProduct {
    pub name: String,
    pub price: Krw,
    pub stock: i64,
}

impl CommandServices {
    pub async fn register_product(
        &self,
        product: NewProduct,
        metadata: Metadata,
        key: Option<&IdempotencyKey>,
    ) -> ExecuteResult<Product> {
        let id = self.ids.next(IdSequence::Product).await.map_err(id_error)?;
        let product_id = ProductId::new(id).map_err(|e| id_error(corrupt_id(e)))?;
        let command = ProductCommand::Register {
            product_id,
            name: product.name,
            price: product.price,
            stock: product.stock,
        };
        let stream = StreamId::product(product_id);
        match key {
            Some(key) => {
                self.products
                    .execute_keyed(stream, command, metadata, key, true)
                    .await
            }
            None => self.products.execute_new(stream, command, metadata).await,
        }
    }
}

pub(super) fn corrupt_id(error: events::InvalidId) -> event_store::StoreError {
    event_store::StoreError::Bug(format!("id sequence produced {error}"))
}
