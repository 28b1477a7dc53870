//! given/when/then tests for the order aggregate, one per invariant.

use super::*;
use crate::replay;
use crate::testing::given;

fn oid() -> OrderId {
    OrderId::new(9001).expect("positive id")
}

fn uid() -> UserId {
    UserId::new(42).expect("positive id")
}

fn ucid(n: i64) -> UserCouponId {
    UserCouponId::new(n).expect("positive id")
}

fn cid() -> CouponId {
    CouponId::new(3).expect("positive id")
}

fn won(n: i64) -> Krw {
    Krw::new(n).expect("non-negative amount")
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).expect("in range")
}

fn line(product: i64, quantity: i64, unit_price: i64) -> OrderLine {
    OrderLine {
        product_id: ProductId::new(product).expect("positive id"),
        quantity,
        unit_price: won(unit_price),
    }
}

fn fixed(value: i64) -> Discount {
    Discount {
        kind: DiscountKind::Fixed,
        value,
    }
}

fn percent(value: i64) -> Discount {
    Discount {
        kind: DiscountKind::Percent,
        value,
    }
}

/// Two lines worth 30,000 won in all.
fn lines() -> Vec<OrderLine> {
    vec![line(7, 2, 10_000), line(8, 1, 10_000)]
}

fn place_with(lines: Vec<OrderLine>, coupon: Option<i64>) -> OrderCommand {
    OrderCommand::Place {
        order_id: oid(),
        user_id: uid(),
        lines,
        user_coupon_id: coupon.map(ucid),
        placed_at: at(100),
    }
}

fn placed_with(lines: Vec<OrderLine>, coupon: Option<i64>, total: i64) -> OrderEvent {
    OrderEvent::OrderPlaced(OrderPlaced {
        order_id: oid(),
        user_id: uid(),
        lines,
        user_coupon_id: coupon.map(ucid),
        total_amount: won(total),
        placed_at: at(100),
    })
}

/// The 30,000-won order, with user coupon 1001 or without a coupon.
fn placed(coupon: bool) -> OrderEvent {
    placed_with(lines(), coupon.then_some(1001), 30_000)
}

fn stock_reserved() -> OrderEvent {
    OrderEvent::OrderStockReserved(OrderStockReserved { order_id: oid() })
}

fn apply(discount: Discount) -> OrderCommand {
    OrderCommand::ApplyCoupon {
        user_coupon_id: ucid(1001),
        coupon_id: cid(),
        discount,
    }
}

fn coupon_applied(discount: i64) -> OrderEvent {
    OrderEvent::OrderCouponApplied(OrderCouponApplied {
        order_id: oid(),
        user_coupon_id: ucid(1001),
        coupon_id: cid(),
        discount_amount: won(discount),
    })
}

fn paid(amount: i64) -> OrderEvent {
    OrderEvent::OrderPaid(OrderPaid {
        order_id: oid(),
        paid_amount: won(amount),
    })
}

fn completed(discount: i64, paid: i64) -> OrderEvent {
    OrderEvent::OrderCompleted(OrderCompleted {
        order_id: oid(),
        user_id: uid(),
        lines: lines(),
        total_amount: won(30_000),
        discount_amount: won(discount),
        paid_amount: won(paid),
        completed_at: at(200),
    })
}

fn cancel(reason: CancelReason) -> OrderCommand {
    OrderCommand::Cancel {
        reason,
        at: at(150),
    }
}

fn cancelled(reason: CancelReason) -> OrderEvent {
    OrderEvent::OrderCancelled(OrderCancelled {
        order_id: oid(),
        reason,
        cancelled_at: at(150),
    })
}

fn complete() -> OrderCommand {
    OrderCommand::Complete { at: at(200) }
}

/// A coupon order settled up to (and including) `progress`, with a 10% coupon.
fn coupon_order_at(progress: Progress) -> Vec<OrderEvent> {
    let steps = [
        (Progress::Placed, placed(true)),
        (Progress::StockReserved, stock_reserved()),
        (Progress::CouponApplied, coupon_applied(3_000)),
        (Progress::Paid, paid(27_000)),
        (Progress::Completed, completed(3_000, 27_000)),
    ];
    steps
        .into_iter()
        .filter(|(step, _)| *step <= progress)
        .map(|(_, event)| event)
        .collect()
}

