//! `GET /v1/orders/{orderId}`: the order's Redis hot view, else moka, else SQL.

use crate::QueryState;
use crate::consistency::{Consistent, ORDERS};
use crate::hot_view::{Fields, MalformedView};
use crate::layered::{Entity, read_entity};
use api_common::openapi::ProblemSchema;
use api_common::{ApiPath, Problem};
use axum::Json;
use axum::extract::State;
use events::names::hot_view::{View, field};
use events::{OrderId, StreamId};
use serde::{Deserialize, Serialize};
use sqlx::{AnyPool, Row};
use utoipa::ToSchema;
use utoipa::openapi::schema::{ObjectBuilder, Type};

/// One line; the Redis view stores the lines as this JSON.
#[derive(Clone, Serialize, Deserialize, sqlx::FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = OrderItem)]
pub(crate) struct OrderItemView {
    #[schema(value_type = events::ProductId)]
    product_id: i64,
    #[schema(minimum = 1)]
    quantity: i64,
    #[schema(value_type = events::Krw)]
    unit_price: i64,
}

#[derive(Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Order)]
pub(crate) struct OrderView {
    #[schema(value_type = events::OrderId)]
    order_id: i64,
    #[schema(value_type = events::UserId)]
    user_id: i64,
    #[schema(schema_with = status_schema)]
    status: String,
    items: Vec<OrderItemView>,
    #[schema(value_type = events::Krw)]
    total_amount: i64,
    #[schema(value_type = events::Krw)]
    discount_amount: i64,
    #[schema(value_type = events::Krw)]
    paid_amount: i64,
    /// Only a cancelled order has one (`insufficient-stock`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// An order and where its saga stands.
#[utoipa::path(
    get,
    path = "/v1/orders/{orderId}",
    tag = "orders",
    operation_id = "getOrder",
    params(("orderId" = OrderId, Path, description = "The order")),
    responses(
        (status = 200, description = "The order", body = OrderView),
        (status = 404, description = "`not-found`: no such order", body = ProblemSchema, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(order_id = %order_id, layer = tracing::field::Empty))]
pub(crate) async fn one(
    State(state): State<QueryState>,
    ApiPath(order_id): ApiPath<OrderId>,
    consistent: Consistent<ORDERS>,
) -> Result<Json<OrderView>, Problem> {
    let id = order_id.get();
    let entity = Entity {
        view: View::Order,
        id,
        stream: StreamId::order(order_id),
    };
    read_entity(
        &state,
        &consistent,
        entity,
        from_hash,
        &state.caches.orders,
        || load(&state.pool, id),
    )
    .await?
    .map(Json)
    .ok_or_else(|| Problem::not_found(format!("order {order_id} does not exist")))
}

fn status_schema() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["PENDING", "COMPLETED", "CANCELLED"]))
}

fn from_hash(fields: &Fields<'_>) -> Result<Option<OrderView>, MalformedView> {
    // The view keeps the lines as placed; SQL returns them by product, and both layers
    // must give the same answer.
    let mut items: Vec<OrderItemView> = fields.json(field::ITEMS)?;
    items.sort_by_key(|item| item.product_id);
    Ok(Some(OrderView {
        order_id: fields.int(field::ORDER_ID)?,
        user_id: fields.int(field::USER_ID)?,
        status: fields.text(field::STATUS)?,
        items,
        total_amount: fields.int(field::TOTAL_AMOUNT)?,
        discount_amount: fields.int(field::DISCOUNT_AMOUNT)?,
        paid_amount: fields.int(field::PAID_AMOUNT)?,
        reason: fields.optional_text(field::REASON),
    }))
}

async fn load(pool: &AnyPool, order_id: i64) -> Result<Option<OrderView>, sqlx::Error> {
    let Some(row) = sqlx::query(
        "SELECT order_id, user_id, status, total_amount, discount_amount, paid_amount, reason \
         FROM orders WHERE order_id = ?",
    )
    .bind(order_id)
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let items = sqlx::query_as::<_, OrderItemView>(
        "SELECT product_id, quantity, unit_price FROM order_lines WHERE order_id = ? \
         ORDER BY product_id",
    )
    .bind(order_id)
    .fetch_all(pool)
    .await?;
    Ok(Some(OrderView {
        order_id: row.try_get("order_id")?,
        user_id: row.try_get("user_id")?,
        status: row.try_get("status")?,
        items,
        total_amount: row.try_get("total_amount")?,
        discount_amount: row.try_get("discount_amount")?,
        paid_amount: row.try_get("paid_amount")?,
        reason: row.try_get("reason")?,
    }))
}
