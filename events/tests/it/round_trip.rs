//! Every event survives postcard encode/decode and has a camelCase JSON form.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use chrono::{DateTime, TimeZone, Utc};
use events::coupon::{CouponIssued, CouponRegistered, CouponRestored, CouponUseVoided, CouponUsed};
use events::order::{
    OrderCancelled, OrderCompleted, OrderCouponApplied, OrderPaid, OrderPlaced, OrderStockReserved,
};
use events::product::{ProductRegistered, ProductRestocked, StockReleased, StockReserved};
use events::wallet::{PointsCharged, PointsDeducted, PointsRefunded};
use events::*;
use proptest::prelude::*;

fn user() -> impl Strategy<Value = UserId> {
    (1..i64::MAX).prop_map(|v| UserId::new(v).unwrap())
}
fn order() -> impl Strategy<Value = OrderId> {
    (1..i64::MAX).prop_map(|v| OrderId::new(v).unwrap())
}
fn product() -> impl Strategy<Value = ProductId> {
    (1..i64::MAX).prop_map(|v| ProductId::new(v).unwrap())
}
fn coupon() -> impl Strategy<Value = CouponId> {
    (1..i64::MAX).prop_map(|v| CouponId::new(v).unwrap())
}
fn user_coupon() -> impl Strategy<Value = UserCouponId> {
    (1..i64::MAX).prop_map(|v| UserCouponId::new(v).unwrap())
}
fn krw() -> impl Strategy<Value = Krw> {
    (0..i64::MAX).prop_map(|v| Krw::new(v).unwrap())
}
fn time() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..4_000_000_000_000).prop_map(|ms| Utc.timestamp_millis_opt(ms).unwrap())
}
fn discount() -> impl Strategy<Value = Discount> {
    (
        prop_oneof![Just(DiscountKind::Fixed), Just(DiscountKind::Percent)],
        any::<i64>(),
    )
        .prop_map(|(kind, value)| Discount { kind, value })
}

fn line() -> impl Strategy<Value = OrderLine> {
    (product(), any::<i64>(), krw()).prop_map(|(product_id, quantity, unit_price)| OrderLine {
        product_id,
        quantity,
        unit_price,
    })
}
fn lines() -> impl Strategy<Value = Vec<OrderLine>> {
    proptest::collection::vec(line(), 0..8)
}
fn reason() -> impl Strategy<Value = CancelReason> {
    prop_oneof![
        Just(CancelReason::InsufficientStock),
        Just(CancelReason::InsufficientBalance),
        Just(CancelReason::CouponUnavailable),
        Just(CancelReason::NotFound),
    ]
}

fn any_order_event() -> impl Strategy<Value = OrderEvent> {
    prop_oneof![
        (
            order(),
            user(),
            lines(),
            proptest::option::of(user_coupon()),
            krw(),
            time()
        )
            .prop_map(
                |(order_id, user_id, lines, user_coupon_id, total_amount, placed_at)| {
                    OrderPlaced {
                        order_id,
                        user_id,
                        lines,
                        user_coupon_id,
                        total_amount,
                        placed_at,
                    }
                    .into()
                }
            ),
        order().prop_map(|order_id| OrderStockReserved { order_id }.into()),
        (order(), user_coupon(), coupon(), krw()).prop_map(
            |(order_id, user_coupon_id, coupon_id, discount_amount)| OrderCouponApplied {
                order_id,
                user_coupon_id,
                coupon_id,
                discount_amount,
            }
            .into()
        ),
        (order(), krw()).prop_map(|(order_id, paid_amount)| OrderPaid {
            order_id,
            paid_amount
        }
        .into()),
        (order(), user(), lines(), krw(), krw(), krw(), time()).prop_map(
            |(
                order_id,
                user_id,
                lines,
                total_amount,
                discount_amount,
                paid_amount,
                completed_at,
            )| {
                OrderCompleted {
                    order_id,
                    user_id,
                    lines,
                    total_amount,
                    discount_amount,
                    paid_amount,
                    completed_at,
                }
                .into()
            }
        ),
        (order(), reason(), time()).prop_map(|(order_id, reason, cancelled_at)| {
            OrderCancelled {
                order_id,
                reason,
                cancelled_at,
            }
            .into()
        }),
    ]
}

