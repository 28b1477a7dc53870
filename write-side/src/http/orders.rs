use super::error::ApiError;
use super::{CommandState, consistency_header, metadata};
use crate::domain::order::{OrderStatus, PlacedOrder};
use crate::saga::{PlaceError, PlaceOrder};
use api_common::{ApiJson, ErrorCode, Problem};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use events::{CancelReason, Krw, OrderId, ProductId, UserCouponId, UserId};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PlaceRequest {
    user_id: UserId,
    items: Vec<ItemRequest>,
    user_coupon_id: Option<UserCouponId>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ItemRequest {
    product_id: ProductId,
    quantity: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OrderResponse {
    order_id: OrderId,
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
#[tracing::instrument(skip_all, fields(user_id = %request.user_id))]
pub(super) async fn place(
    State(state): State<CommandState>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<PlaceRequest>,
) -> Result<Response, ApiError> {
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
        .place(request, metadata::from_request(&headers))
        .await
        .map_err(|error| match error {
            PlaceError::Invalid(error) => ApiError::Problem(Problem::validation(error.to_string())),
            PlaceError::Unavailable(error) => ApiError::Saga(error),
        })?;
    let order = &driven.order;
    let body = OrderResponse::from(order);
    let response = match (order.status(), order.cancelled) {
        (OrderStatus::Cancelled, Some(cancelled)) => {
            let problem = Problem::conflict(
                reason_code(cancelled.reason),
                format!("order {} was cancelled", order.order_id),
            )
            .with_extensions(&body);
            return Ok(with_token(problem.into_response(), driven.token.as_ref()));
        }
        (OrderStatus::Completed, _) => (StatusCode::CREATED, Json(body)).into_response(),
        _ => (StatusCode::ACCEPTED, Json(body)).into_response(),
    };
    Ok(with_token(response, driven.token.as_ref()))
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
