use crate::QueryState;
use crate::consistency::{COUPONS, Consistent};
use crate::hot_view::{Fields, MalformedView};
use crate::layered::{Entity, read_entity};
use api_common::openapi::ProblemSchema;
use api_common::{ApiPath, Problem};
use axum::Json;
use axum::extract::State;
use events::names::hot_view::{View, field};
use events::{CouponId, StreamId};
use serde::Serialize;
use sqlx::{AnyPool, Row};
use utoipa::ToSchema;

/// `{kind, value}` as registered.
#[derive(Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DiscountView)]
pub(crate) struct DiscountView {
    #[schema(value_type = events::coupon::DiscountKind)]
    pub(crate) kind: String,
    pub(crate) value: i64,
}

#[derive(Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Coupon)]
pub(crate) struct CouponView {
    #[schema(value_type = events::CouponId)]
    coupon_id: i64,
    name: String,
    discount: DiscountView,
    total_quantity: i64,
    issued_quantity: i64,
    remaining: i64,
    /// RFC 3339; null when the coupon has no start.
    #[schema(format = DateTime)]
    valid_from: Option<String>,
    /// RFC 3339; null when the coupon has no end.
    #[schema(format = DateTime)]
    valid_until: Option<String>,
}

/// A coupon with how many are issued and left.
#[utoipa::path(
    get,
    path = "/v1/coupons/{couponId}",
    tag = "coupons",
    operation_id = "getCoupon",
    params(("couponId" = CouponId, Path, description = "The coupon")),
    responses(
        (status = 200, description = "The coupon", body = CouponView),
        (status = 404, description = "`not-found`: no such coupon", body = ProblemSchema, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(coupon_id = %coupon_id, layer = tracing::field::Empty))]
pub(crate) async fn one(
    State(state): State<QueryState>,
    ApiPath(coupon_id): ApiPath<CouponId>,
    consistent: Consistent<COUPONS>,
) -> Result<Json<CouponView>, Problem> {
    let id = coupon_id.get();
    let entity = Entity {
        view: View::Coupon,
        id,
        stream: StreamId::coupon(coupon_id),
    };
    read_entity(
        &state,
        &consistent,
        entity,
        from_hash,
        &state.caches.coupons,
        || load(&state.pool, id),
    )
    .await?
    .map(Json)
    .ok_or_else(|| Problem::not_found(format!("coupon {coupon_id} does not exist")))
}

fn from_hash(fields: &Fields<'_>) -> Result<Option<CouponView>, MalformedView> {
    let total_quantity = fields.int(field::TOTAL_QUANTITY)?;
    let issued_quantity = fields.int(field::ISSUED_QUANTITY)?;
    Ok(Some(CouponView {
        coupon_id: fields.int(field::COUPON_ID)?,
        name: fields.text(field::NAME)?,
        discount: DiscountView {
            kind: fields.text(field::DISCOUNT_KIND)?,
            value: fields.int(field::DISCOUNT_VALUE)?,
        },
        total_quantity,
        issued_quantity,
        remaining: total_quantity - issued_quantity,
        valid_from: fields.optional_text(field::VALID_FROM),
        valid_until: fields.optional_text(field::VALID_UNTIL),
    }))
}

async fn load(pool: &AnyPool, coupon_id: i64) -> Result<Option<CouponView>, sqlx::Error> {
    let Some(row) = sqlx::query(
        "SELECT coupon_id, name, discount_kind, discount_value, total_quantity, issued_quantity, \
         valid_from, valid_until FROM coupons WHERE coupon_id = ?",
    )
    .bind(coupon_id)
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let total_quantity: i64 = row.try_get("total_quantity")?;
    let issued_quantity: i64 = row.try_get("issued_quantity")?;
    Ok(Some(CouponView {
        coupon_id: row.try_get("coupon_id")?,
        name: row.try_get("name")?,
        discount: DiscountView {
            kind: row.try_get("discount_kind")?,
            value: row.try_get("discount_value")?,
        },
        total_quantity,
        issued_quantity,
        remaining: total_quantity - issued_quantity,
        valid_from: row.try_get("valid_from")?,
        valid_until: row.try_get("valid_until")?,
    }))
}
