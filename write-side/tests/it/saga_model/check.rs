//! The invariants every schedule must end in, read from the participants' streams.

use super::scenario::{CouponCase, Outside, Scenario};
use events::{CouponEvent, Krw, OrderEvent, ProductEvent, StreamId, WalletEvent};
use write_side::domain::coupon::Coupon;
use write_side::domain::order::{Order, OrderStatus, PlacedOrder};
use write_side::domain::product::Product;
use write_side::domain::replay;
use write_side::domain::wallet::Wallet;

use super::store::MemoryStore;

/// What one driver answered: `None` if it crashed (or never came back by the end).
pub type Answer = Option<Result<OrderStatus, String>>;

/// What a schedule left behind.
pub struct Outcome {
    pub order: PlacedOrder,
    pub order_events: Vec<OrderEvent>,
    pub products: Vec<Vec<ProductEvent>>,
    pub coupon: Vec<CouponEvent>,
    pub wallet: Vec<WalletEvent>,
    pub answers: Vec<(&'static str, Answer)>,
    /// Drivers still running when the schedule ended (a driver that loops).
    pub unfinished: Vec<&'static str>,
}

fn decode<E>(
    store: &MemoryStore,
    stream: &StreamId,
    f: fn(&str, u16, &[u8]) -> Option<E>,
) -> Vec<E> {
    store
        .stream(stream)
        .iter()
        .map(|e| f(&e.event_type, e.schema_version, &e.payload).expect("decodes"))
        .collect()
}

/// The schedule's outcome: the streams as the store holds them, and the drivers' answers.
pub fn read(
    store: &MemoryStore,
    scenario: &Scenario,
    answers: Vec<(&'static str, Answer)>,
    unfinished: Vec<&'static str>,
) -> Outcome {
    let order_events = decode(store, &StreamId::order(scenario.order_id()), |t, v, b| {
        OrderEvent::decode(t, v, b).ok()
    });
    let order = replay(Order::default(), &order_events)
        .placed()
        .cloned()
        .expect("placed");
    let products = scenario
        .lines
        .iter()
        .map(|l| {
            decode(store, &StreamId::product(l.product_id), |t, v, b| {
                ProductEvent::decode(t, v, b).ok()
            })
        })
        .collect();
    let coupon = decode(store, &StreamId::coupon(scenario.coupon_id()), |t, v, b| {
        CouponEvent::decode(t, v, b).ok()
    });
    let wallet = decode(store, &StreamId::wallet(scenario.user_id()), |t, v, b| {
        WalletEvent::decode(t, v, b).ok()
    });
    Outcome {
        order,
        order_events,
        products,
        coupon,
        wallet,
        answers,
        unfinished,
    }
}

macro_rules! ensure {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            return Err(format!($($why)+));
        }
    };
}

