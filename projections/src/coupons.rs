use crate::{Envelope, Projection, ProjectionError};
use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use events::{CouponEvent, DomainEvent};
use sqlx::AnyConnection;

/// `coupons(...)` with issued counts, and `user_coupons(...)` per issued coupon.
pub struct Coupons;

/// Timestamps are stored as RFC 3339 UTC text (the Redis views use the same form).
pub(crate) fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

#[async_trait]
impl Projection for Coupons {
    fn name(&self) -> &'static str {
        "coupons"
    }

    fn categories(&self) -> &'static [&'static str] {
        &["coupon"]
    }

    async fn apply(
        &self,
        tx: &mut AnyConnection,
        _envelope: &Envelope,
        decoded: &DomainEvent,
    ) -> Result<(), ProjectionError> {
        let DomainEvent::Coupon(event) = decoded else {
            return Ok(());
        };
        match event {
            CouponEvent::CouponRegistered(e) => {
                sqlx::query(
                    "INSERT INTO coupons (coupon_id, name, discount_kind, discount_value, \
                     total_quantity, issued_quantity, valid_from, valid_until) \
                     VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
                )
                .bind(e.coupon_id.get())
                .bind(&e.name)
                .bind(e.discount.kind.as_str())
                .bind(e.discount.value)
                .bind(e.total_quantity)
                .bind(e.valid_from.map(rfc3339))
                .bind(e.valid_until.map(rfc3339))
                .execute(tx)
                .await
                .map_err(ProjectionError::db("insert a coupon"))?;
            }
            CouponEvent::CouponIssued(e) => {
                sqlx::query(
                    "UPDATE coupons SET issued_quantity = issued_quantity + 1 WHERE coupon_id = ?",
                )
                .bind(e.coupon_id.get())
                .execute(&mut *tx)
                .await
                .map_err(ProjectionError::db("count an issued coupon"))?;
                sqlx::query(
                    "INSERT INTO user_coupons (user_coupon_id, coupon_id, user_id, sequence, \
                     status, issued_at) VALUES (?, ?, ?, ?, 'AVAILABLE', ?)",
                )
                .bind(e.user_coupon_id.get())
                .bind(e.coupon_id.get())
                .bind(e.user_id.get())
                .bind(e.sequence)
                .bind(rfc3339(e.issued_at))
                .execute(tx)
                .await
                .map_err(ProjectionError::db("insert a user coupon"))?;
            }
            CouponEvent::CouponUsed(e) => {
                sqlx::query(
                    "UPDATE user_coupons SET status = 'USED', order_id = ? WHERE user_coupon_id = ?",
                )
                .bind(e.order_id.get())
                .bind(e.user_coupon_id.get())
                .execute(tx)
                .await
                .map_err(ProjectionError::db("mark a coupon used"))?;
            }
            CouponEvent::CouponRestored(e) => {
                sqlx::query(
                    "UPDATE user_coupons SET status = 'AVAILABLE', order_id = NULL \
                     WHERE user_coupon_id = ?",
                )
                .bind(e.user_coupon_id.get())
                .execute(tx)
                .await
                .map_err(ProjectionError::db("restore a coupon"))?;
            }
        }
        Ok(())
    }
}
