//! An order (`order-{orderId}`) and the progress of the saga that settles it.
//!
//! The saga does the work in other aggregates (stock, coupon, points) and records each
//! finished step here, so this stream is the saga's durable progress: after a crash it
//! reads the order and resumes from the last recorded step or compensates.
//! Every step may therefore be sent again: a step already recorded is a no-op, a step
//! whose predecessor is missing is an error, and the order never moves backwards.

use super::Aggregate;
use chrono::{DateTime, Utc};
use events::order::{
    OrderCancelled, OrderCompleted, OrderCouponApplied, OrderPaid, OrderPlaced, OrderStockReserved,
};
use events::{
    CancelReason, CouponId, Discount, DiscountKind, Krw, OrderEvent, OrderId, OrderLine, ProductId,
    UserCouponId, UserId,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

#[cfg(test)]
mod tests;

/// Most lines one order may have.
pub const MAX_LINES: usize = 50;
/// Most units of one product one order may buy (also the stock reservation cap).
pub const MAX_QUANTITY: i64 = 1_000;

/// The saga's forward steps, in order. `Ord` is the order they happen in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Progress {
    Placed,
    StockReserved,
    /// Skipped by orders without a coupon.
    CouponApplied,
    Paid,
    Completed,
}

/// The order's status as users see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    Pending,
    Completed,
    Cancelled,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "PENDING",
            OrderStatus::Completed => "COMPLETED",
            OrderStatus::Cancelled => "CANCELLED",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// `None` until placed.
    placed: Option<PlacedOrder>,
}

/// A placed order and how far its saga got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacedOrder {
    pub order_id: OrderId,
    pub user_id: UserId,
    pub lines: Vec<OrderLine>,
    pub user_coupon_id: Option<UserCouponId>,
    pub total_amount: Krw,
    pub placed_at: DateTime<Utc>,
    /// The furthest forward step recorded. A cancel does not reset it, so the saga
    /// knows what to compensate and a replayed step stays a no-op.
    pub progress: Progress,
    /// The coupon actually applied, once `OrderCouponApplied` is recorded.
    pub applied_coupon: Option<CouponId>,
    pub discount_amount: Krw,
    /// What `OrderPaid` deducted; kept after a cancel (the saga refunds it elsewhere).
    pub paid_amount: Krw,
    pub completed_at: Option<DateTime<Utc>>,
    pub cancelled: Option<Cancellation>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancellation {
    pub reason: CancelReason,
    pub at: DateTime<Utc>,
}

impl PlacedOrder {
    pub fn status(&self) -> OrderStatus {
        if self.cancelled.is_some() {
            OrderStatus::Cancelled
        } else if self.progress == Progress::Completed {
            OrderStatus::Completed
        } else {
            OrderStatus::Pending
        }
    }

    pub fn view(&self) -> OrderView {
        OrderView {
            order_id: self.order_id,
            status: self.status(),
            total_amount: self.total_amount,
            discount_amount: self.discount_amount,
            paid_amount: self.paid_amount,
            reason: self.cancelled.map(|cancelled| cancelled.reason),
        }
    }

    /// What the user pays: the total less the applied discount (never negative,
    /// because the discount is capped at the total).
    pub fn amount_due(&self) -> Krw {
        self.total_amount
            .checked_sub(self.discount_amount)
            .unwrap_or(Krw::ZERO)
    }

