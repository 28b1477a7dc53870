//! Event histories and their Kafka messages, in the contract the relay produces
//! (docs/events.md): key = stream id, camelCase JSON value, envelope in headers.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use events::coupon::{CouponIssued, CouponRegistered, CouponRestored, CouponUsed};
use events::product::{ProductRegistered, ProductRestocked, StockReleased, StockReserved};
use events::wallet::{PointsCharged, PointsDeducted, PointsRefunded};
use events::*;
use std::collections::HashMap;

/// One Kafka message, ready to produce to `{prefix}{category}`.
#[derive(Debug, Clone)]
pub struct Message {
    pub category: String,
    pub key: String,
    pub value: Vec<u8>,
    pub headers: Vec<(&'static str, String)>,
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub stream: StreamId,
    pub version: i64,
    pub position: i64,
    pub event: DomainEvent,
}

#[derive(Debug, Default, Clone)]
pub struct History {
    pub events: Vec<Recorded>,
    versions: HashMap<StreamId, i64>,
}

impl History {
    /// Appends `event` at the next version of `stream`.
    pub fn push(&mut self, stream: StreamId, event: DomainEvent) {
        let version = self.versions.get(&stream).copied().unwrap_or(0) + 1;
        self.push_at(stream, version, event);
    }

    /// Appends `event` at `version` (to model a stream whose start is missing).
    pub fn push_at(&mut self, stream: StreamId, version: i64, event: DomainEvent) {
        self.versions.insert(stream.clone(), version);
        let position = self.events.len() as i64 + 1;
        self.events.push(Recorded {
            stream,
            version,
            position,
            event,
        });
    }

    pub fn messages(&self) -> Vec<Message> {
        self.events.iter().map(message).collect()
    }
}

/// The message the relay publishes for `recorded`.
pub fn message(recorded: &Recorded) -> Message {
    let value = serde_json::to_vec(&recorded.event.to_json().unwrap()).unwrap();
    let headers = vec![
        ("event-type", recorded.event.event_type().to_owned()),
        (
            "schema-version",
            recorded.event.encode().unwrap().schema_version.to_string(),
        ),
        ("event-id", EventId::new().to_string()),
        ("stream-id", recorded.stream.to_string()),
        ("stream-version", recorded.version.to_string()),
        ("global-position", recorded.position.to_string()),
        ("correlation-id", uuid::Uuid::now_v7().to_string()),
        (
            "recorded-at",
            Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true),
        ),
        ("content-type", "application/json".to_owned()),
    ];
    Message {
        category: recorded.stream.category().to_owned(),
        key: recorded.stream.to_string(),
        value,
        headers,
    }
}

/// An order placed, on the order topic: the projections of other aggregates must pass
/// over it, not stop at it.
pub fn order_message(order: i64) -> Message {
    Message {
        category: "order".to_owned(),
        key: format!("order-{order}"),
        value: format!(
            r#"{{"orderId":{order},"userId":1,"lines":[{{"productId":1,"quantity":1,"unitPrice":100}}],"userCouponId":null,"totalAmount":100,"placedAt":"2026-11-25T01:02:04Z"}}"#
        )
        .into_bytes(),
        headers: vec![
            ("event-type", "OrderPlaced".to_owned()),
            ("schema-version", "1".to_owned()),
            ("stream-id", format!("order-{order}")),
            ("stream-version", "1".to_owned()),
        ],
    }
}

fn user(id: i64) -> UserId {
    UserId::new(id).unwrap()
}
fn product(id: i64) -> ProductId {
    ProductId::new(id).unwrap()
}
fn coupon(id: i64) -> CouponId {
    CouponId::new(id).unwrap()
}
fn order(id: i64) -> OrderId {
    OrderId::new(id).unwrap()
}
fn krw(won: i64) -> Krw {
    Krw::new(won).unwrap()
}
fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, day, 9, 30, 0).unwrap()
}

