//! What one event does to its Redis view, as data: which hash, at which version, whether
//! it may create the hash, and which fields it sets or increments; for a completed order
//! also which day's sales it adds to.

use super::keys;
use crate::Envelope;
use crate::coupons::rfc3339;
use crate::sold_day::{expire_at, sold_date};
use chrono_tz::Tz;
use events::names::hot_view::{View, field};
use events::{CouponEvent, DomainEvent, OrderEvent, ProductEvent, WalletEvent};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Op {
    Set(&'static str, String),
    Incr(&'static str, i64),
    /// Adds units to a product on the day's sorted set.
    ZIncr(i64, i64),
    /// When the day's sorted set expires (Unix seconds).
    ExpireAt(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ViewUpdate {
    pub key: String,
    /// KEYS[2..] of the script (see `script.rs`): the pause flag, then for order events the
    /// ready marker, then for a completion the day's sorted set.
    pub extra_keys: Vec<String>,
    pub version: i64,
    /// The event gives the view's whole value, so it may create a missing hash.
    pub create: bool,
    pub ops: Vec<Op>,
}

impl ViewUpdate {
    /// The update an event makes to its hot view. `timezone` decides a sale's day.
    pub(super) fn of(
        prefix: &str,
        timezone: Tz,
        envelope: &Envelope,
        event: &DomainEvent,
    ) -> Option<Self> {
        let version = envelope.stream_version;
        let update = match event {
            DomainEvent::Wallet(event) => {
                let (user_id, delta) = match event {
                    WalletEvent::PointsCharged(e) => (e.user_id, e.amount.won()),
                    WalletEvent::PointsDeducted(e) => (e.user_id, -e.amount.won()),
                    WalletEvent::PointsRefunded(e) => (e.user_id, e.amount.won()),
                };
                Self {
                    key: View::Balance.key(prefix, user_id),
                    extra_keys: vec![keys::rebuilding(prefix)],
                    version,
                    // A wallet starts at 0, so its first event gives the whole balance.
                    create: version == 1,
                    ops: vec![Op::Incr(field::BALANCE, delta)],
                }
            }
            DomainEvent::Product(event) => {
                let (product_id, create, ops) = match event {
                    ProductEvent::ProductRegistered(e) => (
                        e.product_id,
                        true,
                        vec![
                            Op::Set(field::PRODUCT_ID, e.product_id.to_string()),
                            Op::Set(field::NAME, e.name.clone()),
                            Op::Set(field::PRICE, e.price.won().to_string()),
                            Op::Set(field::STOCK, e.stock.to_string()),
                        ],
                    ),
                    ProductEvent::ProductRestocked(e) => (
                        e.product_id,
                        false,
                        vec![Op::Incr(field::STOCK, e.quantity)],
                    ),
                    ProductEvent::StockReserved(e) => (
                        e.product_id,
                        false,
                        vec![Op::Incr(field::STOCK, -e.quantity)],
                    ),
                    ProductEvent::StockReleased(e) => (
                        e.product_id,
                        false,
                        vec![Op::Incr(field::STOCK, e.quantity)],
                    ),
                };
                Self {
                    key: View::Product.key(prefix, product_id),
                    extra_keys: vec![keys::rebuilding(prefix)],
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
                            Op::Set(field::COUPON_ID, e.coupon_id.to_string()),
                            Op::Set(field::NAME, e.name.clone()),
                            Op::Set(field::DISCOUNT_KIND, e.discount.kind.as_str().to_owned()),
                            Op::Set(field::DISCOUNT_VALUE, e.discount.value.to_string()),
                            Op::Set(field::TOTAL_QUANTITY, e.total_quantity.to_string()),
                            Op::Set(field::ISSUED_QUANTITY, "0".to_owned()),
                            Op::Set(
                                field::VALID_FROM,
                                e.valid_from.map(rfc3339).unwrap_or_default(),
                            ),
                            Op::Set(
                                field::VALID_UNTIL,
                                e.valid_until.map(rfc3339).unwrap_or_default(),
                            ),
                        ],
                    ),
                    CouponEvent::CouponIssued(e) => (
                        e.coupon_id,
                        false,
                        vec![Op::Incr(field::ISSUED_QUANTITY, 1)],
                    ),
                    // Per-user state lives in SQL; the view still moves `v`, so a reader
                    // waiting for this version of the coupon is not kept waiting.
                    CouponEvent::CouponUsed(e) => (e.coupon_id, false, Vec::new()),
                    CouponEvent::CouponRestored(e) => (e.coupon_id, false, Vec::new()),
                    CouponEvent::CouponUseVoided(e) => (e.coupon_id, false, Vec::new()),
                };
                Self {
                    key: View::Coupon.key(prefix, coupon_id),
                    extra_keys: vec![keys::rebuilding(prefix)],
                    version,
                    create,
                    ops,
                }
            }
            DomainEvent::Order(event) => order_update(prefix, timezone, version, event),
        };
        Some(update)
    }

    /// How many arguments [`args`](Self::args) yields.
    pub(super) fn arg_count(&self) -> usize {
        2 + 3 * self.ops.len()
    }

    /// The script's ARGV for this update (see `script.rs`), borrowed from the update and
    /// written straight into the command, without a `String` per argument.
    pub(super) fn args(&self) -> impl Iterator<Item = Arg<'_>> {
        let create = Arg::Text(if self.create { "1" } else { "0" });
        [Arg::Int(self.version), create]
            .into_iter()
            .chain(self.ops.iter().flat_map(|op| {
                let (kind, field, value) = match op {
                    Op::Set(field, value) => ("set", Arg::Text(field), Arg::Text(value)),
                    Op::Incr(field, delta) => ("incr", Arg::Text(field), Arg::Int(*delta)),
                    Op::ZIncr(member, delta) => ("zincr", Arg::Int(*member), Arg::Int(*delta)),
                    Op::ExpireAt(at) => ("expireat", Arg::Text(""), Arg::Int(*at)),
                };
                [Arg::Text(kind), field, value]
            }))
    }
}

/// One argument of the script: text, or a number redis formats on the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Arg<'a> {
    Text(&'a str),
    Int(i64),
}

impl ::redis::ToRedisArgs for Arg<'_> {
    fn write_redis_args<W>(&self, out: &mut W)
    where
        W: ?Sized + ::redis::RedisWrite,
    {
        match self {
            Arg::Text(text) => text.write_redis_args(out),
            Arg::Int(number) => number.write_redis_args(out),
        }
    }
}