fn view(status: OrderStatus, discount: i64, paid: i64) -> Option<OrderView> {
    Some(OrderView {
        order_id: oid(),
        status,
        total_amount: won(30_000),
        discount_amount: won(discount),
        paid_amount: won(paid),
        reason: None,
    })
}

// ---- placing ----

#[test]
fn placing_records_the_lines_and_their_total() {
    let then = given::<Order>([])
        .when(place_with(lines(), Some(1001)))
        .then([placed(true)]);
    assert_eq!(
        then.reply().map(|order| order.view()),
        view(OrderStatus::Pending, 0, 0)
    );
}

#[test]
fn an_order_needs_1_to_50_lines() {
    given::<Order>([])
        .when(place_with(Vec::new(), None))
        .then_error(OrderError::InvalidLineCount(0));
    let too_many: Vec<OrderLine> = (1..=51).map(|p| line(p, 1, 100)).collect();
    given::<Order>([])
        .when(place_with(too_many, None))
        .then_error(OrderError::InvalidLineCount(51));
    let fifty: Vec<OrderLine> = (1..=50).map(|p| line(p, 1, 100)).collect();
    given::<Order>([])
        .when(place_with(fifty.clone(), None))
        .then([placed_with(fifty, None, 5_000)]);
}

#[test]
fn a_line_buys_1_to_1000_units() {
    for quantity in [0, -1, MAX_QUANTITY + 1] {
        given::<Order>([])
            .when(place_with(vec![line(7, quantity, 100)], None))
            .then_error(OrderError::InvalidQuantity {
                product_id: ProductId::new(7).expect("positive id"),
                quantity,
            });
    }
    for quantity in [1, MAX_QUANTITY] {
        given::<Order>([])
            .when(place_with(vec![line(7, quantity, 100)], None))
            .then([placed_with(
                vec![line(7, quantity, 100)],
                None,
                quantity * 100,
            )]);
    }
}

#[test]
fn a_product_may_appear_on_one_line_only() {
    given::<Order>([])
        .when(place_with(
            vec![line(7, 1, 100), line(8, 1, 100), line(7, 2, 100)],
            None,
        ))
        .then_error(OrderError::DuplicateProduct(
            ProductId::new(7).expect("positive id"),
        ));
}

#[test]
fn a_total_that_overflows_is_rejected() {
    // One line whose price times quantity overflows...
    given::<Order>([])
        .when(place_with(vec![line(7, 2, i64::MAX)], None))
        .then_error(OrderError::TotalOverflow);
    // ...and lines that fit alone but not together.
    given::<Order>([])
        .when(place_with(vec![line(7, 1, i64::MAX), line(8, 1, 1)], None))
        .then_error(OrderError::TotalOverflow);
    given::<Order>([])
        .when(place_with(vec![line(7, 1, i64::MAX)], None))
        .then([placed_with(vec![line(7, 1, i64::MAX)], None, i64::MAX)]);
}

#[test]
fn placing_the_same_order_again_is_a_no_op() {
    let resent = OrderCommand::Place {
        order_id: oid(),
        user_id: uid(),
        lines: lines(),
        user_coupon_id: Some(ucid(1001)),
        placed_at: at(999), // a retry reads the clock again
    };
    let then = given::<Order>([placed(true)]).when(resent).then([]);
    assert_eq!(
        then.reply().map(|order| order.view()),
        view(OrderStatus::Pending, 0, 0)
    );
}

#[test]
fn placing_a_different_order_under_a_used_id_is_rejected() {
    given::<Order>([placed(true)])
        .when(place_with(lines(), None))
        .then_error(OrderError::AlreadyPlaced);
    given::<Order>([placed(false)])
        .when(place_with(vec![line(7, 3, 10_000)], None))
        .then_error(OrderError::AlreadyPlaced);
}

#[test]
fn steps_on_an_order_never_placed_are_not_found() {
    for command in [
        OrderCommand::MarkStockReserved,
        apply(percent(10)),
        OrderCommand::MarkPaid,
        complete(),
        cancel(CancelReason::InsufficientStock),
    ] {
        given::<Order>([])
            .when(command)
            .then_error(OrderError::NotFound);
    }
}

// ---- the saga's steps ----

