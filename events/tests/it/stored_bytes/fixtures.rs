//! One golden file per event type and schema version (`fixtures/{type}.v{version}.bin`):
//! each must decode to the value written here (older versions through their upcast), and
//! the current version's value must encode to exactly the file's bytes.
//!
//! Adding a version: keep the old entry, add one for the new version, and run
//! `SHOP_WRITE_FIXTURES=1 cargo test -p events --test it` to write its file.

use super::golden;
use chrono::{TimeZone, Utc};
use events::coupon::{CouponIssued, CouponRegistered, CouponRestored, CouponUseVoided, CouponUsed};
use events::order::{
    OrderCancelled, OrderCompleted, OrderCouponApplied, OrderPaid, OrderPlaced, OrderStockReserved,
};
use events::product::{ProductRegistered, ProductRestocked, StockReleased, StockReserved};
use events::wallet::{PointsCharged, PointsDeducted, PointsRefunded};
use events::*;
use std::collections::{BTreeMap, BTreeSet};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

struct Fixture {
    event_type: &'static str,
    version: u16,
    /// What the stored bytes read as today.
    expected: DomainEvent,
}

fn user() -> UserId {
    UserId::new(42).unwrap()
}
fn order() -> OrderId {
    OrderId::new(9001).unwrap()
}
fn product() -> ProductId {
    ProductId::new(7).unwrap()
}
fn coupon() -> CouponId {
    CouponId::new(3).unwrap()
}
fn user_coupon() -> UserCouponId {
    UserCouponId::new(300_000_001).unwrap()
}
fn krw(won: i64) -> Krw {
    Krw::new(won).unwrap()
}
fn lines() -> Vec<OrderLine> {
    vec![OrderLine {
        product_id: product(),
        quantity: 2,
        unit_price: krw(15_000),
    }]
}

fn wallet(event: impl Into<WalletEvent>) -> DomainEvent {
    DomainEvent::Wallet(event.into())
}
fn catalog(event: impl Into<ProductEvent>) -> DomainEvent {
    DomainEvent::Product(event.into())
}
fn coupons(event: impl Into<CouponEvent>) -> DomainEvent {
    DomainEvent::Coupon(event.into())
}
fn orders(event: impl Into<OrderEvent>) -> DomainEvent {
    DomainEvent::Order(event.into())
}