fn any_event() -> impl Strategy<Value = DomainEvent> {
    prop_oneof![
        (user(), krw(), proptest::option::of(".{0,40}")).prop_map(|(user_id, amount, key)| {
            DomainEvent::Wallet(
                PointsCharged {
                    user_id,
                    amount,
                    idempotency_key: key,
                }
                .into(),
            )
        }),
        (user(), order(), krw()).prop_map(|(user_id, order_id, amount)| DomainEvent::Wallet(
            PointsDeducted {
                user_id,
                order_id,
                amount
            }
            .into()
        )),
        (user(), order(), krw()).prop_map(|(user_id, order_id, amount)| DomainEvent::Wallet(
            PointsRefunded {
                user_id,
                order_id,
                amount
            }
            .into()
        )),
        (product(), ".{0,60}", krw(), any::<i64>()).prop_map(|(product_id, name, price, stock)| {
            DomainEvent::Product(
                ProductRegistered {
                    product_id,
                    name,
                    price,
                    stock,
                }
                .into(),
            )
        }),
        (product(), any::<i64>()).prop_map(|(product_id, quantity)| DomainEvent::Product(
            ProductRestocked {
                product_id,
                quantity
            }
            .into()
        )),
        (product(), order(), any::<i64>()).prop_map(|(product_id, order_id, quantity)| {
            DomainEvent::Product(
                StockReserved {
                    product_id,
                    order_id,
                    quantity,
                }
                .into(),
            )
        }),
        (product(), order(), any::<i64>()).prop_map(|(product_id, order_id, quantity)| {
            DomainEvent::Product(
                StockReleased {
                    product_id,
                    order_id,
                    quantity,
                }
                .into(),
            )
        }),
        (
            coupon(),
            ".{0,60}",
            discount(),
            any::<i64>(),
            proptest::option::of(time()),
            proptest::option::of(time())
        )
            .prop_map(
                |(coupon_id, name, discount, total_quantity, valid_from, valid_until)| {
                    DomainEvent::Coupon(
                        CouponRegistered {
                            coupon_id,
                            name,
                            discount,
                            total_quantity,
                            valid_from,
                            valid_until,
                        }
                        .into(),
                    )
                }
            ),
        (coupon(), user(), user_coupon(), any::<i64>(), time()).prop_map(
            |(coupon_id, user_id, user_coupon_id, sequence, issued_at)| DomainEvent::Coupon(
                CouponIssued {
                    coupon_id,
                    user_id,
                    user_coupon_id,
                    sequence,
                    issued_at
                }
                .into()
            )
        ),
        (coupon(), user_coupon(), order()).prop_map(|(coupon_id, user_coupon_id, order_id)| {
            DomainEvent::Coupon(
                CouponUsed {
                    coupon_id,
                    user_coupon_id,
                    order_id,
                }
                .into(),
            )
        }),
        (coupon(), user_coupon(), order()).prop_map(|(coupon_id, user_coupon_id, order_id)| {
            DomainEvent::Coupon(
                CouponRestored {
                    coupon_id,
                    user_coupon_id,
                    order_id,
                }
                .into(),
            )
        }),
        (coupon(), user_coupon(), order()).prop_map(|(coupon_id, user_coupon_id, order_id)| {
            DomainEvent::Coupon(
                CouponUseVoided {
                    coupon_id,
                    user_coupon_id,
                    order_id,
                }
                .into(),
            )
        }),
        any_order_event().prop_map(DomainEvent::Order),
    ]
}