#[test]
fn a_coupon_order_runs_every_step_and_completes_with_its_lines_and_amounts() {
    given::<Order>([placed(true)])
        .when(OrderCommand::MarkStockReserved)
        .then([stock_reserved()]);
    given::<Order>(coupon_order_at(Progress::StockReserved))
        .when(apply(percent(10)))
        .then([coupon_applied(3_000)]);
    given::<Order>(coupon_order_at(Progress::CouponApplied))
        .when(OrderCommand::MarkPaid)
        .then([paid(27_000)]);
    let then = given::<Order>(coupon_order_at(Progress::Paid))
        .when(complete())
        .then([completed(3_000, 27_000)]);
    assert_eq!(
        then.reply().map(|order| order.view()),
        view(OrderStatus::Completed, 3_000, 27_000)
    );
}

#[test]
fn an_order_without_a_coupon_goes_from_reserved_to_paid() {
    let then = given::<Order>([placed(false), stock_reserved()])
        .when(OrderCommand::MarkPaid)
        .then([paid(30_000)]);
    assert_eq!(
        then.reply().map(|order| order.view()),
        view(OrderStatus::Pending, 0, 30_000)
    );
    given::<Order>([placed(false), stock_reserved(), paid(30_000)])
        .when(complete())
        .then([completed(0, 30_000)]);
}

#[test]
fn the_completed_event_carries_what_the_data_platform_needs() {
    let state = replay(Order::default(), &coupon_order_at(Progress::Paid));
    let decided = state.decide(&complete()).expect("a paid order completes");
    let [OrderEvent::OrderCompleted(event)] = decided.as_slice() else {
        panic!("expected one OrderCompleted, got {decided:?}");
    };
    assert_eq!((event.order_id, event.user_id), (oid(), uid()));
    assert_eq!(event.lines, lines()); // product ids, quantities, unit prices
    assert_eq!(
        (event.total_amount, event.discount_amount, event.paid_amount),
        (won(30_000), won(3_000), won(27_000))
    );
    assert_eq!(event.completed_at, at(200));
}

#[test]
fn a_percent_coupon_rounds_down_to_the_won() {
    // 10% of 30,005 is 3,000.5.
    given::<Order>([
        placed_with(vec![line(7, 1, 30_005)], Some(1001), 30_005),
        stock_reserved(),
    ])
    .when(apply(percent(10)))
    .then([coupon_applied(3_000)]);
}

#[test]
fn a_fixed_coupon_is_capped_at_the_total() {
    let history = || [placed(true), stock_reserved()];
    given::<Order>(history())
        .when(apply(fixed(50_000)))
        .then([coupon_applied(30_000)]);
    given::<Order>([placed(true), stock_reserved(), coupon_applied(30_000)])
        .when(OrderCommand::MarkPaid)
        .then([paid(0)]);
    given::<Order>(history())
        .when(apply(fixed(5_000)))
        .then([coupon_applied(5_000)]);
}

#[test]
fn a_discount_outside_what_a_coupon_may_hold_is_rejected() {
    for bad in [fixed(0), fixed(-5), percent(0), percent(101)] {
        given::<Order>(coupon_order_at(Progress::StockReserved))
            .when(apply(bad))
            .then_error(OrderError::InvalidDiscount(bad));
    }
    given::<Order>(coupon_order_at(Progress::StockReserved))
        .when(apply(percent(100)))
        .then([coupon_applied(30_000)]);
}

#[test]
fn only_the_orders_own_coupon_can_be_applied() {
    given::<Order>([placed(false), stock_reserved()])
        .when(apply(percent(10)))
        .then_error(OrderError::WrongCoupon(ucid(1001)));
    given::<Order>(coupon_order_at(Progress::StockReserved))
        .when(OrderCommand::ApplyCoupon {
            user_coupon_id: ucid(1002),
            coupon_id: cid(),
            discount: percent(10),
        })
        .then_error(OrderError::WrongCoupon(ucid(1002)));
    given::<Order>(coupon_order_at(Progress::CouponApplied))
        .when(OrderCommand::ApplyCoupon {
            user_coupon_id: ucid(1001),
            coupon_id: CouponId::new(4).expect("positive id"),
            discount: percent(10),
        })
        .then_error(OrderError::WrongCoupon(ucid(1001)));
}

// ---- order of steps ----

