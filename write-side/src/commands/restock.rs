use super::CommandServices;
use crate::domain::product::{Product, ProductCommand};
use crate::executor::ExecuteResult;
use events::{Metadata, ProductId, StreamId};

impl CommandServices {
    pub async fn restock(
        &self,
        product_id: ProductId,
        quantity: i64,
        metadata: Metadata,
    ) -> ExecuteResult<Product> {
        self.products
            .execute(
                StreamId::product(product_id),
                ProductCommand::Restock { quantity },
                metadata,
            )
            .await
    }
}