fn catalog_and_coupons() -> Vec<Vec<(StreamId, DomainEvent)>> {
    let tumbler = StreamId::product(product(7));
    let mug = StreamId::product(product(8));
    let rush = StreamId::coupon(coupon(3));
    let fixed = StreamId::coupon(coupon(4));
    let product_events = |stream: &StreamId, events: Vec<ProductEvent>| {
        events
            .into_iter()
            .map(|e| (stream.clone(), DomainEvent::Product(e)))
            .collect::<Vec<_>>()
    };
    let coupon_events = |stream: &StreamId, events: Vec<CouponEvent>| {
        events
            .into_iter()
            .map(|e| (stream.clone(), DomainEvent::Coupon(e)))
            .collect::<Vec<_>>()
    };
    let mut rush_events: Vec<CouponEvent> = vec![
        CouponRegistered {
            coupon_id: coupon(3),
            name: "Rush 10%".into(),
            discount: Discount {
                kind: DiscountKind::Percent,
                value: 10,
            },
            total_quantity: 30,
            valid_from: Some(at(1)),
            valid_until: None,
        }
        .into(),
    ];
    for i in 1..=5 {
        rush_events.push(
            CouponIssued {
                coupon_id: coupon(3),
                user_id: user(i),
                user_coupon_id: UserCouponId::new(100 + i).unwrap(),
                sequence: i,
                issued_at: at(2),
            }
            .into(),
        );
    }
    rush_events.extend([
        CouponUsed {
            coupon_id: coupon(3),
            user_coupon_id: UserCouponId::new(101).unwrap(),
            order_id: order(9001),
        }
        .into(),
        CouponUsed {
            coupon_id: coupon(3),
            user_coupon_id: UserCouponId::new(102).unwrap(),
            order_id: order(9002),
        }
        .into(),
        CouponRestored {
            coupon_id: coupon(3),
            user_coupon_id: UserCouponId::new(102).unwrap(),
            order_id: order(9002),
        }
        .into(),
    ]);
    vec![
        product_events(
            &tumbler,
            vec![
                ProductRegistered {
                    product_id: product(7),
                    name: "Tumbler".into(),
                    price: krw(25_000),
                    stock: 10,
                }
                .into(),
                ProductRestocked {
                    product_id: product(7),
                    quantity: 5,
                }
                .into(),
                StockReserved {
                    product_id: product(7),
                    order_id: order(1),
                    quantity: 3,
                }
                .into(),
                StockReleased {
                    product_id: product(7),
                    order_id: order(1),
                    quantity: 1,
                }
                .into(),
            ],
        ),
        product_events(
            &mug,
            vec![
                ProductRegistered {
                    product_id: product(8),
                    name: "머그컵".into(),
                    price: krw(12_000),
                    stock: 3,
                }
                .into(),
                StockReserved {
                    product_id: product(8),
                    order_id: order(2),
                    quantity: 3,
                }
                .into(),
            ],
        ),
        coupon_events(&rush, rush_events),
        coupon_events(
            &fixed,
            vec![
                CouponRegistered {
                    coupon_id: coupon(4),
                    name: "1,000 off".into(),
                    discount: Discount {
                        kind: DiscountKind::Fixed,
                        value: 1_000,
                    },
                    total_quantity: 2,
                    valid_from: None,
                    valid_until: Some(at(31)),
                }
                .into(),
            ],
        ),
    ]
}

/// `per_user` wallet events for users `1..=users`: charges, a deduction and a refund.
fn wallets(users: i64, per_user: i64) -> Vec<Vec<(StreamId, DomainEvent)>> {
    (1..=users)
        .map(|id| {
            let stream = StreamId::wallet(user(id));
            (0..per_user)
                .map(|i| {
                    let event: WalletEvent = match i % 10 {
                        7 => PointsDeducted {
                            user_id: user(id),
                            order_id: order(i + 1),
                            amount: krw(5),
                        }
                        .into(),
                        9 => PointsRefunded {
                            user_id: user(id),
                            order_id: order(i + 1),
                            amount: krw(3),
                        }
                        .into(),
                        _ => PointsCharged {
                            user_id: user(id),
                            amount: krw(100 + i),
                            idempotency_key: None,
                        }
                        .into(),
                    };
                    (stream.clone(), DomainEvent::Wallet(event))
                })
                .collect()
        })
        .collect()
}

/// Takes one event from each stream in turn, so streams interleave as they would in the
/// global order while each stays in version order.
fn interleave(streams: Vec<Vec<(StreamId, DomainEvent)>>) -> History {
    let mut history = History::default();
    let mut streams: Vec<_> = streams.into_iter().map(Vec::into_iter).collect();
    loop {
        let mut any = false;
        for stream in &mut streams {
            if let Some((id, event)) = stream.next() {
                history.push(id, event);
                any = true;
            }
        }
        if !any {
            return history;
        }
    }
}

/// Products, coupons (issued, used, restored) and `users` wallets of `per_user` events,
/// plus a wallet whose first four versions are missing (no projection may apply it: it
/// waits for its predecessors).
pub fn shop_history(users: i64, per_user: i64) -> History {
    let mut streams = catalog_and_coupons();
    streams.extend(wallets(users, per_user));
    let mut history = interleave(streams);
    history.push_at(
        StreamId::wallet(user(777)),
        5,
        DomainEvent::Wallet(
            PointsCharged {
                user_id: user(777),
                amount: krw(50),
                idempotency_key: None,
            }
            .into(),
        ),
    );
    history
}

/// One more charge at the next version of `user`'s wallet in `history`.
pub fn charge(history: &mut History, user_id: i64, amount: i64) {
    history.push(
        StreamId::wallet(user(user_id)),
        DomainEvent::Wallet(
            PointsCharged {
                user_id: user(user_id),
                amount: krw(amount),
                idempotency_key: None,
            }
            .into(),
        ),
    );
}
