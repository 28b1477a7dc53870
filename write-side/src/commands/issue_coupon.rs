use super::CommandServices;
use crate::domain::coupon::{Coupon, CouponCommand};
use crate::executor::ExecuteResult;
use crate::idempotency::IdempotencyKey;
use chrono::Utc;
use events::{CouponId, Metadata, StreamId, UserId};

impl CommandServices {
    /// First come, first served: the coupon's mailbox decides in arrival order.
    pub async fn issue_coupon(
        &self,
        coupon_id: CouponId,
        user_id: UserId,
        metadata: Metadata,
        key: Option<&IdempotencyKey>,
    ) -> ExecuteResult<Coupon> {
        let command = CouponCommand::Issue {
            user_id,
            now: Utc::now(),
        };
        self.coupons
            .execute_idempotent(StreamId::coupon(coupon_id), command, metadata, key)
            .await
    }
}
