//! Property tests on the pure domain: any sequence of commands, accepted or refused, keeps
//! every invariant of DESIGN.md. Each command is decided against the state so far; its
//! events (if any) are folded in, exactly as the executor does.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use chrono::{DateTime, Utc};
use events::{
    CancelReason, CouponEvent, CouponId, Discount, DiscountKind, Krw, OrderEvent, OrderId,
    OrderLine, ProductEvent, ProductId, UserCouponId, UserId, WalletEvent,
};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use write_side::domain::Aggregate;
use write_side::domain::coupon::{Coupon, CouponCommand};
use write_side::domain::order::{Order, OrderCommand, Progress};
use write_side::domain::product::{Product, ProductCommand};
use write_side::domain::wallet::{MAX_BALANCE, Wallet, WalletCommand};

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap()
}

fn order(n: u8) -> OrderId {
    OrderId::new(i64::from(n) + 1).unwrap()
}

/// Runs `commands` through `decide`/`evolve`, returning every event accepted.
fn run<A: Aggregate>(commands: Vec<A::Command>) -> (A, Vec<A::Event>) {
    let mut state = A::default();
    let mut accepted = Vec::new();
    for command in commands {
        if let Ok(events) = state.decide(&command) {
            for event in events {
                state = state.evolve(&event);
                accepted.push(event);
            }
        }
    }
    (state, accepted)
}

fn wallet_command() -> impl Strategy<Value = WalletCommand> {
    let user = UserId::new(1).unwrap();
    prop_oneof![
        (0i64..12_000_000, proptest::option::of(0u8..4)).prop_map(move |(amount, key)| {
            WalletCommand::Charge {
                user_id: user,
                amount: Krw::new(amount).unwrap(),
                idempotency_key: key.map(|k| format!("key-{k}")),
            }
        }),
        (0u8..6, 0i64..30_000_000).prop_map(move |(o, amount)| WalletCommand::Deduct {
            user_id: user,
            order_id: order(o),
            amount: Krw::new(amount).unwrap(),
        }),
        (0u8..6).prop_map(move |o| WalletCommand::Refund {
            user_id: user,
            order_id: order(o),
            amount: Krw::ZERO,
        }),
    ]
}

fn product_command() -> impl Strategy<Value = ProductCommand> {
    let id = ProductId::new(1).unwrap();
    prop_oneof![
        1 => (-5i64..50).prop_map(move |stock| ProductCommand::Register {
            product_id: id,
            name: "lamp".to_owned(),
            price: Krw::new(1_000).unwrap(),
            stock,
        }),
        2 => (-3i64..30).prop_map(|quantity| ProductCommand::Restock { quantity }),
        4 => (0u8..8, -2i64..20).prop_map(|(o, quantity)| ProductCommand::Reserve {
            order_id: order(o),
            quantity,
        }),
        3 => (0u8..8).prop_map(|o| ProductCommand::Release { order_id: order(o) }),
    ]
}

fn coupon_command() -> impl Strategy<Value = CouponCommand> {
    let id = CouponId::new(3).unwrap();
    prop_oneof![
        1 => (1i64..6).prop_map(move |total| CouponCommand::Register {
            coupon_id: id,
            name: "rush".to_owned(),
            discount: Discount { kind: DiscountKind::Fixed, value: 500 },
            total_quantity: total,
            valid_from: Some(at(100)),
            valid_until: Some(at(200)),
        }),
        4 => (1i64..10, 90i64..210).prop_map(|(user, now)| CouponCommand::Issue {
            user_id: UserId::new(user).unwrap(),
            now: at(now),
        }),
        3 => (1i64..8, 1i64..10, 0u8..6, 90i64..210).prop_map(move |(seq, user, o, now)| {
            CouponCommand::Use {
                user_coupon_id: UserCouponId::compose(id, seq).unwrap(),
                user_id: UserId::new(user).unwrap(),
                order_id: order(o),
                now: at(now),
            }
        }),
        2 => (1i64..8, 0u8..6).prop_map(move |(seq, o)| CouponCommand::Restore {
            user_coupon_id: UserCouponId::compose(id, seq).unwrap(),
            order_id: order(o),
        }),
    ]
}

