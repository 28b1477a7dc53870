//! `PlaceOrder`: price the lines, record `OrderPlaced`, and drive the saga, answering once
//! the order is settled or the caller's wait is over (the saga goes on either way).

use super::driver::Driven;
use super::error::{verdict, verdict_with_token};
use super::failpoint::crash_point;
use super::{OrderSaga, SagaError};
use crate::domain::order::{self, OrderCommand, OrderError};
use crate::domain::product::{ProductCommand, ProductError};
use crate::ids::IdSequence;
use chrono::Utc;
use events::{Krw, Metadata, OrderId, OrderLine, ProductId, StreamId, UserCouponId, UserId};
use futures::future::join_all;
use std::sync::Arc;
use tracing::Instrument;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceOrder {
    pub user_id: UserId,
    /// `(product, quantity)` per line.
    pub items: Vec<(ProductId, i64)>,
    pub user_coupon_id: Option<UserCouponId>,
}

/// The order as the caller learns it: completed, cancelled with everything compensated,
/// or still pending when the wait ran out (the saga goes on).
pub type PlaceOutcome = Driven;

#[derive(Debug, thiserror::Error)]
pub enum PlaceError {
    /// The request breaks an order invariant (line count, quantity, duplicate product).
    #[error(transparent)]
    Invalid(OrderError),
    /// The order could not be placed now; nothing was recorded.
    #[error(transparent)]
    Unavailable(SagaError),
}

impl OrderSaga {
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %request.user_id))]
    pub async fn place(
        &self,
        request: PlaceOrder,
        metadata: Metadata,
    ) -> Result<PlaceOutcome, PlaceError> {
        // Checked before anything is allocated or recorded; prices come next.
        let unpriced: Vec<OrderLine> = request
            .items
            .iter()
            .map(|&(product_id, quantity)| OrderLine {
                product_id,
                quantity,
                unit_price: Krw::ZERO,
            })
            .collect();
        order::validate_lines(&unpriced).map_err(PlaceError::Invalid)?;

        let order_id = self.next_order_id().await?;
        let lines = self.price(unpriced, metadata).await?;
        let placed = self
            .place_order(order_id, &request, lines, metadata)
            .await?;
        crash_point("saga-after-placed");

        let saga = self.clone();
        let placed_token = placed.token.clone();
        // Spawned, so the saga goes on if the caller stops waiting or disconnects.
        let driving =
            tokio::spawn(async move { saga.drive(placed, metadata).await }.in_current_span());
        match tokio::time::timeout(self.config().answer_within, driving).await {
            Ok(Ok(Ok(driven))) => Ok(driven),
            // The order is recorded; whatever stopped its driver, recovery takes it on.
            _ => match self.load(order_id).await {
                Ok(Some(order)) => Ok(Driven {
                    order,
                    token: placed_token,
                }),
                Ok(None) => Err(PlaceError::Unavailable(SagaError::NotPlaced(order_id))),
                Err(error) => Err(PlaceError::Unavailable(error)),
            },
        }
    }

    async fn next_order_id(&self) -> Result<OrderId, PlaceError> {
        let id = self
            .services()
            .ids
            .next(IdSequence::Order)
            .await
            .map_err(|e| PlaceError::Unavailable(SagaError::Store(Arc::new(e))))?;
        OrderId::new(id).map_err(|e| {
            PlaceError::Unavailable(SagaError::Store(Arc::new(
                crate::store::StoreError::Corrupt(format!("order id sequence: {e}")),
            )))
        })
    }

    /// Each line at its product's current price; an unknown product is priced 0 and
    /// cancels the order (`not-found`) when the saga tries to reserve it.
    async fn price(
        &self,
        lines: Vec<OrderLine>,
        metadata: Metadata,
    ) -> Result<Vec<OrderLine>, PlaceError> {
        let products = &self.services().products;
        let quotes = join_all(lines.iter().map(|line| {
            self.with_retries(move || async move {
                verdict(
                    products
                        .execute(
                            StreamId::product(line.product_id),
                            ProductCommand::Quote,
                            metadata,
                        )
                        .await,
                )
            })
        }))
        .await;
        lines
            .into_iter()
            .zip(quotes)
            .map(|(line, quote)| match quote {
                Ok(Ok(reply)) => Ok(OrderLine {
                    unit_price: reply.price,
                    ..line
                }),
                // A quote is only ever refused for an unknown product.
                Ok(Err(ProductError::NotFound | _)) => Ok(line),
                Err(error) => Err(PlaceError::Unavailable(error)),
            })
            .collect()
    }

    async fn place_order(
        &self,
        order_id: OrderId,
        request: &PlaceOrder,
        lines: Vec<OrderLine>,
        metadata: Metadata,
    ) -> Result<Driven, PlaceError> {
        let orders = &self.services().orders;
        let command = OrderCommand::Place {
            order_id,
            user_id: request.user_id,
            lines,
            user_coupon_id: request.user_coupon_id,
            placed_at: Utc::now(),
        };
        let answer = self
            .with_retries(|| {
                let command = command.clone();
                async move {
                    verdict_with_token(
                        orders
                            .execute_new(StreamId::order(order_id), command, metadata)
                            .await,
                    )
                }
            })
            .await
            .map_err(PlaceError::Unavailable)?;
        match answer {
            Ok((Some(order), token)) => Ok(Driven {
                order,
                token: Some(token),
            }),
            Ok((None, _)) => Err(PlaceError::Unavailable(SagaError::NotPlaced(order_id))),
            Err(error) => Err(PlaceError::Invalid(error)),
        }
    }
}
