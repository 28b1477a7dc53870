use super::error::ApiError;
use super::idempotency::{Caller, keyed};
use super::{CommandState, consistency_header, metadata};
use api_common::openapi::ProblemSchema;
use api_common::{ApiJson, ErrorCode, Problem};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::order::{OrderStatus, PlacedOrder};
use events::{CancelReason, Krw, OrderId, ProductId, UserCouponId, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use write_side::saga::{PlaceError, PlaceOrder};

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct PlaceRequest {
    user_id: UserId,
    /// 1 to 50 lines.
    #[schema(min_items = 1, max_items = 50)]
    items: Vec<ItemRequest>,
    /// A coupon the user holds, applied to the order total.
    user_coupon_id: Option<UserCouponId>,
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ItemRequest {
    product_id: ProductId,
    #[schema(minimum = 1, maximum = 1000)]
    quantity: i64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct OrderResponse {
    order_id: OrderId,
    #[schema(schema_with = status_schema)]
    status: OrderStatus,
    total_amount: Krw,
    discount_amount: Krw,
    paid_amount: Krw,
}

impl From<&PlacedOrder> for OrderResponse {
    fn from(order: &PlacedOrder) -> Self {
        Self {
            order_id: order.order_id,
            status: order.status(),
            total_amount: order.total_amount,
            discount_amount: order.discount_amount,
            paid_amount: order.paid_amount,
        }
    }
}

/// 201 COMPLETED, 409 CANCELLED (a problem whose code is the reason, with the order), or
/// 202 PENDING when the saga is still running after the wait.
#[utoipa::path(
    post,
    path = "/v1/orders",
    tag = "orders",
    operation_id = "placeOrder",
    security((), ("userJwt" = [])),
    request_body = PlaceRequest,
    responses(
        (status = 201, description = "COMPLETED: stock reserved, coupon applied, points deducted", body = OrderResponse),
        (status = 202, description = "PENDING: the saga is still running; read it at the query API's GET /v1/orders/{orderId}", body = OrderResponse),
        (status = 429, description = "`rate-limited`: too many of these from one user; retry after Retry-After seconds", body = ProblemSchema, content_type = "application/problem+json", headers(("Retry-After" = u32, description = "Seconds to wait"))),
        (status = 409, description = "CANCELLED: a problem whose code is the reason (`insufficient-stock`, `insufficient-balance`, `coupon-unavailable`, `not-found` for an unknown product), with the order as extension members: orderId, orderStatus (CANCELLED), totalAmount, discountAmount, paidAmount", body = ProblemSchema, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %request.user_id))]
pub(super) async fn place(
    State(state): State<CommandState>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<PlaceRequest>,
) -> Result<Response, ApiError> {
    state.users.authorize(&headers, request.user_id.get())?;
    state.users.throttle(request.user_id.get())?;
    let keyed = keyed(
        &state,
        &headers,
        Caller::User(request.user_id),
        "placeOrder",
        &request,
    )?;
    let request = PlaceOrder {
        user_id: request.user_id,
        items: request
            .items
            .into_iter()
            .map(|item| (item.product_id, item.quantity))
            .collect(),
        user_coupon_id: request.user_coupon_id,
    };
    let driven = state
        .saga
        .place(request, metadata::from_request(&headers), keyed.key())
        .await
        .map_err(|error| match error {
            PlaceError::Invalid(error) => ApiError::Problem(Problem::validation(error.to_string())),
            PlaceError::Unavailable(error) => ApiError::Saga(error),
            PlaceError::KeyReused => ApiError::KeyReused,
        })?;
    let order = &driven.order;
    let body = OrderResponse::from(order);
    let response = match (order.status(), order.cancelled) {
        (OrderStatus::Cancelled, Some(cancelled)) => {
            let problem = Problem::conflict(
                reason_code(cancelled.reason),
                format!("order {} was cancelled", order.order_id),
            )
            // The order's own `status` would shadow the problem's: it goes as `orderStatus`.
            .with_extensions(&body)
            .with_extensions(serde_json::json!({"orderStatus": order.status().as_str()}));
            return Ok(with_token(problem.into_response(), driven.token.as_ref()));
        }
        (OrderStatus::Completed, _) => (StatusCode::CREATED, Json(body)).into_response(),
        _ => (StatusCode::ACCEPTED, Json(body)).into_response(),
    };
    Ok(with_token(response, driven.token.as_ref()))
}

fn status_schema() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["PENDING", "COMPLETED", "CANCELLED"]))
}

fn reason_code(reason: CancelReason) -> ErrorCode {
    match reason {
        CancelReason::InsufficientStock => ErrorCode::InsufficientStock,
        CancelReason::InsufficientBalance => ErrorCode::InsufficientBalance,
        CancelReason::CouponUnavailable => ErrorCode::CouponUnavailable,
        CancelReason::NotFound => ErrorCode::NotFound,
    }
}

fn with_token(mut response: Response, token: Option<&events::ConsistencyToken>) -> Response {
    if let Some(token) = token {
        response.headers_mut().extend(consistency_header(token));
    }
    response
}
