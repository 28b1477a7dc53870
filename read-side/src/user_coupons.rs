//! `GET /v1/users/{userId}/coupons`: a list, so it reads SQL (briefly cached), not Redis.

use crate::QueryState;
use crate::consistency::{COUPONS, Consistent};
use crate::coupons::DiscountView;
use crate::layered::read_cached;
use api_common::{ApiPath, Problem};
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use events::UserId;
use serde::Serialize;
use sqlx::{AnyPool, Row};
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa::openapi::schema::{ObjectBuilder, Type};

/// A row as stored. The status shown is derived per request, since EXPIRED depends on the
/// clock and a cached row may outlive the moment its coupon expires.
#[derive(Clone)]
pub(crate) struct UserCouponRow {
    user_coupon_id: i64,
    coupon_id: i64,
    name: String,
    discount: DiscountView,
    status: String,
    valid_until: Option<String>,
    issued_at: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = UserCoupon)]
pub(crate) struct UserCouponView {
    #[schema(value_type = events::UserCouponId)]
    user_coupon_id: i64,
    #[schema(value_type = events::CouponId)]
    coupon_id: i64,
    name: String,
    discount: DiscountView,
    #[schema(value_type = String, schema_with = status_schema)]
    status: &'static str,
    /// RFC 3339.
    #[schema(format = DateTime)]
    issued_at: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct UserCoupons {
    items: Vec<UserCouponView>,
}

/// The coupons a user holds; an unknown user holds none.
#[utoipa::path(
    get,
    path = "/v1/users/{userId}/coupons",
    tag = "coupons",
    operation_id = "getUserCoupons",
    security((), ("userJwt" = [])),
    params(("userId" = UserId, Path, description = "The user")),
    responses((status = 200, description = "The user's coupons", body = UserCoupons))
)]
#[tracing::instrument(skip_all, fields(user_id = %user_id, layer = tracing::field::Empty))]
pub(crate) async fn of_user(
    State(state): State<QueryState>,
    ApiPath(user_id): ApiPath<UserId>,
    consistent: Consistent<COUPONS>,
) -> Result<Json<UserCoupons>, Problem> {
    let id = user_id.get();
    let cache = &state.caches.user_coupons;
    let rows = read_cached(&state, &consistent, cache, id, || load(&state.pool, id)).await?;
    let now = Utc::now();
    let items = rows
        .iter()
        .map(|row| UserCouponView {
            user_coupon_id: row.user_coupon_id,
            coupon_id: row.coupon_id,
            name: row.name.clone(),
            discount: row.discount.clone(),
            status: status(&row.status, row.valid_until.as_deref(), now),
            issued_at: row.issued_at.clone(),
        })
        .collect();
    Ok(Json(UserCoupons { items }))
}

async fn load(pool: &AnyPool, user_id: i64) -> Result<Arc<Vec<UserCouponRow>>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT u.user_coupon_id, u.coupon_id, u.status, u.issued_at, c.name, c.discount_kind, \
         c.discount_value, c.valid_until FROM user_coupons u JOIN coupons c USING (coupon_id) \
         WHERE u.user_id = ? ORDER BY u.user_coupon_id",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?;
    let rows = rows
        .iter()
        .map(|row| {
            Ok(UserCouponRow {
                user_coupon_id: row.try_get("user_coupon_id")?,
                coupon_id: row.try_get("coupon_id")?,
                name: row.try_get("name")?,
                discount: DiscountView {
                    kind: row.try_get("discount_kind")?,
                    value: row.try_get("discount_value")?,
                },
                status: row.try_get("status")?,
                valid_until: row.try_get("valid_until")?,
                issued_at: row.try_get("issued_at")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(Arc::new(rows))
}

fn status_schema() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["AVAILABLE", "USED", "EXPIRED"]))
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