fn order_command() -> impl Strategy<Value = OrderCommand> {
    let placed = OrderCommand::Place {
        order_id: order(0),
        user_id: UserId::new(1).unwrap(),
        lines: vec![OrderLine {
            product_id: ProductId::new(1).unwrap(),
            quantity: 2,
            unit_price: Krw::new(5_000).unwrap(),
        }],
        user_coupon_id: Some(UserCouponId::compose(CouponId::new(3).unwrap(), 1).unwrap()),
        placed_at: at(0),
    };
    prop_oneof![
        Just(placed),
        Just(OrderCommand::MarkStockReserved),
        (0i64..120).prop_map(|value| OrderCommand::ApplyCoupon {
            user_coupon_id: UserCouponId::compose(CouponId::new(3).unwrap(), 1).unwrap(),
            coupon_id: CouponId::new(3).unwrap(),
            discount: Discount {
                kind: DiscountKind::Percent,
                value
            },
        }),
        Just(OrderCommand::MarkPaid),
        Just(OrderCommand::Complete { at: at(5) }),
        prop_oneof![
            Just(CancelReason::InsufficientStock),
            Just(CancelReason::InsufficientBalance),
            Just(CancelReason::CouponUnavailable),
        ]
        .prop_map(|reason| OrderCommand::Cancel { reason, at: at(6) }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// balance >= 0, <= the cap, equals charged - deducted + refunded; one deduction and
    /// one refund per order, and a refund gives back exactly what was deducted.
    #[test]
    fn a_wallet_never_goes_negative_and_adds_up(commands in proptest::collection::vec(wallet_command(), 0..60)) {
        let (wallet, events) = run::<Wallet>(commands);
        let (mut total, mut deducted, mut refunded) = (0i64, BTreeMap::new(), BTreeMap::new());
        for event in &events {
            match event {
                WalletEvent::PointsCharged(e) => total += e.amount.won(),
                WalletEvent::PointsDeducted(e) => {
                    total -= e.amount.won();
                    prop_assert!(!refunded.contains_key(&e.order_id), "deducted after its refund");
                    prop_assert!(deducted.insert(e.order_id, e.amount).is_none(), "deducted twice");
                }
                WalletEvent::PointsRefunded(e) => {
                    total += e.amount.won();
                    // What was deducted, or 0 for an order never deducted.
                    let expected = deducted.get(&e.order_id).copied().unwrap_or(Krw::ZERO);
                    prop_assert_eq!(e.amount, expected);
                    prop_assert!(refunded.insert(e.order_id, e.amount).is_none(), "refunded twice");
                }
            }
            prop_assert!(total >= 0);
        }
        prop_assert_eq!(wallet.balance().won(), total);
        prop_assert!(wallet.balance().won() <= MAX_BALANCE);
    }

    /// stock >= 0 and equals registered + restocked - reserved + released; one reservation
    /// and one release per order, releasing exactly what was reserved.
    #[test]
    fn stock_never_goes_negative_and_adds_up(commands in proptest::collection::vec(product_command(), 0..80)) {
        let (product, events) = run::<Product>(commands);
        let (mut stock, mut reserved, mut released) = (0i64, BTreeMap::new(), BTreeSet::new());
        for event in &events {
            match event {
                ProductEvent::ProductRegistered(e) => stock += e.stock,
                ProductEvent::ProductRestocked(e) => stock += e.quantity,
                ProductEvent::StockReserved(e) => {
                    stock -= e.quantity;
                    prop_assert!(!released.contains(&e.order_id), "reserved after its release");
                    prop_assert!(reserved.insert(e.order_id, e.quantity).is_none(), "reserved twice");
                }
                ProductEvent::StockReleased(e) => {
                    stock += e.quantity;
                    // What was reserved, or 0 for an order that reserved nothing.
                    prop_assert_eq!(e.quantity, reserved.get(&e.order_id).copied().unwrap_or(0));
                    prop_assert!(released.insert(e.order_id), "released twice");
                }
            }
            prop_assert!(stock >= 0);
        }
        prop_assert_eq!(product.stock(), stock);
    }

    /// issued <= total, one per user, sequences 1..=n in order, only inside the window, a
    /// user coupon used by at most one order at a time, and an order that gave its coupon
    /// back never takes it again.
    #[test]
    fn coupons_are_issued_exactly_and_used_once(commands in proptest::collection::vec(coupon_command(), 0..80)) {
        let (coupon, events) = run::<Coupon>(commands);
        let mut users = BTreeSet::new();
        let mut next_sequence = 1;
        let mut used_by: BTreeMap<UserCouponId, OrderId> = BTreeMap::new();
        let mut gave_back: BTreeSet<OrderId> = BTreeSet::new();
        let mut total = None;
        for event in &events {
            match event {
                CouponEvent::CouponRegistered(e) => total = Some(e.total_quantity),
                CouponEvent::CouponIssued(e) => {
                    prop_assert!(users.insert(e.user_id), "two coupons for one user");
                    prop_assert_eq!(e.sequence, next_sequence);
                    next_sequence += 1;
                    prop_assert!(e.sequence <= total.unwrap_or(0));
                    prop_assert!((100..200).contains(&e.issued_at.timestamp()));
                }
                CouponEvent::CouponUsed(e) => {
                    prop_assert!(!gave_back.contains(&e.order_id), "retaken after a restore");
                    prop_assert!(used_by.insert(e.user_coupon_id, e.order_id).is_none(), "used twice");
                }
                CouponEvent::CouponRestored(e) => {
                    prop_assert_eq!(used_by.remove(&e.user_coupon_id), Some(e.order_id));
                    gave_back.insert(e.order_id);
                }
                // Compensated without a use to give back: it may not take one later.
                CouponEvent::CouponUseVoided(e) => {
                    gave_back.insert(e.order_id);
                }
            }
        }
        prop_assert_eq!(coupon.issued_quantity(), next_sequence - 1);
        prop_assert!(coupon.remaining() >= 0);
    }

    /// An order's progress only moves forward, in the saga's order; it completes at most
    /// once, never after a cancel, and the discount never exceeds the total.
    #[test]
    fn an_order_only_moves_forward(commands in proptest::collection::vec(order_command(), 0..40)) {
        let (state, events) = run::<Order>(commands);
        let mut steps = Vec::new();
        let mut cancelled = false;
        for event in &events {
            match event {
                OrderEvent::OrderPlaced(_) => steps.push(Progress::Placed),
                OrderEvent::OrderStockReserved(_) => steps.push(Progress::StockReserved),
                OrderEvent::OrderCouponApplied(e) => {
                    prop_assert!(e.discount_amount.won() <= 10_000);
                    steps.push(Progress::CouponApplied);
                }
                OrderEvent::OrderPaid(e) => {
                    prop_assert!(e.paid_amount.won() >= 0);
                    steps.push(Progress::Paid);
                }
                OrderEvent::OrderCompleted(_) => {
                    prop_assert!(!cancelled, "completed after a cancel");
                    steps.push(Progress::Completed);
                }
                OrderEvent::OrderCancelled(_) => {
                    prop_assert!(!cancelled, "cancelled twice");
                    prop_assert!(steps.last() != Some(&Progress::Completed), "cancelled after completing");
                    cancelled = true;
                }
            }
        }
        let expected = [Progress::Placed, Progress::StockReserved, Progress::CouponApplied, Progress::Paid, Progress::Completed];
        prop_assert_eq!(&steps[..], &expected[..steps.len()]);
        if let Some(placed) = state.placed() {
            prop_assert!(placed.discount_amount <= placed.total_amount);
        }
    }
}
