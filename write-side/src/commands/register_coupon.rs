use super::register_product::corrupt_id;
use super::{CommandServices, id_error};
use crate::domain::coupon::{Coupon, CouponCommand};
use crate::executor::ExecuteResult;
use crate::idempotency::IdempotencyKey;
use crate::ids::IdSequence;
use chrono::{DateTime, Utc};
use events::{CouponId, Discount, Metadata, StreamId};

pub struct NewCoupon {
    pub name: String,
    pub discount: Discount,
    pub total_quantity: i64,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
}

impl CommandServices {
    pub async fn register_coupon(
        &self,
        coupon: NewCoupon,
        metadata: Metadata,
        key: Option<&IdempotencyKey>,
    ) -> ExecuteResult<Coupon> {
        let id = self.ids.next(IdSequence::Coupon).await.map_err(id_error)?;
        let coupon_id = CouponId::new(id).map_err(|e| id_error(corrupt_id(e)))?;
        let command = CouponCommand::Register {
            coupon_id,
            name: coupon.name,
            discount: coupon.discount,
            total_quantity: coupon.total_quantity,
            valid_from: coupon.valid_from,
            valid_until: coupon.valid_until,
        };
        let stream = StreamId::coupon(coupon_id);
        match key {
            Some(key) => {
                self.coupons
                    .execute_keyed(stream, command, metadata, key, true)
                    .await
            }
            None => self.coupons.execute_new(stream, command, metadata).await,
        }
    }
}