// Order events are checked through `OrderEvent` itself: `DomainEvent` gains its `Order`
// variant together with the projections that must then handle it.
proptest! {
    #[test]
    fn order_events_survive_postcard(event in any_order_event()) {
        let encoded = event.encode().unwrap();
        let decoded = OrderEvent::decode(encoded.event_type, encoded.schema_version, &encoded.payload).unwrap();
        prop_assert_eq!(decoded, event);
    }

    #[test]
    fn order_events_survive_json_in_camel_case(event in any_order_event()) {
        let json = event.to_json().unwrap();
        let object = json.as_object().expect("an event is a JSON object");
        for key in object.keys() {
            prop_assert!(!key.contains('_'), "{} is not camelCase", key);
        }
        let bytes = serde_json::to_vec(&json).unwrap();
        prop_assert_eq!(OrderEvent::from_json(event.event_type(), &bytes).unwrap(), event);
    }

    #[test]
    fn postcard_round_trip(event in any_event()) {
        let encoded = event.encode().unwrap();
        let decoded = DomainEvent::decode(encoded.event_type, encoded.schema_version, &encoded.payload).unwrap();
        prop_assert_eq!(decoded, event);
    }

    #[test]
    fn json_bytes_are_the_json_value_and_parse_back(event in any_event()) {
        let bytes = event.to_json_vec().unwrap();
        let parsed: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        prop_assert_eq!(parsed, event.to_json().unwrap());
        prop_assert_eq!(DomainEvent::from_json(event.event_type(), &bytes).unwrap(), event);
    }

    #[test]
    fn json_is_a_camel_case_object(event in any_event()) {
        let json = event.to_json().unwrap();
        let object = json.as_object().expect("an event is a JSON object");
        for key in object.keys() {
            prop_assert!(!key.contains('_'), "{} is not camelCase", key);
        }
    }
}

#[test]
fn every_event_type_is_covered_by_the_generator() {
    let all: Vec<&str> = [
        WalletEvent::EVENT_TYPES,
        ProductEvent::EVENT_TYPES,
        CouponEvent::EVENT_TYPES,
        OrderEvent::EVENT_TYPES,
    ]
    .concat();
    assert_eq!(all.len(), 18);
}

#[test]
fn coupon_issued_json_matches_the_documented_contract() {
    let event = DomainEvent::Coupon(
        CouponIssued {
            coupon_id: CouponId::new(3).unwrap(),
            user_id: UserId::new(42).unwrap(),
            user_coupon_id: UserCouponId::new(300_000_001).unwrap(),
            sequence: 1,
            issued_at: Utc.with_ymd_and_hms(2026, 11, 25, 1, 2, 3).unwrap(),
        }
        .into(),
    );
    assert_eq!(
        event.to_json().unwrap(),
        serde_json::json!({
            "couponId": 3, "userId": 42, "userCouponId": 300000001, "sequence": 1,
            "issuedAt": "2026-11-25T01:02:03Z"
        })
    );
}

#[test]
fn order_completed_json_matches_the_documented_contract() {
    let event = OrderEvent::from(OrderCompleted {
        order_id: OrderId::new(9001).unwrap(),
        user_id: UserId::new(42).unwrap(),
        lines: vec![OrderLine {
            product_id: ProductId::new(7).unwrap(),
            quantity: 2,
            unit_price: Krw::new(15_000).unwrap(),
        }],
        total_amount: Krw::new(30_000).unwrap(),
        discount_amount: Krw::new(3_000).unwrap(),
        paid_amount: Krw::new(27_000).unwrap(),
        completed_at: Utc.with_ymd_and_hms(2026, 11, 25, 1, 2, 5).unwrap(),
    });
    assert_eq!(
        event.to_json().unwrap(),
        serde_json::json!({
            "orderId": 9001, "userId": 42,
            "lines": [{"productId": 7, "quantity": 2, "unitPrice": 15000}],
            "totalAmount": 30000, "discountAmount": 3000, "paidAmount": 27000,
            "completedAt": "2026-11-25T01:02:05Z"
        })
    );
}

#[test]
fn order_cancelled_json_carries_the_kebab_case_reason() {
    let event = OrderEvent::from(OrderCancelled {
        order_id: OrderId::new(9002).unwrap(),
        reason: CancelReason::InsufficientStock,
        cancelled_at: Utc.with_ymd_and_hms(2026, 11, 25, 1, 2, 5).unwrap(),
    });
    assert_eq!(
        event.to_json().unwrap(),
        serde_json::json!({
            "orderId": 9002, "reason": "insufficient-stock",
            "cancelledAt": "2026-11-25T01:02:05Z"
        })
    );
}