    /// What the user pays once `discount` is applied: what `Settle` records as paid, so
    /// the saga can deduct it before the coupon is recorded here. A coupon already
    /// recorded keeps its discount.
    pub fn amount_due_with(&self, discount: Option<&Discount>) -> Krw {
        match discount {
            Some(discount) if self.applied_coupon.is_none() => self
                .total_amount
                .checked_sub(discount_for(self.total_amount, discount))
                .unwrap_or(Krw::ZERO),
            _ => self.amount_due(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderCommand {
    /// `lines` carry the unit prices the caller read from the catalog at placement.
    Place {
        order_id: OrderId,
        user_id: UserId,
        lines: Vec<OrderLine>,
        user_coupon_id: Option<UserCouponId>,
        placed_at: DateTime<Utc>,
    },
    /// Every line's stock is reserved.
    MarkStockReserved,
    /// The order's coupon is used; `discount` is the coupon's registered discount.
    ApplyCoupon {
        user_coupon_id: UserCouponId,
        coupon_id: CouponId,
        discount: Discount,
    },
    /// The amount due was deducted from the user's points.
    MarkPaid,
    Complete {
        at: DateTime<Utc>,
    },
    Cancel {
        reason: CancelReason,
        at: DateTime<Utc>,
    },
    /// Every participant step is done (stock reserved, the coupon used, the points
    /// deducted): records whatever of `MarkStockReserved`, `ApplyCoupon`, `MarkPaid` and
    /// `Complete` is not recorded yet, in one append. `coupon` is the order's coupon and
    /// its registered discount (`None` for an order without one).
    Settle {
        coupon: Option<AppliedCoupon>,
        at: DateTime<Utc>,
    },
}

/// The coupon an order used, as the coupon's stream answered it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppliedCoupon {
    pub user_coupon_id: UserCouponId,
    pub coupon_id: CouponId,
    pub discount: Discount,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error("an order must have 1 to {MAX_LINES} lines, got {0}")]
    InvalidLineCount(usize),
    #[error(
        "quantity must be between 1 and {MAX_QUANTITY}, got {quantity} for product {product_id}"
    )]
    InvalidQuantity {
        product_id: ProductId,
        quantity: i64,
    },
    #[error("product {0} appears on more than one line")]
    DuplicateProduct(ProductId),
    #[error("the order total is too large")]
    TotalOverflow,
    #[error("another order was already placed under this id")]
    AlreadyPlaced,
    #[error("order not found")]
    NotFound,
    #[error("invalid discount: fixed must be at least 1 won, percent 1 to 100")]
    InvalidDiscount(Discount),
    #[error("user coupon {0} is not this order's coupon")]
    WrongCoupon(UserCouponId),
    #[error("cannot record {step:?} when the order is at {progress:?}")]
    OutOfOrder { step: Progress, progress: Progress },
    #[error("the order was cancelled ({})", .0.as_str())]
    Cancelled(CancelReason),
    #[error("the order is already completed")]
    AlreadyCompleted,
}

/// The order as the caller sees it after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderView {
    pub order_id: OrderId,
    pub status: OrderStatus,
    pub total_amount: Krw,
    pub discount_amount: Krw,
    pub paid_amount: Krw,
    pub reason: Option<CancelReason>,
}

/// The discount a coupon gives on `total`: fixed won or a percentage rounded down to the
/// won, never more than the total. Values outside what a coupon may be registered with
/// (fixed below 1, percent outside 1..=100) are clamped, so this never fails; `ApplyCoupon`
/// rejects them before they get here.
pub fn discount_for(total: Krw, discount: &Discount) -> Krw {
    let total_won = total.won();
    let won = match discount.kind {
        DiscountKind::Fixed => discount.value.clamp(0, total_won),
        DiscountKind::Percent => {
            let percent = i128::from(discount.value.clamp(0, 100));
            // i128 so `total * percent` cannot overflow; the result is at most `total`.
            let floored = i128::from(total_won) * percent / 100;
            i64::try_from(floored).unwrap_or(total_won)
        }
    };
    Krw::new(won).unwrap_or(Krw::ZERO)
}

fn is_valid_discount(discount: &Discount) -> bool {
    match discount.kind {
        DiscountKind::Fixed => discount.value >= 1,
        DiscountKind::Percent => (1..=100).contains(&discount.value),
    }
}

