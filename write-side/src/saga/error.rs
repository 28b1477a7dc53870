use crate::domain::coupon::CouponError;
use crate::domain::order::OrderError;
use crate::domain::product::ProductError;
use crate::domain::wallet::WalletError;
use crate::executor::{ExecuteError, Executed};
use event_store::StoreError;
use events::{ConsistencyToken, OrderId};
use std::sync::Arc;

/// Why a saga step could not run. None of these settles the order: it stays as recorded
/// and the recovery scan drives it again later.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SagaError {
    #[error("too much contention; the step is retried later")]
    Overloaded,
    #[error("the service is shutting down")]
    ShuttingDown,
    #[error(transparent)]
    Store(Arc<StoreError>),
    /// The placement's Idempotency-Key was recorded for another order request (only the
    /// placement sends a key).
    #[error("the Idempotency-Key was already used for another order")]
    KeyReused,
    #[error("order {0} was never placed")]
    NotPlaced(OrderId),
    #[error("order {order_id} has an unreadable event: {reason}")]
    Corrupt { order_id: OrderId, reason: String },
    /// A participant answered that it compensated an order the order's stream shows
    /// open: compensation only ever follows a recorded cancel, so this is a bug.
    #[error("order {0} was compensated by a participant but is not cancelled")]
    CompensatedWhileOpen(OrderId),
    /// A participant refused a step for a reason the saga does not expect (a bug).
    #[error("order {order_id}: the order refused a step: {error}")]
    Order {
        order_id: OrderId,
        error: OrderError,
    },
    #[error("order {order_id}: a product refused a step: {error}")]
    Product {
        order_id: OrderId,
        error: ProductError,
    },
    #[error("order {order_id}: a coupon refused a step: {error}")]
    Coupon {
        order_id: OrderId,
        error: CouponError,
    },
    #[error("order {order_id}: the wallet refused a step: {error}")]
    Wallet {
        order_id: OrderId,
        error: WalletError,
    },
}

impl SagaError {
    /// Failures that may pass if the step is sent again shortly.
    pub fn is_transient(&self) -> bool {
        matches!(self, SagaError::Overloaded | SagaError::Store(_))
    }
}

/// `verdict`, keeping the accepted command's consistency token.
pub(super) fn verdict_with_token<R, E>(
    answer: Result<Executed<R>, ExecuteError<E>>,
) -> Result<Result<(R, ConsistencyToken), E>, SagaError> {
    verdict(answer.map(|executed| Executed {
        reply: (executed.reply, executed.token.clone()),
        token: executed.token,
        replayed: executed.replayed,
    }))
}

/// Splits an executor answer into the aggregate's own verdict (accepted or refused) and
/// the failures that say nothing about the command (contention, store, shutdown).
pub(super) fn verdict<R, E>(
    answer: Result<Executed<R>, ExecuteError<E>>,
) -> Result<Result<R, E>, SagaError> {
    match answer {
        Ok(executed) => Ok(Ok(executed.reply)),
        Err(ExecuteError::Rejected(error)) => Ok(Err(error)),
        Err(ExecuteError::Overloaded) => Err(SagaError::Overloaded),
        Err(ExecuteError::ShuttingDown) => Err(SagaError::ShuttingDown),
        Err(ExecuteError::Store(error)) => Err(SagaError::Store(error)),
        Err(ExecuteError::KeyReused | ExecuteError::KeyTaken) => Err(SagaError::KeyReused),
    }
}