#[test]
fn a_step_before_its_predecessor_is_out_of_order() {
    let cases = [
        (
            Progress::Placed,
            apply(percent(10)),
            Progress::CouponApplied,
        ),
        (Progress::Placed, OrderCommand::MarkPaid, Progress::Paid),
        (Progress::Placed, complete(), Progress::Completed),
        // With a coupon, payment waits for the coupon.
        (
            Progress::StockReserved,
            OrderCommand::MarkPaid,
            Progress::Paid,
        ),
        (Progress::CouponApplied, complete(), Progress::Completed),
    ];
    for (progress, command, step) in cases {
        given::<Order>(coupon_order_at(progress))
            .when(command)
            .then_error(OrderError::OutOfOrder { step, progress });
    }
}

#[test]
fn every_step_repeated_is_a_no_op() {
    let cases = [
        (Progress::StockReserved, OrderCommand::MarkStockReserved),
        (Progress::CouponApplied, apply(percent(10))),
        (Progress::Paid, OrderCommand::MarkPaid),
        (Progress::Completed, complete()),
    ];
    for (progress, command) in cases {
        given::<Order>(coupon_order_at(progress))
            .when(command)
            .then([]);
    }
}

#[test]
fn status_only_moves_forward() {
    // Earlier steps sent to a completed order change nothing.
    for command in [
        OrderCommand::MarkStockReserved,
        apply(percent(10)),
        OrderCommand::MarkPaid,
    ] {
        let then = given::<Order>(coupon_order_at(Progress::Completed))
            .when(command)
            .then([]);
        assert_eq!(
            then.reply().map(|order| order.view()),
            view(OrderStatus::Completed, 3_000, 27_000)
        );
    }
    // Even a stray earlier event in the stream does not move progress back.
    let mut history = coupon_order_at(Progress::Paid);
    history.push(stock_reserved());
    let state = replay(Order::default(), &history);
    assert_eq!(
        state.placed().map(|order| order.progress),
        Some(Progress::Paid)
    );
}

// ---- cancelling ----

#[test]
fn any_unfinished_order_can_be_cancelled() {
    for progress in [
        Progress::Placed,
        Progress::StockReserved,
        Progress::CouponApplied,
        Progress::Paid,
    ] {
        let then = given::<Order>(coupon_order_at(progress))
            .when(cancel(CancelReason::InsufficientBalance))
            .then([cancelled(CancelReason::InsufficientBalance)]);
        let reply = then.reply().map(|order| order.view()).expect("placed");
        assert_eq!(reply.status, OrderStatus::Cancelled);
        assert_eq!(reply.reason, Some(CancelReason::InsufficientBalance));
        // Progress stays, so the saga knows what to compensate.
        assert_eq!(
            then.state.placed().map(|order| order.progress),
            Some(progress)
        );
    }
}

#[test]
fn a_completed_order_cannot_be_cancelled() {
    given::<Order>(coupon_order_at(Progress::Completed))
        .when(cancel(CancelReason::InsufficientStock))
        .then_error(OrderError::AlreadyCompleted);
}

#[test]
fn cancelling_twice_is_a_no_op_and_the_first_reason_stands() {
    let then = given::<Order>([placed(true), cancelled(CancelReason::InsufficientStock)])
        .when(cancel(CancelReason::CouponUnavailable))
        .then([]);
    assert_eq!(
        then.reply()
            .map(|order| order.view())
            .and_then(|view| view.reason),
        Some(CancelReason::InsufficientStock)
    );
}

#[test]
fn a_cancelled_order_takes_no_new_steps_but_repeats_done_ones() {
    let mut history = coupon_order_at(Progress::StockReserved);
    history.push(cancelled(CancelReason::CouponUnavailable));
    let refused = OrderError::Cancelled(CancelReason::CouponUnavailable);
    given::<Order>(history.clone())
        .when(apply(percent(10)))
        .then_error(refused.clone());
    given::<Order>(history.clone())
        .when(OrderCommand::MarkPaid)
        .then_error(refused.clone());
    given::<Order>(history.clone())
        .when(complete())
        .then_error(refused);
    // Recorded before the cancel, so a replay of it is still a no-op.
    given::<Order>(history)
        .when(OrderCommand::MarkStockReserved)
        .then([]);
}

// ---- discount_for ----

#[test]
fn discount_for_fixed_is_the_value_capped_at_the_total() {
    assert_eq!(discount_for(won(30_000), &fixed(5_000)), won(5_000));
    assert_eq!(discount_for(won(30_000), &fixed(30_000)), won(30_000));
    assert_eq!(discount_for(won(30_000), &fixed(30_001)), won(30_000));
    assert_eq!(discount_for(Krw::ZERO, &fixed(1_000)), Krw::ZERO);
}