/// Checks the lines and returns their total.
pub fn validate_lines(lines: &[OrderLine]) -> Result<Krw, OrderError> {
    if !(1..=MAX_LINES).contains(&lines.len()) {
        return Err(OrderError::InvalidLineCount(lines.len()));
    }
    let mut seen = BTreeSet::new();
    let mut total = Krw::ZERO;
    for line in lines {
        if !(1..=MAX_QUANTITY).contains(&line.quantity) {
            return Err(OrderError::InvalidQuantity {
                product_id: line.product_id,
                quantity: line.quantity,
            });
        }
        // Rejected rather than merged: the saga reserves per product, and a client that
        // sends one product twice more likely has a bug than wants the sum.
        if !seen.insert(line.product_id) {
            return Err(OrderError::DuplicateProduct(line.product_id));
        }
        total = line
            .unit_price
            .won()
            .checked_mul(line.quantity)
            .and_then(|won| Krw::new(won).ok())
            .and_then(|amount| total.checked_add(amount))
            .ok_or(OrderError::TotalOverflow)?;
    }
    Ok(total)
}

impl Order {
    pub fn placed(&self) -> Option<&PlacedOrder> {
        self.placed.as_ref()
    }

    pub fn view(&self) -> Option<OrderView> {
        self.placed.as_ref().map(PlacedOrder::view)
    }

    fn existing(&self) -> Result<&PlacedOrder, OrderError> {
        self.placed.as_ref().ok_or(OrderError::NotFound)
    }

    fn place(
        &self,
        order_id: OrderId,
        user_id: UserId,
        lines: &[OrderLine],
        user_coupon_id: Option<UserCouponId>,
        placed_at: DateTime<Utc>,
    ) -> Result<Vec<OrderEvent>, OrderError> {
        if let Some(existing) = &self.placed {
            // A resent placement (same order, maybe a later clock) is a no-op.
            let same = existing.order_id == order_id
                && existing.user_id == user_id
                && existing.lines == lines
                && existing.user_coupon_id == user_coupon_id;
            return if same {
                Ok(Vec::new())
            } else {
                Err(OrderError::AlreadyPlaced)
            };
        }
        let total_amount = validate_lines(lines)?;
        Ok(vec![OrderEvent::OrderPlaced(OrderPlaced {
            order_id,
            user_id,
            lines: lines.to_vec(),
            user_coupon_id,
            total_amount,
            placed_at,
        })])
    }
}

/// The checks every forward step shares, once it is known the step is not yet recorded:
/// a finished order takes no more steps, and `step` must directly follow `progress`.
fn ensure_next(order: &PlacedOrder, step: Progress, ready: bool) -> Result<(), OrderError> {
    if let Some(cancelled) = order.cancelled {
        return Err(OrderError::Cancelled(cancelled.reason));
    }
    if order.progress == Progress::Completed {
        return Err(OrderError::AlreadyCompleted);
    }
    if !ready {
        return Err(OrderError::OutOfOrder {
            step,
            progress: order.progress,
        });
    }
    Ok(())
}

fn mark_stock_reserved(order: &PlacedOrder) -> Result<Vec<OrderEvent>, OrderError> {
    if order.progress >= Progress::StockReserved {
        return Ok(Vec::new());
    }
    ensure_next(order, Progress::StockReserved, true)?;
    Ok(vec![OrderEvent::OrderStockReserved(OrderStockReserved {
        order_id: order.order_id,
    })])
}

fn apply_coupon(
    order: &PlacedOrder,
    user_coupon_id: UserCouponId,
    coupon_id: CouponId,
    discount: &Discount,
) -> Result<Vec<OrderEvent>, OrderError> {
    if order.user_coupon_id != Some(user_coupon_id) {
        return Err(OrderError::WrongCoupon(user_coupon_id));
    }
    if !is_valid_discount(discount) {
        return Err(OrderError::InvalidDiscount(*discount));
    }
    match order.applied_coupon {
        Some(applied) if applied == coupon_id => return Ok(Vec::new()),
        // The user coupon belongs to one coupon, so another coupon id is a caller bug.
        Some(_) => return Err(OrderError::WrongCoupon(user_coupon_id)),
        None => {}
    }
    ensure_next(
        order,
        Progress::CouponApplied,
        order.progress == Progress::StockReserved,
    )?;
    Ok(vec![OrderEvent::OrderCouponApplied(OrderCouponApplied {
        order_id: order.order_id,
        user_coupon_id,
        coupon_id,
        discount_amount: discount_for(order.total_amount, discount),
    })])
}

