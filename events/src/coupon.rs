//! Coupon events (`coupon-{couponId}`): a first-come-first-served coupon and its issues.

use crate::codec::{event_enum, no_upcasts};
use crate::ids::{CouponId, OrderId, UserCouponId, UserId};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum DiscountKind {
    /// Won off the order total, capped at the total.
    Fixed,
    /// Percent (1..=100) off, rounded down to the won.
    Percent,
}

impl DiscountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DiscountKind::Fixed => "fixed",
            DiscountKind::Percent => "percent",
        }
    }
}

/// `{kind, value}` exactly as registered; the coupon aggregate validates it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema, utoipa::ToSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct Discount {
    pub kind: DiscountKind,
    /// Won off (`fixed`, 1 to 1,000,000,000) or percent off (`percent`, 1..=100).
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub value: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CouponRegistered {
    pub coupon_id: CouponId,
    pub name: String,
    pub discount: Discount,
    pub total_quantity: i64,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CouponIssued {
    pub coupon_id: CouponId,
    pub user_id: UserId,
    pub user_coupon_id: UserCouponId,
    /// 1 for the first coupon issued, `totalQuantity` for the last.
    pub sequence: i64,
    pub issued_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CouponUsed {
    pub coupon_id: CouponId,
    pub user_coupon_id: UserCouponId,
    pub order_id: OrderId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CouponRestored {
    pub coupon_id: CouponId,
    pub user_coupon_id: UserCouponId,
    pub order_id: OrderId,
}

/// An order's coupon compensated where the order never used it (the coupon was refused
/// it, or the compensation ran before the use arrived): recorded so that a use for that
/// order arriving late, from a second driver of the saga, is refused instead of taking
/// the coupon for a cancelled order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CouponUseVoided {
    pub coupon_id: CouponId,
    pub user_coupon_id: UserCouponId,
    pub order_id: OrderId,
}

event_enum! {
    pub enum CouponEvent upcast no_upcasts {
        CouponRegistered(CouponRegistered) as "CouponRegistered" = 1,
        CouponIssued(CouponIssued) as "CouponIssued" = 1,
        CouponUsed(CouponUsed) as "CouponUsed" = 1,
        CouponRestored(CouponRestored) as "CouponRestored" = 1,
        CouponUseVoided(CouponUseVoided) as "CouponUseVoided" = 1,
    }
}
