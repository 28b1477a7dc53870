//! The command API's one error type; every status code is chosen in `into_response`.

use crate::domain::coupon::CouponError;
use crate::domain::product::ProductError;
use crate::domain::wallet::WalletError;
use crate::executor::ExecuteError;
use crate::saga::SagaError;
use crate::store::StoreError;
use api_common::{ErrorCode, Problem};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

#[derive(Debug)]
pub enum ApiError {
    Wallet(WalletError),
    Product(ProductError),
    Coupon(CouponError),
    Overloaded,
    ShuttingDown,
    Store(Arc<StoreError>),
    Saga(SagaError),
    Problem(Problem),
}

impl From<Problem> for ApiError {
    fn from(problem: Problem) -> Self {
        ApiError::Problem(problem)
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
                }
            }
        }
    )*};
}

from_execute_error!(WalletError => Wallet, ProductError => Product, CouponError => Coupon);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        use ErrorCode as Code;
        let problem = match self {
            ApiError::Problem(problem) => problem,
            ApiError::Wallet(e) => match e {
                WalletError::InsufficientBalance { .. } => {
                    Problem::conflict(Code::InsufficientBalance, e.to_string())
                }
                WalletError::ChargeOutOfRange(_)
                | WalletError::BalanceLimitExceeded { .. }
                | WalletError::IdempotencyKeyReused { .. } => Problem::validation(e.to_string()),
            },
            ApiError::Product(e) => match e {
                ProductError::NotFound => Problem::not_found(e.to_string()),
                ProductError::InsufficientStock { .. } => {
                    Problem::conflict(Code::InsufficientStock, e.to_string())
                }
                _ => Problem::validation(e.to_string()),
            },
            ApiError::Coupon(e) => match e {
                CouponError::NotFound => Problem::not_found(e.to_string()),
                CouponError::SoldOut => Problem::conflict(Code::CouponSoldOut, e.to_string()),
                CouponError::AlreadyIssued => {
                    Problem::conflict(Code::CouponAlreadyIssued, e.to_string())
                }
                CouponError::NotActive => Problem::conflict(Code::CouponNotActive, e.to_string()),
                CouponError::Unavailable => {
                    Problem::conflict(Code::CouponUnavailable, e.to_string())
                }
                _ => Problem::validation(e.to_string()),
            },
            ApiError::Overloaded => Problem::overloaded("too many concurrent commands", 1),
            ApiError::ShuttingDown => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                Code::Overloaded,
                "the service is shutting down",
            ),
            ApiError::Store(e) => Problem::internal(&*e),
            ApiError::Saga(e) => match e {
                SagaError::Overloaded => Problem::overloaded("too many concurrent commands", 1),
                SagaError::ShuttingDown => Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    Code::Overloaded,
                    "the service is shutting down",
                ),
                _ => Problem::internal(&e),
            },
        };
        problem.into_response()
    }
}
