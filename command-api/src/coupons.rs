use super::error::ApiError;
use super::idempotency::{Caller, keyed};
use super::{CommandState, consistency_header, metadata};
use api_common::openapi::ProblemSchema;
use api_common::{ApiJson, ApiPath};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use domain::coupon::CouponReply;
use events::{CouponId, Discount, UserCouponId, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use write_side::commands::NewCoupon;

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = RegisterCouponRequest)]
pub(super) struct RegisterRequest {
    /// 1 to 200 characters, not blank.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    name: String,
    discount: Discount,
    #[schema(minimum = 1, maximum = 10_000_000)]
    total_quantity: i64,
    /// Issuable from this instant on (RFC 3339); no lower bound if absent.
    valid_from: Option<DateTime<Utc>>,
    /// Issuable and usable until this instant (RFC 3339); no end if absent.
    valid_until: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
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

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct IssueRequest {
    user_id: UserId,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct IssueResponse {
    coupon_id: CouponId,
    user_id: UserId,
    user_coupon_id: UserCouponId,
    sequence: i64,
    remaining: i64,
}

/// Registers a first-come-first-served coupon (admin).
#[utoipa::path(
    post,
    path = "/v1/coupons",
    tag = "coupons",
    operation_id = "registerCoupon",
    security(("adminToken" = [])),
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered", body = CouponResponse),
    )
)]
#[tracing::instrument(skip_all)]
pub(super) async fn register(
    State(state): State<CommandState>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<RegisterRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let keyed = keyed(&state, &headers, Caller::Admin, "registerCoupon", &request)?;
    let coupon = NewCoupon {
        name: request.name,
        discount: request.discount,
        total_quantity: request.total_quantity,
        valid_from: request.valid_from,
        valid_until: request.valid_until,
    };
    let executed = state
        .services
        .register_coupon(coupon, metadata::from_request(&headers), keyed.key())
        .await?;
    let reply: CouponReply = executed.reply;
    let coupon = reply
        .coupon
        .ok_or_else(|| inconsistent("a registered coupon has no details"))?;
    Ok((
        StatusCode::CREATED,
        consistency_header(&executed.token),
        Json(CouponResponse {
            coupon_id: coupon.coupon_id,
            name: coupon.name,
            discount: coupon.discount,
            total_quantity: coupon.total_quantity,
            issued_quantity: reply.issued_quantity,
            remaining: reply.remaining,
            valid_from: coupon.valid_from,
            valid_until: coupon.valid_until,
        }),
    ))
}

/// Issues one of the coupon to a user, in arrival order, exactly up to its total quantity.
#[utoipa::path(
    post,
    path = "/v1/coupons/{couponId}/issue",
    tag = "coupons",
    operation_id = "issueCoupon",
    security((), ("userJwt" = [])),
    params(("couponId" = CouponId, Path, description = "The coupon")),
    request_body = IssueRequest,
    responses(
        (status = 201, description = "Issued", body = IssueResponse),
        (status = 404, description = "`not-found`: no such coupon", body = ProblemSchema, content_type = "application/problem+json"),
        (status = 429, description = "`rate-limited`: too many of these from one user; retry after Retry-After seconds", body = ProblemSchema, content_type = "application/problem+json", headers(("Retry-After" = u32, description = "Seconds to wait"))),
        (status = 409, description = "`coupon-sold-out`, `coupon-already-issued` (one per user) or `coupon-not-active` (outside its validity window)", body = ProblemSchema, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(coupon_id = %coupon_id))]
pub(super) async fn issue(
    State(state): State<CommandState>,
    ApiPath(coupon_id): ApiPath<CouponId>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<IssueRequest>,
) -> Result<impl IntoResponse, ApiError> {
    state.users.authorize(&headers, request.user_id.get())?;
    state.users.throttle(request.user_id.get())?;
    let keyed = keyed(
        &state,
        &headers,
        Caller::User(request.user_id),
        "issueCoupon",
        &(coupon_id, &request),
    )?;
    let executed = state
        .services
        .issue_coupon(
            coupon_id,
            request.user_id,
            metadata::from_request(&headers),
            keyed.key(),
        )
        .await?;
    let reply = executed.reply;
    let issued = reply
        .user_coupon
        .ok_or_else(|| inconsistent("an accepted issue left the user without a coupon"))?;
    Ok((
        StatusCode::CREATED,
        consistency_header(&executed.token),
        Json(IssueResponse {
            coupon_id,
            user_id: request.user_id,
            user_coupon_id: issued.user_coupon_id,
            sequence: issued.sequence,
            remaining: reply.remaining,
        }),
    ))
}

/// A reply that contradicts the command it answers: a bug, reported as a 500.
fn inconsistent(what: &str) -> ApiError {
    ApiError::Bug(what.to_owned())
}