fn mark_paid(order: &PlacedOrder) -> Result<Vec<OrderEvent>, OrderError> {
    if order.progress >= Progress::Paid {
        return Ok(Vec::new());
    }
    // An order with a coupon is paid only after the coupon is applied, so the amount
    // deducted is the discounted one.
    let ready = match order.user_coupon_id {
        Some(_) => order.progress == Progress::CouponApplied,
        None => order.progress == Progress::StockReserved,
    };
    ensure_next(order, Progress::Paid, ready)?;
    Ok(vec![OrderEvent::OrderPaid(OrderPaid {
        order_id: order.order_id,
        paid_amount: order.amount_due(),
    })])
}

fn complete(order: &PlacedOrder, at: DateTime<Utc>) -> Result<Vec<OrderEvent>, OrderError> {
    if order.progress == Progress::Completed {
        return Ok(Vec::new());
    }
    ensure_next(order, Progress::Completed, order.progress == Progress::Paid)?;
    Ok(vec![OrderEvent::OrderCompleted(OrderCompleted {
        order_id: order.order_id,
        user_id: order.user_id,
        lines: order.lines.clone(),
        total_amount: order.total_amount,
        discount_amount: order.discount_amount,
        paid_amount: order.paid_amount,
        completed_at: at,
    })])
}

fn cancel(
    order: &PlacedOrder,
    reason: CancelReason,
    at: DateTime<Utc>,
) -> Result<Vec<OrderEvent>, OrderError> {
    // A repeated cancel (even with another reason) is a no-op: the first reason stands.
    if order.cancelled.is_some() {
        return Ok(Vec::new());
    }
    if order.progress == Progress::Completed {
        return Err(OrderError::AlreadyCompleted);
    }
    Ok(vec![OrderEvent::OrderCancelled(OrderCancelled {
        order_id: order.order_id,
        reason,
        cancelled_at: at,
    })])
}

/// The forward steps not recorded yet, decided one after another against the order as
/// each leaves it, so every check of the single steps applies.
fn settle(
    order: &Order,
    coupon: Option<&AppliedCoupon>,
    at: DateTime<Utc>,
) -> Result<Vec<OrderEvent>, OrderError> {
    let placed = order.existing()?;
    if placed.progress == Progress::Completed {
        return Ok(Vec::new());
    }
    let mut steps = vec![OrderCommand::MarkStockReserved];
    if placed.user_coupon_id.is_some() && placed.applied_coupon.is_none() {
        let coupon = coupon.ok_or(OrderError::OutOfOrder {
            step: Progress::CouponApplied,
            progress: placed.progress,
        })?;
        steps.push(OrderCommand::ApplyCoupon {
            user_coupon_id: coupon.user_coupon_id,
            coupon_id: coupon.coupon_id,
            discount: coupon.discount,
        });
    }
    steps.push(OrderCommand::MarkPaid);
    steps.push(OrderCommand::Complete { at });
    let mut state = order.clone();
    let mut events = Vec::new();
    for step in &steps {
        let decided = state.decide(step)?;
        state = decided.iter().fold(state, Order::evolve);
        events.extend(decided);
    }
    Ok(events)
}

impl Aggregate for Order {
    type Command = OrderCommand;
    type Event = OrderEvent;
    type Error = OrderError;
    /// The whole order (the saga drives on from it); `None` only for an order never
    /// placed, which no successful command leaves behind.
    type Reply = Option<PlacedOrder>;

