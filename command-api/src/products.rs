use super::error::ApiError;
use super::idempotency::{Caller, keyed};
use super::{CommandState, consistency_header, metadata};
use api_common::openapi::ProblemSchema;
use api_common::{ApiJson, ApiPath};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use domain::product::ProductReply;
use events::{Krw, ProductId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use write_side::commands::NewProduct;

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = RegisterProductRequest)]
pub(super) struct RegisterRequest {
    /// 1 to 200 characters, not blank.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    name: String,
    /// 1 to 1,000,000,000 won.
    #[schema(value_type = i64, minimum = 1, maximum = 1_000_000_000)]
    price: Krw,
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    stock: i64,
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct RestockRequest {
    /// 1 to 1,000,000 units; the stock may not exceed 1,000,000,000.
    #[schema(minimum = 1, maximum = 1_000_000)]
    quantity: i64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct ProductResponse {
    product_id: ProductId,
    name: String,
    price: Krw,
    stock: i64,
}

impl TryFrom<ProductReply> for ProductResponse {
    type Error = ApiError;
    fn try_from(reply: ProductReply) -> Result<Self, ApiError> {
        let product_id = reply.product_id.ok_or_else(|| {
            ApiError::Bug("an accepted product command left no product".to_owned())
        })?;
        Ok(Self {
            product_id,
            name: reply.name,
            price: reply.price,
            stock: reply.stock,
        })
    }
}

/// Registers a product (admin).
#[utoipa::path(
    post,
    path = "/v1/products",
    tag = "products",
    operation_id = "registerProduct",
    security(("adminToken" = [])),
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered", body = ProductResponse),
    )
)]
#[tracing::instrument(skip_all)]
pub(super) async fn register(
    State(state): State<CommandState>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<RegisterRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let keyed = keyed(&state, &headers, Caller::Admin, "registerProduct", &request)?;
    let product = NewProduct {
        name: request.name,
        price: request.price,
        stock: request.stock,
    };
    let executed = state
        .services
        .register_product(product, metadata::from_request(&headers), keyed.key())
        .await?;
    Ok((
        StatusCode::CREATED,
        consistency_header(&executed.token),
        Json(ProductResponse::try_from(executed.reply)?),
    ))
}

/// Adds stock to a product (admin).
#[utoipa::path(
    post,
    path = "/v1/products/{productId}/restock",
    tag = "products",
    operation_id = "restockProduct",
    security(("adminToken" = [])),
    params(("productId" = ProductId, Path, description = "The product")),
    request_body = RestockRequest,
    responses(
        (status = 200, description = "Restocked; the product as it is now", body = ProductResponse),
        (status = 404, description = "`not-found`: no such product", body = ProblemSchema, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(product_id = %product_id))]
pub(super) async fn restock(
    State(state): State<CommandState>,
    ApiPath(product_id): ApiPath<ProductId>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<RestockRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let keyed = keyed(
        &state,
        &headers,
        Caller::Admin,
        "restockProduct",
        &(product_id, &request),
    )?;
    let executed = state
        .services
        .restock(
            product_id,
            request.quantity,
            metadata::from_request(&headers),
            keyed.key(),
        )
        .await?;
    Ok((
        consistency_header(&executed.token),
        Json(ProductResponse::try_from(executed.reply)?),
    ))
}
