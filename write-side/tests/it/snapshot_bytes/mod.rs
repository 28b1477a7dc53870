//! Golden files of every snapshot version of every aggregate
//! (`fixtures/snapshots/{aggregate}.v{version}.bin`).
//!
//! The current version's state must encode to exactly its file and decode back to the
//! value written here. An older version's file must be refused: shop never reads an old
//! snapshot, it replays the stream instead, and it must refuse it even under the current
//! version number (a version bump forgotten) when its layout is another, which the
//! layout fingerprint makes sure of.
//!
//! Adding a version: bump `SNAPSHOT_VERSION`, change the expected value here if the state
//! changed, and run `SHOP_WRITE_FIXTURES=1 cargo test -p write-side --test it
//! snapshot_bytes` to write the new file; the old ones stay as they are.
//!
//! The files of versions before the fingerprint (wallet, product, order v1; coupon v1-v3)
//! are the plain postcard bytes of the same states in the layouts of their time (coupon v1
//! and v2 held their holders in the state, as in commits 2383573 and ea94125).

#[path = "../../../../events/tests/it/stored_bytes/golden.rs"]
mod golden;

use chrono::{TimeZone, Utc};
use events::coupon::{CouponIssued, CouponRegistered};
use events::order::{
    OrderCompleted, OrderCouponApplied, OrderPaid, OrderPlaced, OrderStockReserved,
};
use events::product::{ProductRegistered, StockReleased, StockReserved};
use events::wallet::{PointsCharged, PointsDeducted, PointsRefunded};
use events::*;
use write_side::domain::coupon::{Coupon, CouponInfo};
use write_side::domain::order::Order;
use write_side::domain::product::Product;
use write_side::domain::snapshot::{self, SnapshotError};
use write_side::domain::wallet::Wallet;
use write_side::domain::{Aggregate, replay};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/snapshots");

fn file<A: Aggregate>(version: u16) -> std::path::PathBuf {
    golden::path(DIR, &format!("{}.v{version}.bin", A::NAME))
}

/// Checks the file of every version of `A` (each must exist): `state` is the current
/// version's value, and `check` compares a decoded state with it (a coupon's entries are
/// not in its snapshot, so not every state compares whole).
fn check<A: Aggregate + std::fmt::Debug>(state: A, check: impl Fn(&A)) {
    let current = A::SNAPSHOT_VERSION;
    golden::check_written(&file::<A>(current), &snapshot::encode(&state).unwrap());
    let decoded = snapshot::decode::<A>(current, &golden::read(&file::<A>(current)))
        .unwrap_or_else(|error| panic!("{}: {error}", file::<A>(current).display()));
    check(&decoded);

    for old in 1..current {
        let bytes = golden::read(&file::<A>(old));
        assert!(
            matches!(
                snapshot::decode::<A>(old, &bytes),
                Err(SnapshotError::Version { .. })
            ),
            "{} v{old} is read",
            A::NAME
        );
        // Even claiming the current version it is refused, unless it is of the current
        // layout (a version bumped for a change of meaning only), so it reads correctly.
        let same_layout = bytes.starts_with(&snapshot::fingerprint::<A>().unwrap().0);
        let misread = snapshot::decode::<A>(current, &bytes);
        assert!(
            same_layout || misread.is_err(),
            "{} v{old} reads as v{current}: {misread:?}",
            A::NAME
        );
    }
}

fn user() -> UserId {
    UserId::new(42).unwrap()
}
fn order_id() -> OrderId {
    OrderId::new(9001).unwrap()
}
fn product_id() -> ProductId {
    ProductId::new(7).unwrap()
}
fn coupon_id() -> CouponId {
    CouponId::new(3).unwrap()
}
fn krw(won: i64) -> Krw {
    Krw::new(won).unwrap()
}
fn at(second: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 1, 2, second).unwrap()
}

fn wallet() -> Wallet {
    let history: Vec<WalletEvent> = vec![
        PointsCharged {
            user_id: user(),
            amount: krw(50_000),
            idempotency_key: Some("7f1c0d".to_owned()),
        }
        .into(),
        PointsDeducted {
            user_id: user(),
            order_id: order_id(),
            amount: krw(27_000),
        }
        .into(),
        PointsRefunded {
            user_id: user(),
            order_id: order_id(),
            amount: krw(27_000),
        }
        .into(),
    ];
    replay(Wallet::default(), &history)
}

