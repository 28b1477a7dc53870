//! The forward steps the saga asks other aggregates to take, each keyed by the order id so
//! that sending it again changes nothing. Each answers `Ok(Err(refusal))` when the
//! participant refused (the order must be cancelled with that reason, or another driver
//! already cancelled and compensated it) and `Err` when the step could not run at all.

use super::error::verdict;
use super::failpoint::crash_point;
use super::{OrderSaga, SagaError};
use crate::domain::coupon::{CouponCommand, CouponError};
use crate::domain::order::{AppliedCoupon, PlacedOrder};
use crate::domain::product::{ProductCommand, ProductError};
use crate::domain::wallet::{WalletCommand, WalletError};
use backon::{ExponentialBuilder, Retryable};
use chrono::Utc;
use events::{CancelReason, CouponId, Discount, Krw, Metadata, StreamId};
use futures::future::join_all;
use std::future::Future;
use std::time::Duration;

pub(super) type Step<T> = Result<Result<T, Refusal>, SagaError>;

/// Why a participant refused a forward step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// The order cannot go through: cancel it with this reason.
    Cancel(CancelReason),
    /// The participant already compensated the order. Only a cancelled order is ever
    /// compensated, so another driver cancelled it and this step came late: the order is
    /// not to be cancelled again (nor ever completed), only compensated in full.
    Compensated,
}

impl OrderSaga {
    /// Sends `attempt` again while it fails for a passing reason.
    pub(super) async fn with_retries<T, F, Fut>(&self, attempt: F) -> Result<T, SagaError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SagaError>>,
    {
        attempt
            .retry(
                ExponentialBuilder::default()
                    .with_min_delay(Duration::from_millis(5))
                    .with_max_delay(Duration::from_millis(500))
                    .with_max_times(self.config().step_attempts)
                    .with_jitter(),
            )
            .when(SagaError::is_transient)
            .await
    }

    /// Reserves every line; the first refusal decides the reason. Lines that were reserved
    /// before another refused are released by the compensation that follows the cancel.
    pub(super) async fn reserve_stock(&self, order: &PlacedOrder, metadata: Metadata) -> Step<()> {
        let products = &self.services().products;
        let answers = join_all(order.lines.iter().map(|line| {
            self.with_retries(move || async move {
                let command = ProductCommand::Reserve {
                    order_id: order.order_id,
                    quantity: line.quantity,
                };
                verdict(
                    products
                        .execute(StreamId::product(line.product_id), command, metadata)
                        .await,
                )
            })
        }))
        .await;
        let mut unavailable = None;
        for answer in answers {
            match answer {
                Ok(Ok(_)) => {}
                Ok(Err(ProductError::NotFound)) => {
                    return Ok(Err(Refusal::Cancel(CancelReason::NotFound)));
                }
                Ok(Err(ProductError::InsufficientStock { .. })) => {
                    return Ok(Err(Refusal::Cancel(CancelReason::InsufficientStock)));
                }
                Ok(Err(ProductError::OrderCompensated(_))) => {
                    return Ok(Err(Refusal::Compensated));
                }
                Ok(Err(error)) => {
                    return Err(SagaError::Product {
                        order_id: order.order_id,
                        error,
                    });
                }
                Err(error) => unavailable = Some(error),
            }
        }
        unavailable.map_or(Ok(Ok(())), Err)
    }

