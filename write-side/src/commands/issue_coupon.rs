use super::register_product::corrupt_id;
use super::{CommandServices, id_error};
use crate::domain::coupon::{Coupon, CouponCommand};
use crate::executor::ExecuteResult;
use crate::ids::IdSequence;
use chrono::Utc;
use events::{CouponId, Metadata, StreamId, UserCouponId, UserId};

impl CommandServices {
    /// First come, first served: the coupon's mailbox decides in arrival order.
    pub async fn issue_coupon(
        &self,
        coupon_id: CouponId,
        user_id: UserId,
        metadata: Metadata,
    ) -> ExecuteResult<Coupon> {
        let id = self
            .ids
            .next(IdSequence::UserCoupon)
            .await
            .map_err(id_error)?;
        let user_coupon_id = UserCouponId::new(id).map_err(|e| id_error(corrupt_id(e)))?;
        let command = CouponCommand::Issue {
            user_id,
            user_coupon_id,
            now: Utc::now(),
        };
        self.coupons
            .execute(StreamId::coupon(coupon_id), command, metadata)
            .await
    }
}
