//! What a run of order events does to the `orders` read model, as data: the events of a
//! batch fold into one change per order, so the projection writes each order once per
//! batch (an order's saga is several events, usually close together). Pure; no I/O.

use chrono::{DateTime, Utc};
use events::order::OrderPlaced;
use events::{CancelReason, OrderEvent};
use std::collections::BTreeMap;

/// An order's status as stored and served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OrderStatus {
    Pending,
    Completed,
    Cancelled,
}

impl OrderStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "PENDING",
            OrderStatus::Completed => "COMPLETED",
            OrderStatus::Cancelled => "CANCELLED",
        }
    }
}

/// The net effect of one order's events in a batch. Fields left `None` keep what the row
/// already holds; `placed` is set when the batch holds the order's first event, and the
/// row must then be inserted instead of updated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OrderChange {
    pub placed: Option<OrderPlaced>,
    pub status: Option<OrderStatus>,
    pub discount_amount: Option<i64>,
    pub paid_amount: Option<i64>,
    pub reason: Option<CancelReason>,
    /// When the last of the events was recorded.
    pub updated: DateTime<Utc>,
}

impl OrderChange {
    fn new(updated: DateTime<Utc>) -> Self {
        Self {
            placed: None,
            status: None,
            discount_amount: None,
            paid_amount: None,
            reason: None,
            updated,
        }
    }
}

/// Order id -> its change; ordered by id so writers lock rows in one order.
pub(crate) type OrderChanges = BTreeMap<i64, OrderChange>;

/// Folds `event` (recorded at `at`) into `changes`. Events must come in stream order, as
/// every feed delivers them; the saga only moves an order forward, so the last value of
/// each field wins.
pub(crate) fn fold(changes: &mut OrderChanges, event: &OrderEvent, at: DateTime<Utc>) {
    let order_id = match event {
        OrderEvent::OrderPlaced(e) => e.order_id,
        OrderEvent::OrderStockReserved(e) => e.order_id,
        OrderEvent::OrderCouponApplied(e) => e.order_id,
        OrderEvent::OrderPaid(e) => e.order_id,
        OrderEvent::OrderCompleted(e) => e.order_id,
        OrderEvent::OrderCancelled(e) => e.order_id,
    };
    let change = changes
        .entry(order_id.get())
        .or_insert_with(|| OrderChange::new(at));
    change.updated = at;
    match event {
        OrderEvent::OrderPlaced(e) => {
            change.placed = Some(e.clone());
            change.status = Some(OrderStatus::Pending);
        }
        // Reservation shows in no column; the row's `updated` still moves.
        OrderEvent::OrderStockReserved(_) => {}
        OrderEvent::OrderCouponApplied(e) => {
            change.discount_amount = Some(e.discount_amount.won());
        }
        OrderEvent::OrderPaid(e) => change.paid_amount = Some(e.paid_amount.won()),
        OrderEvent::OrderCompleted(e) => {
            change.status = Some(OrderStatus::Completed);
            change.discount_amount = Some(e.discount_amount.won());
            change.paid_amount = Some(e.paid_amount.won());
        }
        OrderEvent::OrderCancelled(e) => {
            change.status = Some(OrderStatus::Cancelled);
            change.reason = Some(e.reason);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use events::order::{OrderCancelled, OrderCompleted, OrderCouponApplied, OrderPaid};
    use events::{CouponId, Krw, OrderId, OrderLine, ProductId, UserCouponId, UserId};

    fn at(second: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 1, 2, second).unwrap()
    }

    fn won(amount: i64) -> Krw {
        Krw::new(amount).unwrap()
    }

    fn placed(order: i64) -> OrderEvent {
        OrderPlaced {
            order_id: OrderId::new(order).unwrap(),
            user_id: UserId::new(42).unwrap(),
            lines: vec![OrderLine {
                product_id: ProductId::new(7).unwrap(),
                quantity: 2,
                unit_price: won(15_000),
            }],
            user_coupon_id: None,
            total_amount: won(30_000),
            placed_at: at(0),
        }
        .into()
    }

    #[test]
    fn a_whole_saga_in_one_batch_folds_into_one_insert_of_the_final_state() {
        let order = OrderId::new(9).unwrap();
        let mut changes = OrderChanges::new();
        fold(&mut changes, &placed(9), at(0));
        fold(
            &mut changes,
            &OrderCouponApplied {
                order_id: order,
                user_coupon_id: UserCouponId::new(1).unwrap(),
                coupon_id: CouponId::new(3).unwrap(),
                discount_amount: won(3_000),
            }
            .into(),
            at(1),
        );
        fold(
            &mut changes,
            &OrderPaid {
                order_id: order,
                paid_amount: won(27_000),
            }
            .into(),
            at(2),
        );
        let change = &changes[&9];
        assert!(change.placed.is_some());
        assert_eq!(change.status, Some(OrderStatus::Pending));
        assert_eq!(
            (change.discount_amount, change.paid_amount),
            (Some(3_000), Some(27_000))
        );
        assert_eq!(change.updated, at(2));
    }

    #[test]
    fn later_events_of_a_known_order_only_name_what_they_change() {
        let order = OrderId::new(5).unwrap();
        let mut changes = OrderChanges::new();
        fold(
            &mut changes,
            &OrderCompleted {
                order_id: order,
                user_id: UserId::new(42).unwrap(),
                lines: Vec::new(),
                total_amount: won(10_000),
                discount_amount: won(1_000),
                paid_amount: won(9_000),
                completed_at: at(4),
            }
            .into(),
            at(5),
        );
        let change = &changes[&5];
        assert!(change.placed.is_none());
        assert_eq!(change.status, Some(OrderStatus::Completed));
        assert_eq!(change.paid_amount, Some(9_000));
        assert_eq!(change.reason, None);

        fold(
            &mut changes,
            &OrderCancelled {
                order_id: OrderId::new(6).unwrap(),
                reason: CancelReason::InsufficientBalance,
                cancelled_at: at(6),
            }
            .into(),
            at(6),
        );
        let cancelled = &changes[&6];
        assert_eq!(cancelled.status, Some(OrderStatus::Cancelled));
        assert_eq!(cancelled.reason, Some(CancelReason::InsufficientBalance));
        assert_eq!(cancelled.paid_amount, None);
    }
}
