//! One seeded schedule's world: the order (its lines, its coupon, the user's points),
//! what each participant starts with, and when each driver starts, crashes and restarts.

use events::{
    CouponId, Discount, DiscountKind, Krw, Metadata, OrderId, OrderLine, ProductId, StreamId,
    UserCouponId, UserId,
};
use rand::Rng;
use rand::rngs::StdRng;
use std::time::Duration;
use write_side::domain::coupon::CouponCommand;
use write_side::domain::order::{OrderCommand, PlacedOrder, discount_for};
use write_side::domain::product::ProductCommand;
use write_side::domain::wallet::WalletCommand;
use write_side::idempotency::IdempotencyKey;
use write_side::saga::{OrderSaga, PlaceOrder};

pub const ORDER: i64 = 1;
pub const COUPON: i64 = 1;
pub const USER: i64 = 7;
/// Holds the coupon's other issue, or uses the user's coupon in another order.
pub const SOMEONE_ELSE: i64 = 99;

#[derive(Debug, Clone, Copy)]
pub struct Line {
    pub product_id: ProductId,
    pub price: Krw,
    pub quantity: i64,
    pub initial_stock: i64,
}

/// The coupon the order names, and why it can or cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CouponCase {
    /// Issued to the user, unused.
    Usable(Discount),
    /// Issued to someone else.
    SomeoneElses,
    /// The user's, but already used by another order.
    UsedElsewhere,
}

/// How the second driver comes to the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Second {
    /// A repeat of the keyed placement in another process (`OrderSaga::place`, which
    /// resumes the order it finds under the key); not crashed.
    KeyedRepeat,
    /// A driver in another process that read the order and drives it, crashing at
    /// `crash_at` if set.
    Driver { crash_at: Option<Duration> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoveryHome {
    /// In the live driver's process: a mark the live driver left behind would keep it
    /// away from the order.
    WithLiveDriver,
    /// In a process of its own (restarted as a fresh process after a crash).
    Own,
}

/// A change to a participant from outside the order while the saga runs: it can turn a
/// step refused to one driver into one another driver's late step gets through, which is
/// what a compensation's mark must stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outside {
    /// A restock of the line's product that covers it.
    Restock { line: usize, quantity: i64 },
    /// A charge of the user's points that covers the order.
    Charge(Krw),
    /// The other order that used the user's coupon is cancelled and gives it back.
    FreeCoupon,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub live_crash_at: Option<Duration>,
    pub second_starts: Duration,
    pub second: Second,
    pub recovery: RecoveryHome,
    /// When the recovery scan crashes, and how long until it runs again.
    pub recovery_crash: Option<(Duration, Duration)>,
    pub store_seed: u64,
    /// When each outside change is sent.
    pub outside: Vec<(Duration, Outside)>,
}

#[derive(Debug, Clone)]
pub struct Scenario {
    pub lines: Vec<Line>,
    pub coupon: Option<CouponCase>,
    pub initial_balance: Krw,
    pub plan: Plan,
}

fn won(n: i64) -> Krw {
    Krw::new(n).expect("non-negative")
}

fn maybe_crash(rng: &mut StdRng, within_ms: u64) -> Option<Duration> {
    rng.random_bool(0.5)
        .then(|| Duration::from_micros(rng.random_range(0..within_ms * 1_000)))
}