/// The examples of docs/events.md, one per stored version.
fn fixtures() -> Vec<Fixture> {
    let fixture = |event_type, version, expected| Fixture {
        event_type,
        version,
        expected,
    };
    vec![
        // v1 had no idempotency key: written by `PointsChargedV1`, read with `None`.
        fixture(
            "PointsCharged",
            1,
            wallet(PointsCharged {
                user_id: user(),
                amount: krw(50_000),
                idempotency_key: None,
            }),
        ),
        fixture(
            "PointsCharged",
            2,
            wallet(PointsCharged {
                user_id: user(),
                amount: krw(50_000),
                idempotency_key: Some("7f1c0d".to_owned()),
            }),
        ),
        fixture(
            "PointsDeducted",
            1,
            wallet(PointsDeducted {
                user_id: user(),
                order_id: order(),
                amount: krw(27_000),
            }),
        ),
        fixture(
            "PointsRefunded",
            1,
            wallet(PointsRefunded {
                user_id: user(),
                order_id: order(),
                amount: krw(27_000),
            }),
        ),
        fixture(
            "ProductRegistered",
            1,
            catalog(ProductRegistered {
                product_id: product(),
                name: "Tumbler".to_owned(),
                price: krw(25_000),
                stock: 100,
            }),
        ),
        fixture(
            "ProductRestocked",
            1,
            catalog(ProductRestocked {
                product_id: product(),
                quantity: 20,
            }),
        ),
        fixture(
            "StockReserved",
            1,
            catalog(StockReserved {
                product_id: product(),
                order_id: order(),
                quantity: 2,
            }),
        ),
        fixture(
            "StockReleased",
            1,
            catalog(StockReleased {
                product_id: product(),
                order_id: order(),
                quantity: 2,
            }),
        ),
        fixture(
            "CouponRegistered",
            1,
            coupons(CouponRegistered {
                coupon_id: coupon(),
                name: "Rush 10%".to_owned(),
                discount: Discount {
                    kind: DiscountKind::Percent,
                    value: 10,
                },
                total_quantity: 30,
                valid_from: Some(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()),
                valid_until: None,
            }),
        ),
        fixture(
            "CouponIssued",
            1,
            coupons(CouponIssued {
                coupon_id: coupon(),
                user_id: user(),
                user_coupon_id: user_coupon(),
                sequence: 1,
                issued_at: Utc.with_ymd_and_hms(2026, 11, 25, 1, 2, 3).unwrap(),
            }),
        ),
        fixture(
            "CouponUsed",
            1,
            coupons(CouponUsed {
                coupon_id: coupon(),
                user_coupon_id: user_coupon(),
                order_id: order(),
            }),
        ),
        fixture(
            "CouponRestored",
            1,
            coupons(CouponRestored {
                coupon_id: coupon(),
                user_coupon_id: user_coupon(),
                order_id: order(),
            }),
        ),
        fixture(
            "CouponUseVoided",
            1,
            coupons(CouponUseVoided {
                coupon_id: coupon(),
                user_coupon_id: user_coupon(),
                order_id: order(),
            }),
        ),
        fixture(
            "OrderPlaced",
            1,
            orders(OrderPlaced {
                order_id: order(),
                user_id: user(),
                lines: lines(),
                user_coupon_id: Some(user_coupon()),
                total_amount: krw(30_000),
                placed_at: Utc.with_ymd_and_hms(2026, 11, 25, 1, 2, 4).unwrap(),
            }),
        ),
        fixture(
            "OrderStockReserved",
            1,
            orders(OrderStockReserved { order_id: order() }),
        ),
        fixture(
            "OrderCouponApplied",
            1,
            orders(OrderCouponApplied {
                order_id: order(),
                user_coupon_id: user_coupon(),
                coupon_id: coupon(),
                discount_amount: krw(3_000),
            }),
        ),
        fixture(
            "OrderPaid",
            1,
            orders(OrderPaid {
                order_id: order(),
                paid_amount: krw(27_000),
            }),
        ),
        fixture(
            "OrderCompleted",
            1,
            orders(OrderCompleted {
                order_id: order(),
                user_id: user(),
                lines: lines(),
                total_amount: krw(30_000),
                discount_amount: krw(3_000),
                paid_amount: krw(27_000),
                completed_at: Utc.with_ymd_and_hms(2026, 11, 25, 1, 2, 5).unwrap(),
            }),
        ),
        fixture(
            "OrderCancelled",
            1,
            orders(OrderCancelled {
                order_id: OrderId::new(9002).unwrap(),
                reason: CancelReason::InsufficientStock,
                cancelled_at: Utc.with_ymd_and_hms(2026, 11, 25, 1, 2, 5).unwrap(),
            }),
        ),
    ]
}

fn file(fixture: &Fixture) -> std::path::PathBuf {
    golden::path(
        DIR,
        &format!("{}.v{}.bin", fixture.event_type, fixture.version),
    )
}

#[test]
fn every_stored_version_of_every_event_type_has_a_fixture() {
    let mut covered: BTreeMap<&str, BTreeSet<u16>> = BTreeMap::new();
    for fixture in fixtures() {
        covered
            .entry(fixture.event_type)
            .or_default()
            .insert(fixture.version);
    }
    let wanted: BTreeMap<&str, BTreeSet<u16>> = DomainEvent::schema_versions()
        .map(|(event_type, current)| (event_type, (1..=current).collect()))
        .collect();
    assert_eq!(covered, wanted);
}

/// One test, so that a file written for a new version is there before it is read.
#[test]
fn every_fixture_decodes_and_the_current_versions_encode_to_it() {
    for fixture in fixtures() {
        if fixture.expected.schema_version() == fixture.version {
            let encoded = fixture.expected.encode().unwrap();
            assert_eq!(encoded.event_type, fixture.event_type);
            golden::check_written(&file(&fixture), &encoded.payload);
        }
    }
    // The v1 struct is kept only to read v1 rows: it must still write what v1 wrote.
    let v1 = events::wallet::PointsChargedV1 {
        user_id: user(),
        amount: krw(50_000),
    };
    let v1_file = golden::path(DIR, "PointsCharged.v1.bin");
    golden::check_written(&v1_file, &postcard::to_stdvec(&v1).unwrap());

    for fixture in fixtures() {
        let bytes = golden::read(&file(&fixture));
        let decoded = DomainEvent::decode(fixture.event_type, fixture.version, &bytes)
            .unwrap_or_else(|error| panic!("{}: {error}", file(&fixture).display()));
        assert_eq!(decoded, fixture.expected, "{}", file(&fixture).display());
    }
}