    /// Every participant step at once: each line's stock, and beside it the coupon then
    /// the points (what is due depends on the coupon's discount). Answers the coupon used,
    /// or the refusal that cancels the order; a stock refusal wins over a payment one, as
    /// when the steps ran one after another. Steps that went through before another was
    /// refused are undone by the compensation that follows the cancel.
    pub(super) async fn take_part(
        &self,
        order: &PlacedOrder,
        metadata: Metadata,
    ) -> Step<Option<AppliedCoupon>> {
        let stock = async {
            let reserved = self.reserve_stock(order, metadata).await;
            if matches!(reserved, Ok(Ok(()))) {
                tracing::debug!(step = "reserve-stock", "saga participant step done");
                crash_point("saga-after-reserve");
            }
            reserved
        };
        let payment = async {
            let coupon = match order.user_coupon_id {
                None => None,
                Some(user_coupon_id) => match self.use_coupon(order, metadata).await? {
                    Ok((coupon_id, discount)) => {
                        tracing::debug!(step = "use-coupon", "saga participant step done");
                        crash_point("saga-after-coupon-used");
                        Some(AppliedCoupon {
                            user_coupon_id,
                            coupon_id,
                            discount,
                        })
                    }
                    Err(reason) => return Ok(Err(reason)),
                },
            };
            let due = order.amount_due_with(coupon.as_ref().map(|c| &c.discount));
            match self.deduct_points(order, due, metadata).await? {
                Ok(()) => {
                    tracing::debug!(step = "deduct-points", "saga participant step done");
                    crash_point("saga-after-deduct");
                    Ok(Ok(coupon))
                }
                Err(reason) => Ok(Err(reason)),
            }
        };
        let (stock, payment) = futures::join!(stock, payment);
        match (stock?, payment?) {
            // Whatever else was refused, the order is cancelled already.
            (Err(Refusal::Compensated), _) | (_, Err(Refusal::Compensated)) => {
                Ok(Err(Refusal::Compensated))
            }
            (Err(refusal), _) | (Ok(()), Err(refusal)) => Ok(Err(refusal)),
            (Ok(()), Ok(coupon)) => Ok(Ok(coupon)),
        }
    }

    /// Uses the order's coupon; answers the coupon and its registered discount.
    pub(super) async fn use_coupon(
        &self,
        order: &PlacedOrder,
        metadata: Metadata,
    ) -> Step<(CouponId, Discount)> {
        let unavailable = Refusal::Cancel(CancelReason::CouponUnavailable);
        let Some(user_coupon_id) = order.user_coupon_id else {
            return Ok(Err(unavailable));
        };
        // A user coupon id names its coupon; one that names none was never issued.
        let Some(coupon_id) = user_coupon_id.coupon_id() else {
            return Ok(Err(unavailable));
        };
        let coupons = &self.services().coupons;
        let answer = self
            .with_retries(|| async {
                let command = CouponCommand::Use {
                    user_coupon_id,
                    user_id: order.user_id,
                    order_id: order.order_id,
                    now: Utc::now(),
                };
                verdict(
                    coupons
                        .execute(StreamId::coupon(coupon_id), command, metadata)
                        .await,
                )
            })
            .await?;
        match answer {
            Ok(reply) => match reply.coupon {
                Some(info) => Ok(Ok((coupon_id, info.discount))),
                None => Ok(Err(unavailable)),
            },
            Err(CouponError::NotFound | CouponError::Unavailable) => Ok(Err(unavailable)),
            Err(CouponError::OrderCompensated(_)) => Ok(Err(Refusal::Compensated)),
            Err(error) => Err(SagaError::Coupon {
                order_id: order.order_id,
                error,
            }),
        }
    }

    /// Deducts `amount`, what the order costs after its discount.
    pub(super) async fn deduct_points(
        &self,
        order: &PlacedOrder,
        amount: Krw,
        metadata: Metadata,
    ) -> Step<()> {
        let wallets = &self.services().wallets;
        let answer = self
            .with_retries(|| async {
                let command = WalletCommand::Deduct {
                    user_id: order.user_id,
                    order_id: order.order_id,
                    amount,
                };
                verdict(
                    wallets
                        .execute(StreamId::wallet(order.user_id), command, metadata)
                        .await,
                )
            })
            .await?;
        match answer {
            Ok(_) => Ok(Ok(())),
            Err(WalletError::InsufficientBalance { .. }) => {
                Ok(Err(Refusal::Cancel(CancelReason::InsufficientBalance)))
            }
            Err(WalletError::OrderCompensated(_)) => Ok(Err(Refusal::Compensated)),
            Err(error) => Err(SagaError::Wallet {
                order_id: order.order_id,
                error,
            }),
        }
    }
}