    /// 2: the payload starts with the layout fingerprint.
    const SNAPSHOT_VERSION: u16 = 2;

    const NAME: &'static str = "order";

    fn trace_enums(tracer: &mut serde_reflection::Tracer) -> serde_reflection::Result<()> {
        tracer.trace_simple_type::<Progress>()?;
        tracer.trace_simple_type::<CancelReason>()?;
        Ok(())
    }

    fn command_name(command: &Self::Command) -> &'static str {
        match command {
            OrderCommand::Place { .. } => "place",
            OrderCommand::MarkStockReserved => "mark-stock-reserved",
            OrderCommand::ApplyCoupon { .. } => "apply-coupon",
            OrderCommand::MarkPaid => "mark-paid",
            OrderCommand::Complete { .. } => "complete",
            OrderCommand::Cancel { .. } => "cancel",
            OrderCommand::Settle { .. } => "settle",
        }
    }

    fn decide(&self, command: &OrderCommand) -> Result<Vec<OrderEvent>, OrderError> {
        match command {
            OrderCommand::Place {
                order_id,
                user_id,
                lines,
                user_coupon_id,
                placed_at,
            } => self.place(*order_id, *user_id, lines, *user_coupon_id, *placed_at),
            OrderCommand::MarkStockReserved => mark_stock_reserved(self.existing()?),
            OrderCommand::ApplyCoupon {
                user_coupon_id,
                coupon_id,
                discount,
            } => apply_coupon(self.existing()?, *user_coupon_id, *coupon_id, discount),
            OrderCommand::MarkPaid => mark_paid(self.existing()?),
            OrderCommand::Complete { at } => complete(self.existing()?, *at),
            OrderCommand::Cancel { reason, at } => cancel(self.existing()?, *reason, *at),
            OrderCommand::Settle { coupon, at } => settle(self, coupon.as_ref(), *at),
        }
    }

    /// Events before placement, a second placement and a second cancel are ignored, and
    /// progress only ever rises; `decide` never produces the odd cases, so this only
    /// keeps `evolve` total.
    fn evolve(mut self, event: &OrderEvent) -> Self {
        let Some(order) = self.placed.as_mut() else {
            if let OrderEvent::OrderPlaced(placed) = event {
                self.placed = Some(PlacedOrder {
                    order_id: placed.order_id,
                    user_id: placed.user_id,
                    lines: placed.lines.clone(),
                    user_coupon_id: placed.user_coupon_id,
                    total_amount: placed.total_amount,
                    placed_at: placed.placed_at,
                    progress: Progress::Placed,
                    applied_coupon: None,
                    discount_amount: Krw::ZERO,
                    paid_amount: Krw::ZERO,
                    completed_at: None,
                    cancelled: None,
                });
            }
            return self;
        };
        let reached = match event {
            OrderEvent::OrderPlaced(_) => order.progress,
            OrderEvent::OrderStockReserved(_) => Progress::StockReserved,
            OrderEvent::OrderCouponApplied(applied) => {
                order.applied_coupon = Some(applied.coupon_id);
                order.discount_amount = applied.discount_amount;
                Progress::CouponApplied
            }
            OrderEvent::OrderPaid(paid) => {
                order.paid_amount = paid.paid_amount;
                Progress::Paid
            }
            OrderEvent::OrderCompleted(completed) => {
                order.completed_at = Some(completed.completed_at);
                Progress::Completed
            }
            OrderEvent::OrderCancelled(cancelled) => {
                order.cancelled.get_or_insert(Cancellation {
                    reason: cancelled.reason,
                    at: cancelled.cancelled_at,
                });
                // Not a forward step: progress stays where the saga got to.
                order.progress
            }
        };
        order.progress = order.progress.max(reached);
        self
    }

    fn reply(&self, _command: &OrderCommand) -> Option<PlacedOrder> {
        self.placed.clone()
    }
}
