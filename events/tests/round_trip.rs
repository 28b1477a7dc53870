//! Every event survives postcard encode/decode and has a camelCase JSON form.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use chrono::{DateTime, TimeZone, Utc};
use events::coupon::{CouponIssued, CouponRegistered, CouponRestored, CouponUsed};
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
    ]
}

proptest! {
    #[test]
    fn postcard_round_trip(event in any_event()) {
        let encoded = event.encode().unwrap();
        let decoded = DomainEvent::decode(encoded.event_type, encoded.schema_version, &encoded.payload).unwrap();
        prop_assert_eq!(decoded, event);
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
    ]
    .concat();
    assert_eq!(all.len(), 11);
}

#[test]
fn coupon_issued_json_matches_the_documented_contract() {
    let event = DomainEvent::Coupon(
        CouponIssued {
            coupon_id: CouponId::new(3).unwrap(),
            user_id: UserId::new(42).unwrap(),
            user_coupon_id: UserCouponId::new(1001).unwrap(),
            sequence: 1,
            issued_at: Utc.with_ymd_and_hms(2026, 11, 25, 1, 2, 3).unwrap(),
        }
        .into(),
    );
    assert_eq!(
        event.to_json().unwrap(),
        serde_json::json!({
            "couponId": 3, "userId": 42, "userCouponId": 1001, "sequence": 1,
            "issuedAt": "2026-11-25T01:02:03Z"
        })
    );
}
