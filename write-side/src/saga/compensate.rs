//! Undoing a cancelled order's steps. Every undo is a no-op when there is nothing to undo
//! (never reserved, never used, never deducted, or already undone), so compensation can
//! always run in full, as often as a driver or the recovery scan needs.

use super::error::verdict;
use super::failpoint::crash_point;
use super::{OrderSaga, SagaError};
use crate::domain::coupon::{CouponCommand, CouponError};
use crate::domain::order::PlacedOrder;
use crate::domain::product::{ProductCommand, ProductError};
use crate::domain::wallet::WalletCommand;
use events::{Metadata, StreamId};
use futures::future::join_all;

impl OrderSaga {
    /// Releases every line's stock, restores the coupon and refunds the points, all of
    /// them whatever the order recorded: the participant steps run side by side before
    /// their outcome is recorded, so any of them may have gone through.
    pub(super) async fn compensate(
        &self,
        order: &PlacedOrder,
        metadata: Metadata,
    ) -> Result<(), SagaError> {
        self.release_stock(order, metadata).await?;
        crash_point("saga-mid-compensation");
        self.restore_coupon(order, metadata).await?;
        self.refund_points(order, metadata).await?;
        Ok(())
    }

    async fn release_stock(
        &self,
        order: &PlacedOrder,
        metadata: Metadata,
    ) -> Result<(), SagaError> {
        let products = &self.services().products;
        let answers = join_all(order.lines.iter().map(|line| {
            self.with_retries(move || async move {
                let command = ProductCommand::Release {
                    order_id: order.order_id,
                };
                verdict(
                    products
                        .execute(StreamId::product(line.product_id), command, metadata)
                        .await,
                )
            })
        }))
        .await;
        for answer in answers {
            match answer? {
                // An unknown product has nothing reserved.
                Ok(_) | Err(ProductError::NotFound) => {}
                Err(error) => {
                    return Err(SagaError::Product {
                        order_id: order.order_id,
                        error,
                    });
                }
            }
        }
        Ok(())
    }

    async fn restore_coupon(
        &self,
        order: &PlacedOrder,
        metadata: Metadata,
    ) -> Result<(), SagaError> {
        let Some((user_coupon_id, coupon_id)) = order
            .user_coupon_id
            .and_then(|id| id.coupon_id().map(|coupon| (id, coupon)))
        else {
            return Ok(());
        };
        let coupons = &self.services().coupons;
        let answer = self
            .with_retries(|| async {
                let command = CouponCommand::Restore {
                    user_coupon_id,
                    order_id: order.order_id,
                };
                verdict(
                    coupons
                        .execute(StreamId::coupon(coupon_id), command, metadata)
                        .await,
                )
            })
            .await?;
        match answer {
            Ok(_) | Err(CouponError::NotFound) => Ok(()),
            Err(error) => Err(SagaError::Coupon {
                order_id: order.order_id,
                error,
            }),
        }
    }

    async fn refund_points(
        &self,
        order: &PlacedOrder,
        metadata: Metadata,
    ) -> Result<(), SagaError> {
        let wallets = &self.services().wallets;
        let answer = self
            .with_retries(|| async {
                let command = WalletCommand::Refund {
                    user_id: order.user_id,
                    order_id: order.order_id,
                    amount: order.paid_amount,
                };
                verdict(
                    wallets
                        .execute(StreamId::wallet(order.user_id), command, metadata)
                        .await,
                )
            })
            .await?;
        answer.map(|_| ()).map_err(|error| SagaError::Wallet {
            order_id: order.order_id,
            error,
        })
    }
}
