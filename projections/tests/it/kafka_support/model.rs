//! The read models a history should produce, worked out independently of the projector
//! code, and the same models read back from MySQL.

use super::history::History;
use chrono::{DateTime, SecondsFormat, Utc};
use events::{CouponEvent, DomainEvent, ProductEvent, WalletEvent};
use sqlx::AnyPool;
use std::collections::BTreeMap;

type Hash = BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouponRow {
    pub name: String,
    pub discount_kind: String,
    pub discount_value: i64,
    pub total_quantity: i64,
    pub issued_quantity: i64,
    pub valid_from: Option<String>,
    pub valid_until: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCouponRow {
    pub coupon_id: i64,
    pub user_id: i64,
    pub sequence: i64,
    pub status: String,
    pub issued_at: String,
    pub order_id: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SqlModels {
    pub balances: BTreeMap<i64, i64>,
    /// product id -> (name, price, stock)
    pub products: BTreeMap<i64, (String, i64, i64)>,
    pub coupons: BTreeMap<i64, CouponRow>,
    pub user_coupons: BTreeMap<i64, UserCouponRow>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Model {
    pub sql: SqlModels,
    pub redis: BTreeMap<String, Hash>,
}

fn text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn hash(fields: &[(&str, String)]) -> Hash {
    fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

impl Model {
    pub fn of(history: &History, redis_prefix: &str) -> Self {
        let mut model = Model::default();
        // A version whose predecessors never came is held back by every projection (it
        // waits for the relay's in-order resend), so the model skips it too.
        let mut last_version = std::collections::HashMap::new();
        for recorded in &history.events {
            let last = last_version.entry(recorded.stream.clone()).or_insert(0);
            if recorded.version != *last + 1 {
                continue;
            }
            *last = recorded.version;
            model.apply(redis_prefix, recorded.version, &recorded.event);
        }
        model
    }

    /// Sets a Redis view's fields, creating it only if `create`; moves `v` if it exists.
    fn view(&mut self, key: String, version: i64, create: bool, change: impl FnOnce(&mut Hash)) {
        if !self.redis.contains_key(&key) && !create {
            return;
        }
        let view = self.redis.entry(key).or_default();
        change(view);
        view.insert("v".to_owned(), version.to_string());
    }

    fn apply(&mut self, p: &str, version: i64, event: &DomainEvent) {
        let add = |view: &mut Hash, field: &str, delta: i64| {
            let now: i64 = view.get(field).map_or(0, |v| v.parse().unwrap());
            view.insert(field.to_owned(), (now + delta).to_string());
        };
        match event {
            DomainEvent::Wallet(e) => {
                let (user, delta) = match e {
                    WalletEvent::PointsCharged(e) => (e.user_id.get(), e.amount.won()),
                    WalletEvent::PointsDeducted(e) => (e.user_id.get(), -e.amount.won()),
                    WalletEvent::PointsRefunded(e) => (e.user_id.get(), e.amount.won()),
                };
                *self.sql.balances.entry(user).or_default() += delta;
                self.view(format!("{p}balance:{user}"), version, version == 1, |v| {
                    add(v, "balance", delta)
                });
            }
            DomainEvent::Product(ProductEvent::ProductRegistered(e)) => {
                let id = e.product_id.get();
                self.sql
                    .products
                    .insert(id, (e.name.clone(), e.price.won(), e.stock));
                self.view(format!("{p}product:{id}"), version, true, |v| {
                    *v = hash(&[
                        ("productId", id.to_string()),
                        ("name", e.name.clone()),
                        ("price", e.price.won().to_string()),
                        ("stock", e.stock.to_string()),
                    ])
                });
            }
            DomainEvent::Product(e) => {
                let (id, delta) = match e {
                    ProductEvent::ProductRestocked(e) => (e.product_id.get(), e.quantity),
                    ProductEvent::StockReserved(e) => (e.product_id.get(), -e.quantity),
                    ProductEvent::StockReleased(e) => (e.product_id.get(), e.quantity),
                    ProductEvent::ProductRegistered(_) => unreachable!(),
                };
                if let Some(row) = self.sql.products.get_mut(&id) {
                    row.2 += delta;
                }
                self.view(format!("{p}product:{id}"), version, false, |v| {
                    add(v, "stock", delta)
                });
            }
            DomainEvent::Coupon(e) => self.apply_coupon(p, version, e),
            // No read model here reads orders yet.
            DomainEvent::Order(_) => {}
        }
    }

    fn apply_coupon(&mut self, p: &str, version: i64, event: &CouponEvent) {
        match event {
            CouponEvent::CouponRegistered(e) => {
                let id = e.coupon_id.get();
                self.sql.coupons.insert(
                    id,
                    CouponRow {
                        name: e.name.clone(),
                        discount_kind: e.discount.kind.as_str().to_owned(),
                        discount_value: e.discount.value,
                        total_quantity: e.total_quantity,
                        issued_quantity: 0,
                        valid_from: e.valid_from.map(text),
                        valid_until: e.valid_until.map(text),
                    },
                );
                self.view(format!("{p}coupon:{id}"), version, true, |v| {
                    *v = hash(&[
                        ("couponId", id.to_string()),
                        ("name", e.name.clone()),
                        ("discountKind", e.discount.kind.as_str().to_owned()),
                        ("discountValue", e.discount.value.to_string()),
                        ("totalQuantity", e.total_quantity.to_string()),
                        ("issuedQuantity", "0".to_owned()),
                        ("validFrom", e.valid_from.map(text).unwrap_or_default()),
                        ("validUntil", e.valid_until.map(text).unwrap_or_default()),
                    ])
                });
            }
            CouponEvent::CouponIssued(e) => {
                let id = e.coupon_id.get();
                if let Some(row) = self.sql.coupons.get_mut(&id) {
                    row.issued_quantity += 1;
                }
                self.sql.user_coupons.insert(
                    e.user_coupon_id.get(),
                    UserCouponRow {
                        coupon_id: id,
                        user_id: e.user_id.get(),
                        sequence: e.sequence,
                        status: "AVAILABLE".to_owned(),
                        issued_at: text(e.issued_at),
                        order_id: None,
                    },
                );
                self.view(format!("{p}coupon:{id}"), version, false, |v| {
                    let issued: i64 = v["issuedQuantity"].parse().unwrap();
                    v.insert("issuedQuantity".to_owned(), (issued + 1).to_string());
                });
            }
            CouponEvent::CouponUsed(e) => {
                if let Some(row) = self.sql.user_coupons.get_mut(&e.user_coupon_id.get()) {
                    row.status = "USED".to_owned();
                    row.order_id = Some(e.order_id.get());
                }
                self.view(format!("{p}coupon:{}", e.coupon_id), version, false, |_| {});
            }
            CouponEvent::CouponRestored(e) => {
                if let Some(row) = self.sql.user_coupons.get_mut(&e.user_coupon_id.get()) {
                    row.status = "AVAILABLE".to_owned();
                    row.order_id = None;
                }
                self.view(format!("{p}coupon:{}", e.coupon_id), version, false, |_| {});
            }
            CouponEvent::CouponUseVoided(e) => {
                self.view(format!("{p}coupon:{}", e.coupon_id), version, false, |_| {});
            }
        }
    }
}

impl SqlModels {
    #[allow(clippy::type_complexity)] // rows as tuples, named right below
    pub async fn read(pool: &AnyPool) -> Self {
        let balances: Vec<(i64, i64)> = sqlx::query_as("SELECT user_id, balance FROM balances")
            .fetch_all(pool)
            .await
            .unwrap();
        let products: Vec<(i64, String, i64, i64)> =
            sqlx::query_as("SELECT product_id, name, price, stock FROM products")
                .fetch_all(pool)
                .await
                .unwrap();
        let coupons: Vec<(
            i64,
            String,
            String,
            i64,
            i64,
            i64,
            Option<String>,
            Option<String>,
        )> = sqlx::query_as(
            "SELECT coupon_id, name, discount_kind, discount_value, total_quantity, \
                 issued_quantity, valid_from, valid_until FROM coupons",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        let user_coupons: Vec<(i64, i64, i64, i64, String, String, Option<i64>)> = sqlx::query_as(
            "SELECT user_coupon_id, coupon_id, user_id, sequence, status, issued_at, \
                 order_id FROM user_coupons",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        Self {
            balances: balances.into_iter().collect(),
            products: products
                .into_iter()
                .map(|(id, name, price, stock)| (id, (name, price, stock)))
                .collect(),
            coupons: coupons
                .into_iter()
                .map(|(id, name, kind, value, total, issued, from, until)| {
                    (
                        id,
                        CouponRow {
                            name,
                            discount_kind: kind,
                            discount_value: value,
                            total_quantity: total,
                            issued_quantity: issued,
                            valid_from: from,
                            valid_until: until,
                        },
                    )
                })
                .collect(),
            user_coupons: user_coupons
                .into_iter()
                .map(
                    |(id, coupon_id, user_id, sequence, status, issued_at, order_id)| {
                        (
                            id,
                            UserCouponRow {
                                coupon_id,
                                user_id,
                                sequence,
                                status,
                                issued_at,
                                order_id,
                            },
                        )
                    },
                )
                .collect(),
        }
    }
}
