use super::error::ApiError;
use super::{CommandState, consistency_header, metadata};
use crate::commands::NewProduct;
use crate::domain::product::ProductReply;
use api_common::{ApiJson, ApiPath};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use events::{Krw, ProductId};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RegisterRequest {
    name: String,
    price: Krw,
    stock: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RestockRequest {
    quantity: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProductResponse {
    product_id: ProductId,
    name: String,
    price: Krw,
    stock: i64,
}

impl TryFrom<ProductReply> for ProductResponse {
    type Error = ApiError;
    fn try_from(reply: ProductReply) -> Result<Self, ApiError> {
        let product_id = reply.product_id.ok_or_else(|| {
            ApiError::Store(std::sync::Arc::new(crate::store::StoreError::Corrupt(
                "an accepted product command left no product".to_owned(),
            )))
        })?;
        Ok(Self {
            product_id,
            name: reply.name,
            price: reply.price,
            stock: reply.stock,
        })
    }
}

#[tracing::instrument(skip_all)]
pub(super) async fn register(
    State(state): State<CommandState>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<RegisterRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let product = NewProduct {
        name: request.name,
        price: request.price,
        stock: request.stock,
    };
    let executed = state
        .services
        .register_product(product, metadata::from_request(&headers))
        .await?;
    Ok((
        StatusCode::CREATED,
        consistency_header(&executed.token),
        Json(ProductResponse::try_from(executed.reply)?),
    ))
}

#[tracing::instrument(skip_all, fields(product_id = %product_id))]
pub(super) async fn restock(
    State(state): State<CommandState>,
    ApiPath(product_id): ApiPath<ProductId>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<RestockRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let executed = state
        .services
        .restock(
            product_id,
            request.quantity,
            metadata::from_request(&headers),
        )
        .await?;
    Ok((
        consistency_header(&executed.token),
        Json(ProductResponse::try_from(executed.reply)?),
    ))
}
