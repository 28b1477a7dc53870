//! Order events (`order-{orderId}`): an order and the saga steps that settle it.
//!
//! `OrderCompleted` is what the data platform and the sales ranking consume, so it repeats
//! everything they need (who, what, how many, how much, when) instead of making them join
//! it with `OrderPlaced`.

use crate::codec::{event_enum, no_upcasts};
use crate::ids::{CouponId, OrderId, ProductId, UserCouponId, UserId};
use crate::money::Krw;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One product in an order, at the unit price it had when the order was placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderLine {
    pub product_id: ProductId,
    pub quantity: i64,
    pub unit_price: Krw,
}

/// Why an order was cancelled; the kebab-case form is also the HTTP problem code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CancelReason {
    InsufficientStock,
    InsufficientBalance,
    /// Unknown, not the user's, already used or expired.
    CouponUnavailable,
    /// A line names a product that does not exist.
    NotFound,
}

impl CancelReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CancelReason::InsufficientStock => "insufficient-stock",
            CancelReason::InsufficientBalance => "insufficient-balance",
            CancelReason::CouponUnavailable => "coupon-unavailable",
            CancelReason::NotFound => "not-found",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderPlaced {
    pub order_id: OrderId,
    pub user_id: UserId,
    pub lines: Vec<OrderLine>,
    pub user_coupon_id: Option<UserCouponId>,
    /// Sum of `unit_price * quantity` over the lines, before any discount.
    pub total_amount: Krw,
    pub placed_at: DateTime<Utc>,
}

/// Every line's stock is reserved (the saga reserves all or nothing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderStockReserved {
    pub order_id: OrderId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderCouponApplied {
    pub order_id: OrderId,
    pub user_coupon_id: UserCouponId,
    pub coupon_id: CouponId,
    pub discount_amount: Krw,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderPaid {
    pub order_id: OrderId,
    /// `totalAmount - discountAmount`, deducted from the user's points.
    pub paid_amount: Krw,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderCompleted {
    pub order_id: OrderId,
    pub user_id: UserId,
    pub lines: Vec<OrderLine>,
    pub total_amount: Krw,
    pub discount_amount: Krw,
    pub paid_amount: Krw,
    pub completed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderCancelled {
    pub order_id: OrderId,
    pub reason: CancelReason,
    pub cancelled_at: DateTime<Utc>,
}

event_enum! {
    pub enum OrderEvent upcast no_upcasts {
        OrderPlaced(OrderPlaced) as "OrderPlaced" = 1,
        OrderStockReserved(OrderStockReserved) as "OrderStockReserved" = 1,
        OrderCouponApplied(OrderCouponApplied) as "OrderCouponApplied" = 1,
        OrderPaid(OrderPaid) as "OrderPaid" = 1,
        OrderCompleted(OrderCompleted) as "OrderCompleted" = 1,
        OrderCancelled(OrderCancelled) as "OrderCancelled" = 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_reasons_serialize_as_their_problem_codes() {
        for reason in [
            CancelReason::InsufficientStock,
            CancelReason::InsufficientBalance,
            CancelReason::CouponUnavailable,
            CancelReason::NotFound,
        ] {
            assert_eq!(
                serde_json::to_value(reason).unwrap(),
                serde_json::Value::String(reason.as_str().to_owned())
            );
        }
    }
}