fn product() -> Product {
    let history: Vec<ProductEvent> = vec![
        ProductRegistered {
            product_id: product_id(),
            name: "Tumbler".to_owned(),
            price: krw(25_000),
            stock: 100,
        }
        .into(),
        StockReserved {
            product_id: product_id(),
            order_id: order_id(),
            quantity: 2,
        }
        .into(),
        StockReleased {
            product_id: product_id(),
            order_id: order_id(),
            quantity: 2,
        }
        .into(),
        StockReserved {
            product_id: product_id(),
            order_id: OrderId::new(9002).unwrap(),
            quantity: 1,
        }
        .into(),
    ];
    replay(Product::default(), &history)
}

fn order() -> Order {
    let lines = vec![OrderLine {
        product_id: product_id(),
        quantity: 2,
        unit_price: krw(15_000),
    }];
    let user_coupon_id = UserCouponId::compose(coupon_id(), 1).unwrap();
    let history: Vec<OrderEvent> = vec![
        OrderPlaced {
            order_id: order_id(),
            user_id: user(),
            lines: lines.clone(),
            user_coupon_id: Some(user_coupon_id),
            total_amount: krw(30_000),
            placed_at: at(4),
        }
        .into(),
        OrderStockReserved {
            order_id: order_id(),
        }
        .into(),
        OrderCouponApplied {
            order_id: order_id(),
            user_coupon_id,
            coupon_id: coupon_id(),
            discount_amount: krw(3_000),
        }
        .into(),
        OrderPaid {
            order_id: order_id(),
            paid_amount: krw(27_000),
        }
        .into(),
        OrderCompleted {
            order_id: order_id(),
            user_id: user(),
            lines,
            total_amount: krw(30_000),
            discount_amount: krw(3_000),
            paid_amount: krw(27_000),
            completed_at: at(5),
        }
        .into(),
    ];
    replay(Order::default(), &history)
}

fn coupon_info() -> CouponInfo {
    CouponInfo {
        coupon_id: coupon_id(),
        name: "Rush 10%".to_owned(),
        discount: Discount {
            kind: DiscountKind::Percent,
            value: 10,
        },
        total_quantity: 30,
        valid_from: Some(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()),
        valid_until: None,
    }
}

/// Registered, then issued to users 42 and 43.
fn coupon() -> Coupon {
    let info = coupon_info();
    let mut history: Vec<CouponEvent> = vec![
        CouponRegistered {
            coupon_id: info.coupon_id,
            name: info.name,
            discount: info.discount,
            total_quantity: info.total_quantity,
            valid_from: info.valid_from,
            valid_until: info.valid_until,
        }
        .into(),
    ];
    for sequence in 1..=2 {
        history.push(
            CouponIssued {
                coupon_id: coupon_id(),
                user_id: UserId::new(41 + sequence).unwrap(),
                user_coupon_id: UserCouponId::compose(coupon_id(), sequence).unwrap(),
                sequence,
                issued_at: at(3),
            }
            .into(),
        );
    }
    replay(Coupon::default(), &history)
}

#[test]
fn wallet_snapshots() {
    check(wallet(), |decoded| assert_eq!(*decoded, wallet()));
}

#[test]
fn product_snapshots() {
    check(product(), |decoded| assert_eq!(*decoded, product()));
}

#[test]
fn order_snapshots() {
    check(order(), |decoded| assert_eq!(*decoded, order()));
}

#[test]
fn coupon_snapshots() {
    check(coupon(), |decoded| {
        assert_eq!(decoded.info(), Some(&coupon_info()));
        assert_eq!(decoded.issued_quantity(), 2);
        // The holders are entries beside the events, not snapshot bytes.
        assert_eq!(decoded.held_by(user()), None);
    });
}

/// Why the fingerprint: postcard alone reads a coupon v2 snapshot (holders in the state)
/// as today's coupon without an error, and the holders are silently lost.
#[test]
fn postcard_alone_would_misread_an_old_coupon_snapshot() {
    let v2 = golden::read(&file::<Coupon>(2));
    let misread: Coupon = postcard::from_bytes(&v2).unwrap();
    assert_eq!(misread.issued_quantity(), 2);
    assert_eq!(misread.held_by(user()), None);
}