impl Scenario {
    pub fn generate(rng: &mut StdRng) -> Self {
        let lines: Vec<Line> = (1..=rng.random_range(1..=3))
            .map(|n| {
                let quantity = rng.random_range(1..=3);
                // Now and then one line cannot be reserved.
                let initial_stock = if rng.random_bool(0.15) {
                    rng.random_range(0..quantity)
                } else {
                    rng.random_range(quantity..=quantity + 5)
                };
                Line {
                    product_id: ProductId::new(n).expect("positive"),
                    price: won(rng.random_range(1..=50) * 100),
                    quantity,
                    initial_stock,
                }
            })
            .collect();
        let coupon = match rng.random_range(0..10) {
            0..=2 => None,
            3..=7 => Some(CouponCase::Usable(if rng.random_bool(0.5) {
                Discount {
                    kind: DiscountKind::Fixed,
                    value: rng.random_range(1..=20) * 100,
                }
            } else {
                Discount {
                    kind: DiscountKind::Percent,
                    value: rng.random_range(1..=100),
                }
            })),
            8 => Some(CouponCase::SomeoneElses),
            _ => Some(CouponCase::UsedElsewhere),
        };
        let mut scenario = Self {
            lines,
            coupon,
            initial_balance: Krw::ZERO,
            plan: Plan {
                live_crash_at: maybe_crash(rng, 300),
                second_starts: Duration::from_micros(rng.random_range(0..30_000)),
                second: if rng.random_bool(0.3) {
                    Second::KeyedRepeat
                } else {
                    Second::Driver {
                        crash_at: maybe_crash(rng, 300),
                    }
                },
                recovery: if rng.random_bool(0.5) {
                    RecoveryHome::WithLiveDriver
                } else {
                    RecoveryHome::Own
                },
                recovery_crash: rng.random_bool(0.3).then(|| {
                    (
                        Duration::from_millis(rng.random_range(0..1_500)),
                        Duration::from_millis(rng.random_range(0..500)),
                    )
                }),
                store_seed: rng.random(),
                outside: Vec::new(),
            },
        };
        let due = scenario.amount_due().won();
        // Now and then the points do not cover it.
        scenario.initial_balance = if rng.random_bool(0.15) && due > 0 {
            won(rng.random_range(0..due))
        } else {
            won(due + rng.random_range(0..=10_000))
        };
        let mut outside = Vec::new();
        for (line, l) in scenario.lines.iter().enumerate() {
            if l.initial_stock < l.quantity && rng.random_bool(0.5) {
                let quantity = l.quantity - l.initial_stock;
                outside.push(Outside::Restock { line, quantity });
            }
        }
        if scenario.initial_balance.won() < due && rng.random_bool(0.5) {
            outside.push(Outside::Charge(won(due - scenario.initial_balance.won())));
        }
        if scenario.coupon == Some(CouponCase::UsedElsewhere) && rng.random_bool(0.5) {
            outside.push(Outside::FreeCoupon);
        }
        scenario.plan.outside = outside
            .into_iter()
            .map(|change| (Duration::from_micros(rng.random_range(0..300_000)), change))
            .collect();
        scenario
    }

