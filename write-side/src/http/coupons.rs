use super::error::ApiError;
use super::{CommandState, consistency_header, metadata};
use crate::commands::NewCoupon;
use crate::domain::coupon::CouponReply;
use api_common::{ApiJson, ApiPath};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use events::{CouponId, Discount, UserCouponId, UserId};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RegisterRequest {
    name: String,
    discount: Discount,
    total_quantity: i64,
    valid_from: Option<DateTime<Utc>>,
    valid_until: Option<DateTime<Utc>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CouponResponse {
    coupon_id: CouponId,
    name: String,
    discount: Discount,
    total_quantity: i64,
    issued_quantity: i64,
    remaining: i64,
    valid_from: Option<DateTime<Utc>>,
    valid_until: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct IssueRequest {
    user_id: UserId,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IssueResponse {
    coupon_id: CouponId,
    user_id: UserId,
    user_coupon_id: UserCouponId,
    sequence: i64,
    remaining: i64,
}

#[tracing::instrument(skip_all)]
pub(super) async fn register(
    State(state): State<CommandState>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<RegisterRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let coupon = NewCoupon {
        name: request.name,
        discount: request.discount,
        total_quantity: request.total_quantity,
        valid_from: request.valid_from,
        valid_until: request.valid_until,
    };
    let executed = state
        .services
        .register_coupon(coupon, metadata::from_request(&headers))
        .await?;
    let reply: CouponReply = executed.reply;
    Ok((
        StatusCode::CREATED,
        consistency_header(executed.position),
        Json(CouponResponse {
            coupon_id: reply.coupon_id,
            name: reply.name,
            discount: reply.discount,
            total_quantity: reply.total_quantity,
            issued_quantity: reply.issued_quantity,
            remaining: reply.remaining,
            valid_from: reply.valid_from,
            valid_until: reply.valid_until,
        }),
    ))
}

#[tracing::instrument(skip_all, fields(coupon_id = %coupon_id))]
pub(super) async fn issue(
    State(state): State<CommandState>,
    ApiPath(coupon_id): ApiPath<CouponId>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<IssueRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let executed = state
        .services
        .issue_coupon(coupon_id, request.user_id, metadata::from_request(&headers))
        .await?;
    let reply = executed.reply;
    let (user_coupon_id, sequence) = reply.issued.ok_or_else(|| {
        ApiError::Store(std::sync::Arc::new(crate::store::StoreError::Corrupt(
            "an accepted issue left the user without a coupon".to_owned(),
        )))
    })?;
    Ok((
        StatusCode::CREATED,
        consistency_header(executed.position),
        Json(IssueResponse {
            coupon_id,
            user_id: request.user_id,
            user_coupon_id,
            sequence,
            remaining: reply.remaining,
        }),
    ))
}