#[test]
fn discount_for_percent_rounds_down_to_the_won() {
    assert_eq!(discount_for(won(30_000), &percent(10)), won(3_000));
    assert_eq!(discount_for(won(999), &percent(10)), won(99)); // 99.9
    assert_eq!(discount_for(won(1_001), &percent(33)), won(330)); // 330.33
    assert_eq!(discount_for(won(1), &percent(99)), Krw::ZERO); // 0.99
    assert_eq!(discount_for(won(12_345), &percent(100)), won(12_345));
}

#[test]
fn discount_for_never_overflows_on_a_huge_total() {
    let max = won(i64::MAX);
    assert_eq!(discount_for(max, &percent(100)), max);
    assert_eq!(discount_for(max, &percent(50)), won(i64::MAX / 2));
}

#[test]
fn discount_for_clamps_values_no_coupon_may_hold() {
    assert_eq!(discount_for(won(1_000), &fixed(-5)), Krw::ZERO);
    assert_eq!(discount_for(won(1_000), &percent(-5)), Krw::ZERO);
    assert_eq!(discount_for(won(1_000), &percent(150)), won(1_000));
}

// ---- state ----

#[test]
fn events_before_placement_are_ignored() {
    let state = replay(Order::default(), &[stock_reserved(), paid(10)]);
    assert_eq!(state, Order::default());
}

#[test]
fn the_state_survives_a_postcard_round_trip() {
    let mut history = coupon_order_at(Progress::Paid);
    history.push(cancelled(CancelReason::InsufficientBalance));
    let state = replay(Order::default(), &history);
    let bytes = postcard::to_stdvec(&state).expect("encodes");
    let back: Order = postcard::from_bytes(&bytes).expect("decodes");
    assert_eq!(back, state);
}

fn settle(coupon: bool) -> OrderCommand {
    OrderCommand::Settle {
        coupon: coupon.then(|| AppliedCoupon {
            user_coupon_id: ucid(1001),
            coupon_id: cid(),
            discount: percent(10),
        }),
        at: at(200),
    }
}

#[test]
fn settling_records_every_remaining_step_in_one_append() {
    given::<Order>([placed(true)]).when(settle(true)).then([
        stock_reserved(),
        coupon_applied(3_000),
        paid(27_000),
        completed(3_000, 27_000),
    ]);
    given::<Order>([placed(false)]).when(settle(false)).then([
        stock_reserved(),
        paid(30_000),
        completed(0, 30_000),
    ]);
}

#[test]
fn settling_an_order_an_older_driver_took_part_way_records_only_the_rest() {
    for progress in [
        Progress::StockReserved,
        Progress::CouponApplied,
        Progress::Paid,
    ] {
        let rest: Vec<_> = coupon_order_at(Progress::Completed)
            .into_iter()
            .skip(coupon_order_at(progress).len())
            .collect();
        given::<Order>(coupon_order_at(progress))
            .when(settle(true))
            .then(rest);
    }
    given::<Order>(coupon_order_at(Progress::Completed))
        .when(settle(true))
        .then([]);
}

#[test]
fn settling_a_coupon_order_needs_the_coupon() {
    given::<Order>([placed(true)])
        .when(settle(false))
        .then_error(OrderError::OutOfOrder {
            step: Progress::CouponApplied,
            progress: Progress::Placed,
        });
}

#[test]
fn a_cancelled_order_is_never_settled() {
    given::<Order>([placed(true), cancelled(CancelReason::InsufficientBalance)])
        .when(settle(true))
        .then_error(OrderError::Cancelled(CancelReason::InsufficientBalance));
}

#[test]
fn the_amount_due_with_a_coupon_is_what_settling_records_as_paid() {
    let order = replay(Order::default(), &[placed(true)]);
    let placed = order.placed().expect("placed");
    assert_eq!(placed.amount_due_with(Some(&percent(10))), won(27_000));
    assert_eq!(placed.amount_due_with(None), won(30_000));
    // Once a coupon is recorded, its discount stands.
    let applied = replay(order.clone(), &[stock_reserved(), coupon_applied(3_000)]);
    let applied = applied.placed().expect("placed");
    assert_eq!(applied.amount_due_with(Some(&fixed(1))), won(27_000));
}
