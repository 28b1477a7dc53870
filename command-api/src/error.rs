//! The command API's one error type; every status code is chosen in `into_response`, in
//! exhaustive matches, so a new domain error cannot slip through as a silent default.

use api_common::{ErrorCode, Problem};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use domain::coupon::CouponError;
use domain::product::ProductError;
use domain::wallet::WalletError;
use event_store::StoreError;
use std::sync::Arc;
use write_side::executor::ExecuteError;
use write_side::idempotency::InvalidKey;
use write_side::saga::SagaError;

/// Seconds a caller is asked to wait before retrying a 503 or an in-flight key.
const RETRY_AFTER_SECS: u64 = 1;

#[derive(Debug)]
pub enum ApiError {
    Wallet(WalletError),
    Product(ProductError),
    Coupon(CouponError),
    Overloaded,
    ShuttingDown,
    Store(Arc<StoreError>),
    Saga(SagaError),
    /// The Idempotency-Key was recorded for another request.
    KeyReused,
    /// A request with the same Idempotency-Key is still running here.
    KeyInFlight,
    /// A broken invariant of this code (a reply that contradicts its command): a 500,
    /// logged as a bug.
    Bug(String),
    Problem(Problem),
}

impl From<Problem> for ApiError {
    fn from(problem: Problem) -> Self {
        ApiError::Problem(problem)
    }
}

impl From<InvalidKey> for ApiError {
    fn from(error: InvalidKey) -> Self {
        ApiError::Problem(Problem::bad_request(error.to_string()))
    }
}

macro_rules! from_execute_error {
    ($($error:ty => $variant:ident),*) => {$(
        impl From<ExecuteError<$error>> for ApiError {
            fn from(error: ExecuteError<$error>) -> Self {
                match error {
                    ExecuteError::Rejected(e) => ApiError::$variant(e),
                    ExecuteError::Overloaded => ApiError::Overloaded,
                    ExecuteError::ShuttingDown => ApiError::ShuttingDown,
                    ExecuteError::Store(e) => ApiError::Store(e),
                    ExecuteError::KeyReused => ApiError::KeyReused,
                    // `execute_keyed` answers a taken key with its record; should the
                    // record be gone, the other request is the one to wait for.
                    ExecuteError::KeyTaken => ApiError::KeyInFlight,
                }
            }
        }
    )*};
}

from_execute_error!(WalletError => Wallet, ProductError => Product, CouponError => Coupon);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = match self {
            ApiError::Problem(problem) => problem,
            ApiError::Wallet(e) => wallet(e),
            ApiError::Product(e) => product(e),
            ApiError::Coupon(e) => coupon(e),
            ApiError::Overloaded => {
                Problem::overloaded("too many concurrent commands", RETRY_AFTER_SECS)
            }
            ApiError::ShuttingDown => shutting_down(),
            ApiError::Store(e) => store(&e),
            ApiError::Saga(e) => saga(e),
            ApiError::Bug(what) => Problem::bug(&what),
            ApiError::KeyReused => key_reused(),
            ApiError::KeyInFlight => Problem {
                retry_after_secs: Some(RETRY_AFTER_SECS),
                ..Problem::conflict(
                    ErrorCode::IdempotencyKeyInFlight,
                    "a request with this Idempotency-Key is still running; retry shortly",
                )
            },
        };
        problem.into_response()
    }
}

fn wallet(e: WalletError) -> Problem {
    use ErrorCode as Code;
    match e {
        WalletError::InsufficientBalance { .. } => {
            Problem::conflict(Code::InsufficientBalance, e.to_string())
        }
        WalletError::IdempotencyKeyReused { .. } => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Code::IdempotencyKeyReused,
            e.to_string(),
        ),
        WalletError::ChargeOutOfRange(_) | WalletError::BalanceLimitExceeded { .. } => {
            Problem::validation(e.to_string())
        }
        // Only a saga step is ever refused so, and the saga handles it itself.
        WalletError::OrderCompensated(_) => Problem::bug(&e),
    }
}