pub fn invariants(scenario: &Scenario, outcome: &Outcome) -> Result<(), String> {
    let order = &outcome.order;
    let order_id = order.order_id;
    ensure!(
        outcome.unfinished.is_empty(),
        "drivers never finished: {:?}",
        outcome.unfinished
    );
    let status = order.status();
    let expected = match scenario.goes_through() {
        Some(true) => OrderStatus::Completed,
        Some(false) => OrderStatus::Cancelled,
        // Either is right; which depends on whether the change came first.
        None if status == OrderStatus::Pending => OrderStatus::Completed,
        None => status,
    };
    ensure!(
        status == expected,
        "the order ended {status:?}, expected {expected:?}"
    );
    let settled = outcome
        .order_events
        .iter()
        .filter(|e| {
            matches!(
                e,
                OrderEvent::OrderCompleted(_) | OrderEvent::OrderCancelled(_)
            )
        })
        .count();
    ensure!(settled == 1, "{settled} settling events on the order");
    for (driver, answer) in &outcome.answers {
        if let Some(Ok(answered)) = answer {
            ensure!(
                *answered == OrderStatus::Pending || *answered == status,
                "{driver} answered {answered:?}, the order is {status:?}"
            );
        }
    }
    let completed = status == OrderStatus::Completed;

    // Stock: initial - (reserved and not released); each taken and given back at most once.
    for (line, events) in scenario.lines.iter().zip(&outcome.products) {
        // An outside restock may have been sent twice (its first answer lost): count
        // what the stream holds.
        let restocked: i64 = events
            .iter()
            .map(|e| match e {
                ProductEvent::ProductRestocked(r) => r.quantity,
                _ => 0,
            })
            .sum();
        let initial_stock = line.initial_stock + restocked;
        let reserved: Vec<i64> = events
            .iter()
            .filter_map(|e| match e {
                ProductEvent::StockReserved(r) if r.order_id == order_id => Some(r.quantity),
                _ => None,
            })
            .collect();
        let released: Vec<i64> = events
            .iter()
            .filter_map(|e| match e {
                ProductEvent::StockReleased(r) if r.order_id == order_id => Some(r.quantity),
                _ => None,
            })
            .collect();
        let product = replay(Product::default(), events);
        let taken: i64 = reserved.iter().sum::<i64>() - released.iter().sum::<i64>();
        ensure!(
            product.stock() == initial_stock - taken,
            "product {}: stock {} from {} with {reserved:?} reserved and {released:?} released",
            line.product_id,
            product.stock(),
            initial_stock
        );
        ensure!(
            reserved.len() <= 1 && released.len() <= 1,
            "product {}: reserved {reserved:?}, released {released:?}",
            line.product_id
        );
        if completed {
            ensure!(
                reserved == [line.quantity] && released.is_empty(),
                "completed, product {}: reserved {reserved:?}, released {released:?}",
                line.product_id
            );
        } else {
            ensure!(
                taken == 0,
                "cancelled, product {}: {taken} still taken",
                line.product_id
            );
        }
    }

    // The coupon: used iff the order completed, taken and given back at most once.
    if let Some(case) = scenario.coupon {
        let user_coupon_id = scenario.user_coupon_id().expect("a coupon");
        let count = |f: fn(&CouponEvent) -> Option<events::OrderId>| {
            outcome
                .coupon
                .iter()
                .filter(|e| f(e) == Some(order_id))
                .count()
        };
        let used = count(|e| match e {
            CouponEvent::CouponUsed(u) => Some(u.order_id),
            _ => None,
        });
        let restored = count(|e| match e {
            CouponEvent::CouponRestored(r) => Some(r.order_id),
            _ => None,
        });
        let coupon = replay(Coupon::default(), &outcome.coupon);
        let used_by = coupon.user_coupon(user_coupon_id).and_then(|c| c.used_by);
        ensure!(
            used <= 1 && restored <= 1,
            "coupon used {used}, restored {restored} times"
        );
        if completed {
            ensure!(
                used == 1 && restored == 0 && used_by == Some(order_id),
                "completed: coupon used {used}, restored {restored}, used by {used_by:?}"
            );
        } else {
            ensure!(
                used == restored && used_by != Some(order_id),
                "cancelled: coupon used {used}, restored {restored}, used by {used_by:?}"
            );
            let freed = scenario
                .plan
                .outside
                .iter()
                .any(|(_, change)| *change == Outside::FreeCoupon);
            if case == CouponCase::UsedElsewhere && !freed {
                ensure!(
                    used_by.is_some(),
                    "the other order's use of the coupon was undone"
                );
            }
        }
    }

    // Money: balance = initial - paid + refunded; paid exactly once if completed.
    let deducted: Vec<Krw> = outcome
        .wallet
        .iter()
        .filter_map(|e| match e {
            WalletEvent::PointsDeducted(d) if d.order_id == order_id => Some(d.amount),
            _ => None,
        })
        .collect();
    let refunded: Vec<Krw> = outcome
        .wallet
        .iter()
        .filter_map(|e| match e {
            WalletEvent::PointsRefunded(r) if r.order_id == order_id => Some(r.amount),
            _ => None,
        })
        .collect();
    let wallet = replay(Wallet::default(), &outcome.wallet);
    let charged: i64 = outcome
        .wallet
        .iter()
        .map(|e| match e {
            WalletEvent::PointsCharged(c) => c.amount.won(),
            _ => 0,
        })
        .sum();
    let paid: i64 = deducted.iter().map(|k| k.won()).sum();
    let given_back: i64 = refunded.iter().map(|k| k.won()).sum();
    ensure!(
        wallet.balance().won() == charged - paid + given_back,
        "balance {} from {charged} charged with {deducted:?} deducted and {refunded:?} refunded",
        wallet.balance(),
    );
    ensure!(
        deducted.len() <= 1 && refunded.len() <= 1,
        "deducted {deducted:?}, refunded {refunded:?}"
    );
    if completed {
        ensure!(
            deducted == [scenario.amount_due()]
                && refunded.is_empty()
                && order.paid_amount == scenario.amount_due(),
            "completed: deducted {deducted:?}, refunded {refunded:?}, the order paid {}, due {}",
            order.paid_amount,
            scenario.amount_due()
        );
    } else {
        ensure!(
            paid == given_back,
            "cancelled: deducted {deducted:?}, refunded {refunded:?}"
        );
    }
    Ok(())
}
