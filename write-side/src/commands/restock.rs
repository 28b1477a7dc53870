use super::CommandServices;
use crate::domain::product::{Product, ProductCommand};
use crate::executor::ExecuteResult;
use crate::idempotency::IdempotencyKey;
use events::{Metadata, ProductId, StreamId};

impl CommandServices {
    pub async fn restock(
        &self,
        product_id: ProductId,
        quantity: i64,
        metadata: Metadata,
        key: Option<&IdempotencyKey>,
    ) -> ExecuteResult<Product> {
        self.products
            .execute_idempotent(
                StreamId::product(product_id),
                ProductCommand::Restock { quantity },
                metadata,
                key,
            )
            .await
    }
}
