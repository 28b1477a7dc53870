//! Driving one order from wherever its stream says it is to COMPLETED, or to CANCELLED
//! with everything compensated.

use super::error::verdict_with_token;
use super::failpoint::crash_point;
use super::participants::Refusal;
use super::{OrderSaga, SagaError};
use crate::domain::order::{OrderCommand, OrderError, OrderStatus, PlacedOrder, Progress};
use chrono::Utc;
use events::{CancelReason, ConsistencyToken, Metadata, OrderId, StreamId};
use tracing::Instrument;

/// An order as a driver left it, and the token of the last step that driver recorded
/// (`None` if it recorded none), for reading the order back on the query side.
#[derive(Debug, Clone)]
pub struct Driven {
    pub order: PlacedOrder,
    pub token: Option<ConsistencyToken>,
}

impl OrderSaga {
    /// Drives `order` as far as it goes and answers it as it ends up. An error leaves the
    /// order where its stream says (pending), for the recovery scan to drive again.
    pub async fn drive(&self, order: Driven, metadata: Metadata) -> Result<Driven, SagaError> {
        let order_id = order.order.order_id;
        // Unmarked when this future ends, however it ends (a panic, or dropped by a
        // timeout or an aborted task).
        let driving = self.inner.in_flight.enter(order_id);
        // The correlation id is the placing request's id: logs of every step (and of the
        // projectors, which see it in the events' metadata) can be joined on it.
        let span = tracing::info_span!(
            "saga",
            order_id = %order_id,
            correlation_id = %metadata.correlation_id,
        );
        let driven = self.drive_steps(order, metadata).instrument(span).await;
        drop(driving);
        let outcome = match &driven {
            Ok(driven) => driven.order.status().as_str(),
            Err(_) => "ERROR",
        };
        metrics::counter!("shop_saga_drives_total", "outcome" => outcome).increment(1);
        if driven
            .as_ref()
            .is_ok_and(|driven| driven.order.status() != OrderStatus::Pending)
        {
            self.inner.settled.insert(order_id, ());
        }
        driven
    }

    async fn drive_steps(
        &self,
        mut driven: Driven,
        metadata: Metadata,
    ) -> Result<Driven, SagaError> {
        loop {
            let order = &driven.order;
            if order.cancelled.is_some() {
                Box::pin(self.compensate(order, metadata)).await?;
                return Ok(driven);
            }
            if order.progress == Progress::Completed {
                return Ok(driven);
            }
            // Wherever the order got to (older versions recorded each step on its own),
            // the participant steps run again: each is a no-op for a step already taken.
            // Each step's future boxed: inline, the driver's state machine held every
            // step's at once and was copied whole into its task and on every retry.
            let next = match Box::pin(self.take_part(order, metadata)).await? {
                Ok(coupon) => OrderCommand::Settle {
                    coupon,
                    at: Utc::now(),
                },
                Err(Refusal::Cancel(reason)) => cancel(reason),
                Err(Refusal::Compensated) => {
                    driven = self.cancelled_elsewhere(driven).await?;
                    continue;
                }
            };
            let order_id = order.order_id;
            let from = order.progress;
            driven = Box::pin(self.record(order_id, next, metadata)).await?;
            tracing::debug!(
                ?from,
                status = driven.order.status().as_str(),
                "saga step recorded"
            );
            crash_point(recorded_failpoint(&driven.order));
        }
    }

    /// The order as stored, after a participant answered that it had compensated it: the
    /// driver that did so recorded the cancel first, so the stored order shows it and the
    /// loop goes on to compensate (the steps of this driver that went through before it
    /// was refused are undone there too). An order still open would loop forever, so it
    /// is an error (a bug) instead.
    async fn cancelled_elsewhere(&self, driven: Driven) -> Result<Driven, SagaError> {
        let order_id = driven.order.order_id;
        let order = self
            .load(order_id)
            .await?
            .ok_or(SagaError::NotPlaced(order_id))?;
        if order.cancelled.is_none() {
            return Err(SagaError::CompensatedWhileOpen(order_id));
        }
        tracing::debug!("a participant step came after the order was compensated");
        Ok(Driven {
            order,
            token: driven.token,
        })
    }

    /// Records a step on the order. If another driver finished or cancelled the order
    /// meanwhile, answers the order as that driver left it, so the loop goes on from there.
    async fn record(
        &self,
        order_id: OrderId,
        command: OrderCommand,
        metadata: Metadata,
    ) -> Result<Driven, SagaError> {
        let orders = &self.services().orders;
        let answer = self
            .with_retries(|| {
                let command = command.clone();
                async move {
                    verdict_with_token(
                        orders
                            .execute(StreamId::order(order_id), command, metadata)
                            .await,
                    )
                }
            })
            .await?;
        match answer {
            Ok((Some(order), token)) => Ok(Driven {
                order,
                token: Some(token),
            }),
            Ok((None, _)) | Err(OrderError::NotFound) => Err(SagaError::NotPlaced(order_id)),
            Err(OrderError::Cancelled(_) | OrderError::AlreadyCompleted) => {
                let order = self
                    .load(order_id)
                    .await?
                    .ok_or(SagaError::NotPlaced(order_id))?;
                Ok(Driven { order, token: None })
            }
            Err(error) => Err(SagaError::Order { order_id, error }),
        }
    }
}

fn cancel(reason: CancelReason) -> OrderCommand {
    OrderCommand::Cancel {
        reason,
        at: Utc::now(),
    }
}

/// The failpoint right after a step is recorded, named for the step.
fn recorded_failpoint(order: &PlacedOrder) -> &'static str {
    if order.cancelled.is_some() {
        return "saga-after-cancelled";
    }
    match order.progress {
        Progress::Placed => "saga-after-placed",
        Progress::StockReserved => "saga-after-stock-reserved",
        Progress::CouponApplied => "saga-after-coupon-applied",
        Progress::Paid => "saga-after-paid",
        Progress::Completed => "saga-after-completed",
    }
}