/// `{p}order:{orderId}`: the order as GET /v1/orders/{id} shows it, and, through `v`, the
/// guard that lets its completion count once in `{p}sales:{day}`.
fn order_update(prefix: &str, timezone: Tz, version: i64, event: &OrderEvent) -> ViewUpdate {
    let (order_id, create, ops) = match event {
        OrderEvent::OrderPlaced(e) => (
            e.order_id,
            true,
            vec![
                Op::Set(field::ORDER_ID, e.order_id.to_string()),
                Op::Set(field::USER_ID, e.user_id.to_string()),
                Op::Set(field::STATUS, "PENDING".to_owned()),
                Op::Set(
                    field::ITEMS,
                    serde_json::to_string(&e.lines).unwrap_or_default(),
                ),
                Op::Set(field::TOTAL_AMOUNT, e.total_amount.won().to_string()),
                Op::Set(field::DISCOUNT_AMOUNT, "0".to_owned()),
                Op::Set(field::PAID_AMOUNT, "0".to_owned()),
                Op::Set(field::REASON, String::new()),
            ],
        ),
        OrderEvent::OrderStockReserved(e) => (e.order_id, false, Vec::new()),
        OrderEvent::OrderCouponApplied(e) => (
            e.order_id,
            false,
            vec![Op::Set(
                field::DISCOUNT_AMOUNT,
                e.discount_amount.won().to_string(),
            )],
        ),
        OrderEvent::OrderPaid(e) => (
            e.order_id,
            false,
            vec![Op::Set(field::PAID_AMOUNT, e.paid_amount.won().to_string())],
        ),
        OrderEvent::OrderCompleted(e) => {
            let mut ops = vec![
                Op::Set(field::STATUS, "COMPLETED".to_owned()),
                Op::Set(field::DISCOUNT_AMOUNT, e.discount_amount.won().to_string()),
                Op::Set(field::PAID_AMOUNT, e.paid_amount.won().to_string()),
            ];
            ops.extend(
                e.lines
                    .iter()
                    .map(|line| Op::ZIncr(line.product_id.get(), line.quantity)),
            );
            let day = sold_date(e.completed_at, timezone);
            ops.push(Op::ExpireAt(expire_at(day, timezone)));
            (e.order_id, false, ops)
        }
        OrderEvent::OrderCancelled(e) => (
            e.order_id,
            false,
            vec![
                Op::Set(field::STATUS, "CANCELLED".to_owned()),
                Op::Set(field::REASON, e.reason.as_str().to_owned()),
            ],
        ),
    };
    let mut extra_keys = vec![keys::rebuilding(prefix), keys::ready(prefix)];
    if let OrderEvent::OrderCompleted(e) = event {
        extra_keys.push(keys::day(prefix, sold_date(e.completed_at, timezone)));
    }
    ViewUpdate {
        key: View::Order.key(prefix, order_id),
        extra_keys,
        version,
        create,
        ops,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use events::order::OrderCompleted;
    use events::wallet::PointsDeducted;
    use events::{Krw, OrderId, OrderLine, ProductId, StreamId, UserId};

    /// An update's arguments as the script receives them.
    fn texts(update: &ViewUpdate) -> Vec<String> {
        update
            .args()
            .map(|arg| match arg {
                Arg::Text(text) => text.to_owned(),
                Arg::Int(number) => number.to_string(),
            })
            .collect()
    }

    fn envelope(version: i64) -> Envelope {
        Envelope {
            stream_id: StreamId::wallet(UserId::new(42).unwrap()),
            stream_version: version,
            event_id: None,
            global_position: None,
            correlation_id: None,
            trace: None,
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
        let seoul = chrono_tz::Asia::Seoul;
        let first = ViewUpdate::of("p:", seoul, &envelope(1), &event).unwrap();
        assert_eq!(first.key, "p:balance:42");
        // A rebuild's pause flag holds wallet events back too, not only orders.
        assert_eq!(first.extra_keys, ["p:views:rebuilding"]);
        assert!(first.create);
        assert_eq!(texts(&first), ["1", "1", "incr", "balance", "-700"]);
        assert!(
            !ViewUpdate::of("p:", seoul, &envelope(2), &event)
                .unwrap()
                .create
        );
    }

    #[test]
    fn a_completion_adds_its_lines_to_its_day_in_the_zone_beside_the_order_view() {
        let completed_at =
            chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 24, 15, 0, 0).unwrap();
        let event = DomainEvent::Order(
            OrderCompleted {
                order_id: OrderId::new(9).unwrap(),
                user_id: UserId::new(42).unwrap(),
                lines: vec![OrderLine {
                    product_id: ProductId::new(7).unwrap(),
                    quantity: 2,
                    unit_price: Krw::new(100).unwrap(),
                }],
                total_amount: Krw::new(200).unwrap(),
                discount_amount: Krw::ZERO,
                paid_amount: Krw::new(200).unwrap(),
                completed_at,
            }
            .into(),
        );
        let update = ViewUpdate::of("p:", chrono_tz::Asia::Seoul, &envelope(5), &event).unwrap();
        assert_eq!(update.key, "p:order:9");
        assert_eq!(
            update.extra_keys,
            ["p:views:rebuilding", "p:sales:ready", "p:sales:2026-11-25"]
        );
        assert!(!update.create);
        let args = texts(&update);
        assert_eq!(update.arg_count(), args.len());
        assert_eq!(args[..2], ["5", "0"]);
        assert!(
            args.windows(3).any(|op| op == ["zincr", "7", "2"]),
            "{args:?}"
        );
        assert!(args.windows(3).any(|op| op[0] == "expireat"), "{args:?}");
    }
}