    /// Sends one outside change until it is decided (the store may fault meanwhile; a
    /// restock whose answer was lost may then go through twice, as a client's retry
    /// would: the checks count what the streams hold).
    pub async fn change(&self, saga: &OrderSaga, change: Outside, metadata: Metadata) {
        use write_side::executor::ExecuteError;
        let services = saga.services();
        loop {
            let answer = match change {
                Outside::Restock { line, quantity } => {
                    let product_id = self.lines[line].product_id;
                    let restock = ProductCommand::Restock { quantity };
                    services
                        .products
                        .execute(StreamId::product(product_id), restock, metadata)
                        .await
                        .map(|_| ())
                        .map_err(|e| matches!(e, ExecuteError::Rejected(_)))
                }
                Outside::Charge(amount) => {
                    let charge = WalletCommand::Charge {
                        user_id: self.user_id(),
                        amount,
                        idempotency_key: Some("model-charge".to_owned()),
                    };
                    services
                        .wallets
                        .execute(StreamId::wallet(self.user_id()), charge, metadata)
                        .await
                        .map(|_| ())
                        .map_err(|e| matches!(e, ExecuteError::Rejected(_)))
                }
                Outside::FreeCoupon => {
                    let restore = CouponCommand::Restore {
                        user_coupon_id: self.user_coupon_id().expect("a coupon"),
                        order_id: OrderId::new(SOMEONE_ELSE).expect("positive"),
                    };
                    services
                        .coupons
                        .execute(StreamId::coupon(self.coupon_id()), restore, metadata)
                        .await
                        .map(|_| ())
                        .map_err(|e| matches!(e, ExecuteError::Rejected(_)))
                }
            };
            match answer {
                Ok(()) => return,
                Err(rejected) => assert!(!rejected, "{change:?} was refused"),
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    pub fn order_id(&self) -> OrderId {
        OrderId::new(ORDER).expect("positive")
    }

    pub fn user_id(&self) -> UserId {
        UserId::new(USER).expect("positive")
    }

    pub fn coupon_id(&self) -> CouponId {
        CouponId::new(COUPON).expect("positive")
    }

    /// The coupon's first issue: the user's, or someone else's.
    pub fn user_coupon_id(&self) -> Option<UserCouponId> {
        self.coupon
            .map(|_| UserCouponId::compose(self.coupon_id(), 1).expect("composable"))
    }

    pub fn total(&self) -> Krw {
        won(self.lines.iter().map(|l| l.price.won() * l.quantity).sum())
    }

    /// The coupon's registered discount.
    pub fn discount(&self) -> Option<Discount> {
        self.coupon.map(|case| match case {
            CouponCase::Usable(discount) => discount,
            CouponCase::SomeoneElses | CouponCase::UsedElsewhere => Discount {
                kind: DiscountKind::Fixed,
                value: 100,
            },
        })
    }

    /// What the order costs if it goes through.
    pub fn amount_due(&self) -> Krw {
        let discount = self
            .discount()
            .map_or(Krw::ZERO, |discount| discount_for(self.total(), &discount));
        won(self.total().won() - discount.won())
    }

    /// Whether every participant can take its step: then the order must complete, and
    /// otherwise be cancelled, whatever crashed and however the drivers interleaved.
    /// `None` when an outside change may turn a refusal around: then either is right,
    /// depending on which came first.
    pub fn goes_through(&self) -> Option<bool> {
        let through = self.lines.iter().all(|l| l.initial_stock >= l.quantity)
            && matches!(self.coupon, None | Some(CouponCase::Usable(_)))
            && self.initial_balance >= self.amount_due();
        self.plan.outside.is_empty().then_some(through)
    }

    pub fn request(&self) -> PlaceOrder {
        PlaceOrder {
            user_id: self.user_id(),
            items: self
                .lines
                .iter()
                .map(|l| (l.product_id, l.quantity))
                .collect(),
            user_coupon_id: self.user_coupon_id(),
        }
    }

    pub fn key(&self) -> IdempotencyKey {
        let request: Vec<(i64, i64)> = self
            .lines
            .iter()
            .map(|l| (l.product_id.get(), l.quantity))
            .collect();
        IdempotencyKey::new("model-order", "user:7", "placeOrder", &request).expect("valid key")
    }

    /// Registers the catalog, the coupon and the points, then places the order under the
    /// key, as `POST /v1/orders` would (before any fault is switched on).
    pub async fn set_up(&self, saga: &OrderSaga, metadata: Metadata) -> PlacedOrder {
        let services = saga.services();
        for line in &self.lines {
            let register = ProductCommand::Register {
                product_id: line.product_id,
                name: format!("product {}", line.product_id),
                price: line.price,
                stock: line.initial_stock,
            };
            services
                .products
                .execute(StreamId::product(line.product_id), register, metadata)
                .await
                .expect("registered");
        }
        if let (Some(case), Some(discount)) = (self.coupon, self.discount()) {
            let coupons = &services.coupons;
            let stream = StreamId::coupon(self.coupon_id());
            let register = CouponCommand::Register {
                coupon_id: self.coupon_id(),
                name: "model".to_owned(),
                discount,
                total_quantity: 10,
                valid_from: None,
                valid_until: None,
            };
            coupons
                .execute(stream.clone(), register, metadata)
                .await
                .expect("registered");
            let holder = match case {
                CouponCase::SomeoneElses => UserId::new(SOMEONE_ELSE).expect("positive"),
                CouponCase::Usable(_) | CouponCase::UsedElsewhere => self.user_id(),
            };
            let issue = CouponCommand::Issue {
                user_id: holder,
                now: chrono::Utc::now(),
            };
            coupons
                .execute(stream.clone(), issue, metadata)
                .await
                .expect("issued");
            if case == CouponCase::UsedElsewhere {
                let used = CouponCommand::Use {
                    user_coupon_id: self.user_coupon_id().expect("a coupon"),
                    user_id: self.user_id(),
                    order_id: OrderId::new(SOMEONE_ELSE).expect("positive"),
                    now: chrono::Utc::now(),
                };
                coupons.execute(stream, used, metadata).await.expect("used");
            }
        }
        if self.initial_balance > Krw::ZERO {
            let charge = WalletCommand::Charge {
                user_id: self.user_id(),
                amount: self.initial_balance,
                idempotency_key: None,
            };
            services
                .wallets
                .execute(StreamId::wallet(self.user_id()), charge, metadata)
                .await
                .expect("charged");
        }
        let lines: Vec<OrderLine> = self
            .lines
            .iter()
            .map(|l| OrderLine {
                product_id: l.product_id,
                quantity: l.quantity,
                unit_price: l.price,
            })
            .collect();
        let place = OrderCommand::Place {
            order_id: self.order_id(),
            user_id: self.user_id(),
            lines,
            user_coupon_id: self.user_coupon_id(),
            placed_at: chrono::Utc::now(),
        };
        services
            .orders
            .execute_keyed(
                StreamId::order(self.order_id()),
                place,
                metadata,
                &self.key(),
                true,
            )
            .await
            .expect("placed")
            .reply
            .expect("an order")
    }
}
