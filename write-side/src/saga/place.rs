//! `PlaceOrder`: price the lines, record `OrderPlaced`, and drive the saga, answering once
//! the order is settled or the caller's wait is over (the saga goes on either way).

use super::driver::Driven;
use super::error::verdict;
use super::failpoint::crash_point;
use super::{OrderSaga, SagaError};
use crate::domain::order::{self, OrderCommand, OrderError, OrderStatus};
use crate::domain::product::{ProductCommand, ProductError};
use crate::executor::Executed;
use crate::idempotency::IdempotencyKey;
use crate::ids::IdSequence;
use chrono::Utc;
use events::{Krw, Metadata, OrderId, OrderLine, ProductId, StreamId, UserCouponId, UserId};
use futures::future::join_all;
use std::sync::Arc;
use std::time::{Duration, Instant};
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
    /// The Idempotency-Key was used for another order request.
    #[error("the Idempotency-Key was already used for another order request")]
    KeyReused,
}

/// How often a repeat of a keyed placement looks at an order a driver here is working on.
const RESUME_POLL: Duration = Duration::from_millis(10);

impl OrderSaga {
    /// Places an order and drives it. With an idempotency key, a repeat of a request
    /// already placed answers that order as it stands now (driving it on, or waiting for
    /// the driver here, up to the same wait), and places nothing.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %request.user_id))]
    pub async fn place(
        &self,
        request: PlaceOrder,
        metadata: Metadata,
        key: Option<&IdempotencyKey>,
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
        let placed =
            match Box::pin(self.place_order(order_id, &request, lines, metadata, key)).await? {
                Placed::New(placed) => placed,
                Placed::Recorded(order_id) => return self.resume(order_id, metadata).await,
            };
        crash_point("saga-after-placed");
        self.drive_for_answer(placed, metadata, self.config().answer_within)
            .await
    }

    /// Drives the order in a task of its own (the saga goes on if the caller stops
    /// waiting or disconnects) and answers it as it stands after at most `wait`.
    async fn drive_for_answer(
        &self,
        placed: Driven,
        metadata: Metadata,
        wait: Duration,
    ) -> Result<PlaceOutcome, PlaceError> {
        let order_id = placed.order.order_id;
        let saga = self.clone();
        let placed_token = placed.token.clone();
        let driving = self
            .inner
            .drivers
            .spawn(async move { saga.drive(placed, metadata).await }.in_current_span());
        match tokio::time::timeout(wait, driving).await {
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

    /// An order an earlier request with the same key placed, as it stands now. A settled
    /// one is answered at once; a pending one is driven on, unless a driver in this process
    /// has it, whose outcome is then waited for (both up to the placement's wait). A
    /// driver elsewhere or the recovery scan may drive it at the same time: every step is
    /// idempotent by order id.
    async fn resume(
        &self,
        order_id: OrderId,
        metadata: Metadata,
    ) -> Result<PlaceOutcome, PlaceError> {
        let deadline = Instant::now() + self.config().answer_within;
        loop {
            let (order, token) = self
                .load_with_token(order_id)
                .await
                .map_err(PlaceError::Unavailable)?
                .ok_or(PlaceError::Unavailable(SagaError::NotPlaced(order_id)))?;
            let now = Instant::now();
            let driven = Driven {
                order,
                token: Some(token),
            };
            if driven.order.status() != OrderStatus::Pending || now >= deadline {
                return Ok(driven);
            }
            if !self.is_in_flight(order_id) {
                return self
                    .drive_for_answer(driven, metadata, deadline - now)
                    .await;
            }
            tokio::time::sleep(RESUME_POLL).await;
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
            PlaceError::Unavailable(SagaError::Store(Arc::new(event_store::StoreError::Bug(
                format!("order id sequence: {e}"),
            ))))
        })
    }

    /// Each line at its product's price (quoted once per product, see `Inner::prices`);
    /// an unknown product is priced 0 and cancels the order (`not-found`) when the saga
    /// tries to reserve it.
    async fn price(
        &self,
        lines: Vec<OrderLine>,
        metadata: Metadata,
    ) -> Result<Vec<OrderLine>, PlaceError> {
        let prices = &self.inner.prices;
        let products = &self.services().products;
        let quotes = join_all(lines.iter().map(|line| async move {
            if let Some(price) = prices.get(&line.product_id) {
                return Ok(Ok(price));
            }
            let quote = self
                .with_retries(move || async move {
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
                .await;
            if let Ok(Ok(reply)) = &quote {
                prices.insert(line.product_id, reply.price);
            }
            quote.map(|answer| answer.map(|reply| reply.price))
        }))
        .await;
        lines
            .into_iter()
            .zip(quotes)
            .map(|(line, quote)| match quote {
                Ok(Ok(unit_price)) => Ok(OrderLine { unit_price, ..line }),
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
        key: Option<&IdempotencyKey>,
    ) -> Result<Placed, PlaceError> {
        let orders = &self.services().orders;
        let command = OrderCommand::Place {
            order_id,
            user_id: request.user_id,
            lines,
            user_coupon_id: request.user_coupon_id,
            placed_at: Utc::now(),
        };
        let stream = StreamId::order(order_id);
        let answer = self
            .with_retries(|| {
                let (command, stream) = (command.clone(), stream.clone());
                async move {
                    let executed = match key {
                        Some(key) => {
                            orders
                                .execute_keyed(stream, command, metadata, key, true)
                                .await
                        }
                        None => orders.execute_new(stream, command, metadata).await,
                    };
                    verdict(executed.map(|executed| Executed {
                        reply: (executed.reply, executed.token.clone(), executed.replayed),
                        token: executed.token,
                        replayed: executed.replayed,
                    }))
                }
            })
            .await
            .map_err(PlaceError::Unavailable)?;
        match answer {
            // Another request with the key placed its order first (another process).
            Ok((Some(order), _, true)) => Ok(Placed::Recorded(order.order_id)),
            Ok((Some(order), token, false)) => Ok(Placed::New(Driven {
                order,
                token: Some(token),
            })),
            Ok((None, _, _)) => Err(PlaceError::Unavailable(SagaError::NotPlaced(order_id))),
            Err(error) => Err(PlaceError::Invalid(error)),
        }
    }
}

/// What placing came to: this request's new order, or the one a request with the same
/// key placed first.
enum Placed {
    New(Driven),
    Recorded(OrderId),
}
