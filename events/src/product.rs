//! Product events (`product-{productId}`): the catalog entry and its stock.

use crate::codec::{event_enum, no_upcasts};
use crate::ids::{OrderId, ProductId};
use crate::money::Krw;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductRegistered {
    pub product_id: ProductId,
    pub name: String,
    pub price: Krw,
    pub stock: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductRestocked {
    pub product_id: ProductId,
    pub quantity: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StockReserved {
    pub product_id: ProductId,
    pub order_id: OrderId,
    pub quantity: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StockReleased {
    pub product_id: ProductId,
    pub order_id: OrderId,
    pub quantity: i64,
}

event_enum! {
    pub enum ProductEvent upcast no_upcasts {
        ProductRegistered(ProductRegistered) as "ProductRegistered" = 1,
        ProductRestocked(ProductRestocked) as "ProductRestocked" = 1,
        StockReserved(StockReserved) as "StockReserved" = 1,
        StockReleased(StockReleased) as "StockReleased" = 1,
    }
}
