use super::CommandServices;
use crate::domain::coupon::{Coupon, CouponCommand};
use crate::executor::ExecuteResult;
use chrono::Utc;
use events::{CouponId, Metadata, StreamId, UserId};

impl CommandServices {
    /// First come, first served: the coupon's mailbox decides in arrival order.
    pub async fn issue_coupon(
        &self,
        coupon_id: CouponId,
        user_id: UserId,
        metadata: Metadata,
    ) -> ExecuteResult<Coupon> {
        let command = CouponCommand::Issue {
            user_id,
            now: Utc::now(),
        };
        self.coupons
            .execute(StreamId::coupon(coupon_id), command, metadata)
            .await
    }
}
