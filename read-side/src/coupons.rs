use crate::consistency::{COUPONS, Consistent};
use crate::{QueryState, db_problem};
use api_common::{ApiPath, Problem};
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use events::{CouponId, UserId};
use serde::Serialize;
use sqlx::Row;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DiscountView {
    kind: String,
    value: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CouponView {
    coupon_id: i64,
    name: String,
    discount: DiscountView,
    total_quantity: i64,
    issued_quantity: i64,
    remaining: i64,
    valid_from: Option<String>,
    valid_until: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserCouponView {
    user_coupon_id: i64,
    coupon_id: i64,
    name: String,
    discount: DiscountView,
    status: &'static str,
    issued_at: String,
}

#[derive(Serialize)]
pub(crate) struct UserCoupons {
    items: Vec<UserCouponView>,
}

#[tracing::instrument(skip_all, fields(coupon_id = %coupon_id))]
pub(crate) async fn one(
    State(state): State<QueryState>,
    ApiPath(coupon_id): ApiPath<CouponId>,
    _caught_up: Consistent<COUPONS>,
) -> Result<Json<CouponView>, Problem> {
    let row = sqlx::query(
        "SELECT coupon_id, name, discount_kind, discount_value, total_quantity, issued_quantity, \
         valid_from, valid_until FROM coupons WHERE coupon_id = ?",
    )
    .bind(coupon_id.get())
    .fetch_optional(&state.pool)
    .await
    .map_err(db_problem)?
    .ok_or_else(|| Problem::not_found(format!("coupon {coupon_id} does not exist")))?;
    let total_quantity: i64 = row.get("total_quantity");
    let issued_quantity: i64 = row.get("issued_quantity");
    Ok(Json(CouponView {
        coupon_id: row.get("coupon_id"),
        name: row.get("name"),
        discount: DiscountView {
            kind: row.get("discount_kind"),
            value: row.get("discount_value"),
        },
        total_quantity,
        issued_quantity,
        remaining: total_quantity - issued_quantity,
        valid_from: row.get("valid_from"),
        valid_until: row.get("valid_until"),
    }))
}

/// `EXPIRED` depends on the clock, so it is derived here rather than stored.
fn status(stored: &str, valid_until: Option<&str>, now: DateTime<Utc>) -> &'static str {
    if stored == "USED" {
        return "USED";
    }
    let expired = valid_until
        .and_then(|until| DateTime::parse_from_rfc3339(until).ok())
        .is_some_and(|until| until <= now);
    if expired { "EXPIRED" } else { "AVAILABLE" }
}

#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub(crate) async fn of_user(
    State(state): State<QueryState>,
    ApiPath(user_id): ApiPath<UserId>,
    _caught_up: Consistent<COUPONS>,
) -> Result<Json<UserCoupons>, Problem> {
    let rows = sqlx::query(
        "SELECT u.user_coupon_id, u.coupon_id, u.status, u.issued_at, c.name, c.discount_kind, \
         c.discount_value, c.valid_until FROM user_coupons u JOIN coupons c USING (coupon_id) \
         WHERE u.user_id = ? ORDER BY u.user_coupon_id",
    )
    .bind(user_id.get())
    .fetch_all(&state.pool)
    .await
    .map_err(db_problem)?;
    let now = Utc::now();
    let items = rows
        .iter()
        .map(|row| {
            let stored: String = row.get("status");
            let valid_until: Option<String> = row.get("valid_until");
            UserCouponView {
                user_coupon_id: row.get("user_coupon_id"),
                coupon_id: row.get("coupon_id"),
                name: row.get("name"),
                discount: DiscountView {
                    kind: row.get("discount_kind"),
                    value: row.get("discount_value"),
                },
                status: status(&stored, valid_until.as_deref(), now),
                issued_at: row.get("issued_at"),
            }
        })
        .collect();
    Ok(Json(UserCoupons { items }))
}

#[cfg(test)]
mod tests {
    use super::status;
    use chrono::{TimeZone, Utc};

    #[test]
    fn an_unused_coupon_past_its_window_is_expired() {
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap();
        assert_eq!(
            status("AVAILABLE", Some("2026-11-24T00:00:00Z"), now),
            "EXPIRED"
        );
        assert_eq!(
            status("AVAILABLE", Some("2026-11-26T00:00:00Z"), now),
            "AVAILABLE"
        );
        assert_eq!(status("AVAILABLE", None, now), "AVAILABLE");
        assert_eq!(status("USED", Some("2026-11-24T00:00:00Z"), now), "USED");
    }
}
