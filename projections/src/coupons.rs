use crate::bulk;
use crate::{Envelope, Projection, ProjectionError};
use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use events::coupon::CouponIssued;
use events::{CouponEvent, DomainEvent};
use sqlx::AnyConnection;
use std::collections::BTreeMap;

/// `coupons(...)` with issued counts, and `user_coupons(...)` per issued coupon.
pub struct Coupons;

/// Timestamps are stored as RFC 3339 UTC text (the Redis views use the same form).
pub(crate) fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

#[async_trait]
impl Projection for Coupons {
    fn name(&self) -> &'static str {
        events::ProjectionName::Coupons.name()
    }

    fn categories(&self) -> &'static [&'static str] {
        events::ProjectionName::Coupons.categories()
    }

    fn tables(&self) -> &'static [&'static str] {
        &["coupons", "user_coupons"]
    }

    /// A rush is a long run of CouponIssued: each run goes in bulk (one count update per
    /// coupon, multi-row inserts). Every other event applies alone, in order, so it sees
    /// exactly the rows it would have seen one event at a time.
    async fn apply_batch(
        &self,
        tx: &mut AnyConnection,
        events: &[(&Envelope, &DomainEvent)],
    ) -> Result<(), ProjectionError> {
        let mut issued = Vec::new();
        for (envelope, decoded) in events {
            match decoded {
                DomainEvent::Coupon(CouponEvent::CouponIssued(e)) => issued.push(e),
                DomainEvent::Coupon(_) => {
                    issue(tx, &issued).await?;
                    issued.clear();
                    self.apply(tx, envelope, decoded).await?;
                }
                _ => {}
            }
        }
        issue(tx, &issued).await
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
            CouponEvent::CouponIssued(e) => issue(tx, &[e]).await?,
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
            // The order never used the coupon: no read model changes.
            CouponEvent::CouponUseVoided(_) => {}
        }
        Ok(())
    }
}

/// Counts `issued` on their coupons and inserts their user coupons.
async fn issue(tx: &mut AnyConnection, issued: &[&CouponIssued]) -> Result<(), ProjectionError> {
    if issued.is_empty() {
        return Ok(());
    }
    // Ordered by coupon so concurrent batches would lock coupon rows in one order.
    let mut counts = BTreeMap::<i64, i64>::new();
    for e in issued {
        *counts.entry(e.coupon_id.get()).or_default() += 1;
    }
    let counts: Vec<(i64, i64)> = counts.into_iter().collect();
    bulk::add_by_key(
        tx,
        "coupons",
        "coupon_id",
        "issued_quantity",
        None,
        &counts,
        "count issued coupons",
    )
    .await?;
    bulk::insert_rows(
        tx,
        "INSERT INTO user_coupons (user_coupon_id, coupon_id, user_id, sequence, status, \
         issued_at) ",
        issued,
        |mut row, e| {
            row.push_bind(e.user_coupon_id.get())
                .push_bind(e.coupon_id.get())
                .push_bind(e.user_id.get())
                .push_bind(e.sequence)
                .push_bind("AVAILABLE")
                .push_bind(rfc3339(e.issued_at));
        },
        "insert user coupons",
    )
    .await
}
