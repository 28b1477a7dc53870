//! What one event does to its Redis view, as data: which hash, at which version, whether
//! it may create the hash, and which fields it sets or increments.

use crate::Envelope;
use crate::coupons::rfc3339;
use events::{CouponEvent, DomainEvent, ProductEvent, WalletEvent};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Op {
    Set(&'static str, String),
    Incr(&'static str, i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ViewUpdate {
    pub key: String,
    pub version: i64,
    /// The event gives the view's whole value, so it may create a missing hash.
    pub create: bool,
    pub ops: Vec<Op>,
}

impl ViewUpdate {
    /// The update an event makes to its hot view; None for events with no view (orders).
    pub(super) fn of(prefix: &str, envelope: &Envelope, event: &DomainEvent) -> Option<Self> {
        let version = envelope.stream_version;
        let update = match event {
            DomainEvent::Wallet(event) => {
                let (user_id, delta) = match event {
                    WalletEvent::PointsCharged(e) => (e.user_id, e.amount.won()),
                    WalletEvent::PointsDeducted(e) => (e.user_id, -e.amount.won()),
                    WalletEvent::PointsRefunded(e) => (e.user_id, e.amount.won()),
                };
                Self {
                    key: format!("{prefix}balance:{user_id}"),
                    version,
                    // A wallet starts at 0, so its first event gives the whole balance.
                    create: version == 1,
                    ops: vec![Op::Incr("balance", delta)],
                }
            }
            DomainEvent::Product(event) => {
                let (product_id, create, ops) = match event {
                    ProductEvent::ProductRegistered(e) => (
                        e.product_id,
                        true,
                        vec![
                            Op::Set("productId", e.product_id.to_string()),
                            Op::Set("name", e.name.clone()),
                            Op::Set("price", e.price.won().to_string()),
                            Op::Set("stock", e.stock.to_string()),
                        ],
                    ),
                    ProductEvent::ProductRestocked(e) => {
                        (e.product_id, false, vec![Op::Incr("stock", e.quantity)])
                    }
                    ProductEvent::StockReserved(e) => {
                        (e.product_id, false, vec![Op::Incr("stock", -e.quantity)])
                    }
                    ProductEvent::StockReleased(e) => {
                        (e.product_id, false, vec![Op::Incr("stock", e.quantity)])
                    }
                };
                Self {
                    key: format!("{prefix}product:{product_id}"),
                    version,
                    create,
                    ops,
                }
            }
            DomainEvent::Coupon(event) => {
                let (coupon_id, create, ops) = match event {
                    CouponEvent::CouponRegistered(e) => (
                        e.coupon_id,
                        true,
                        vec![
                            Op::Set("couponId", e.coupon_id.to_string()),
                            Op::Set("name", e.name.clone()),
                            Op::Set("discountKind", e.discount.kind.as_str().to_owned()),
                            Op::Set("discountValue", e.discount.value.to_string()),
                            Op::Set("totalQuantity", e.total_quantity.to_string()),
                            Op::Set("issuedQuantity", "0".to_owned()),
                            Op::Set("validFrom", e.valid_from.map(rfc3339).unwrap_or_default()),
                            Op::Set("validUntil", e.valid_until.map(rfc3339).unwrap_or_default()),
                        ],
                    ),
                    CouponEvent::CouponIssued(e) => {
                        (e.coupon_id, false, vec![Op::Incr("issuedQuantity", 1)])
                    }
                    // Per-user state lives in SQL; the view still moves `v`, so a reader
                    // waiting for this version of the coupon is not kept waiting.
                    CouponEvent::CouponUsed(e) => (e.coupon_id, false, Vec::new()),
                    CouponEvent::CouponRestored(e) => (e.coupon_id, false, Vec::new()),
                };
                Self {
                    key: format!("{prefix}coupon:{coupon_id}"),
                    version,
                    create,
                    ops,
                }
            }
            DomainEvent::Order(_) => return None,
        };
        Some(update)
    }

    /// The script's ARGV (see `script.rs`).
    pub(super) fn args(&self) -> Vec<String> {
        let mut args = Vec::with_capacity(2 + 3 * self.ops.len());
        args.push(self.version.to_string());
        args.push(if self.create { "1" } else { "0" }.to_owned());
        for op in &self.ops {
            let (kind, field, value) = match op {
                Op::Set(field, value) => ("set", field, value.clone()),
                Op::Incr(field, delta) => ("incr", field, delta.to_string()),
            };
            args.push(kind.to_owned());
            args.push((*field).to_owned());
            args.push(value);
        }
        args
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use events::wallet::PointsDeducted;
    use events::{Krw, OrderId, StreamId, UserId};

    fn envelope(version: i64) -> Envelope {
        Envelope {
            stream_id: StreamId::wallet(UserId::new(42).unwrap()),
            stream_version: version,
            event_id: None,
            global_position: None,
            correlation_id: None,
            recorded_at: Utc::now(),
        }
    }

    #[test]
    fn a_wallet_event_creates_the_balance_only_at_version_one() {
        let event = DomainEvent::Wallet(
            PointsDeducted {
                user_id: UserId::new(42).unwrap(),
                order_id: OrderId::new(9).unwrap(),
                amount: Krw::new(700).unwrap(),
            }
            .into(),
        );
        let first = ViewUpdate::of("p:", &envelope(1), &event).unwrap();
        assert_eq!(first.key, "p:balance:42");
        assert!(first.create);
        assert_eq!(first.args(), ["1", "1", "incr", "balance", "-700"]);
        assert!(!ViewUpdate::of("p:", &envelope(2), &event).unwrap().create);
    }
}