fn product(e: ProductError) -> Problem {
    use ErrorCode as Code;
    match e {
        ProductError::NotFound => Problem::not_found(e.to_string()),
        ProductError::InsufficientStock { .. } => {
            Problem::conflict(Code::InsufficientStock, e.to_string())
        }
        ProductError::InvalidName
        | ProductError::InvalidPrice(_)
        | ProductError::InvalidStock(_)
        | ProductError::InvalidQuantity { .. }
        | ProductError::StockLimitExceeded { .. } => Problem::validation(e.to_string()),
        // Ids are allocated fresh for every registration: a registered one is a bug.
        ProductError::AlreadyRegistered => Problem::bug(&e),
        // Only a saga step is ever refused so, and the saga handles it itself.
        ProductError::OrderCompensated(_) => Problem::bug(&e),
    }
}

fn coupon(e: CouponError) -> Problem {
    use ErrorCode as Code;
    match e {
        CouponError::NotFound => Problem::not_found(e.to_string()),
        CouponError::SoldOut => Problem::conflict(Code::CouponSoldOut, e.to_string()),
        CouponError::AlreadyIssued => Problem::conflict(Code::CouponAlreadyIssued, e.to_string()),
        CouponError::NotActive => Problem::conflict(Code::CouponNotActive, e.to_string()),
        CouponError::Unavailable => Problem::conflict(Code::CouponUnavailable, e.to_string()),
        CouponError::InvalidName
        | CouponError::InvalidDiscount
        | CouponError::InvalidTotalQuantity(_)
        | CouponError::InvalidValidity
        | CouponError::IdSpaceExhausted => Problem::validation(e.to_string()),
        CouponError::AlreadyRegistered => Problem::bug(&e),
        // Only a saga step is ever refused so, and the saga handles it itself.
        CouponError::OrderCompensated(_) => Problem::bug(&e),
    }
}

/// The database down, unreachable or shedding load is a retryable 503; anything else
/// the store reports (damaged data, a failed migration) is a 500, a bug logged as one.
fn store(e: &StoreError) -> Problem {
    if let StoreError::Bug(_) = e {
        return Problem::bug(e);
    }
    if e.is_transient() {
        Problem::unavailable(e, RETRY_AFTER_SECS)
    } else {
        Problem::internal(e)
    }
}

fn saga(e: SagaError) -> Problem {
    match e {
        SagaError::Overloaded => {
            Problem::overloaded("too many concurrent commands", RETRY_AFTER_SECS)
        }
        SagaError::ShuttingDown => shutting_down(),
        SagaError::Store(e) => store(&e),
        SagaError::KeyReused => key_reused(),
        SagaError::Corrupt { .. } => Problem::internal(&e),
        // The saga's own invariants: a step refused for a reason it cannot be refused for.
        SagaError::NotPlaced(_)
        | SagaError::CompensatedWhileOpen(_)
        | SagaError::Order { .. }
        | SagaError::Product { .. }
        | SagaError::Coupon { .. }
        | SagaError::Wallet { .. } => Problem::bug(&e),
    }
}

fn key_reused() -> Problem {
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::IdempotencyKeyReused,
        "this Idempotency-Key was already used for a different request",
    )
}

fn shutting_down() -> Problem {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Overloaded,
        "the service is shutting down",
    )
    .retry_after(RETRY_AFTER_SECS)
}

#[cfg(test)]
mod tests {
    use super::ApiError;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use event_store::StoreError;
    use std::sync::Arc;

    async fn answer(error: ApiError) -> (StatusCode, String) {
        let response = error.into_response();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default();
        (status, body)
    }

    #[tokio::test]
    async fn bugs_are_500s_that_say_nothing_of_their_cause() {
        let secret = "reply without a product id at executor/batch.rs:42";
        for error in [
            ApiError::Bug(secret.to_owned()),
            ApiError::Store(Arc::new(StoreError::Bug(secret.to_owned()))),
            ApiError::Store(Arc::new(StoreError::Corrupt(secret.to_owned()))),
        ] {
            let (status, body) = answer(error).await;
            assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
            assert!(body.contains("\"code\":\"internal\""), "{body}");
            assert!(!body.contains("executor"), "{body}");
        }
    }
}
