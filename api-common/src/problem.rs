//! RFC 9457 problem details with the stable error codes of the HTTP contract.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    ValidationFailed,
    /// A well-formed Consistency-Token naming a write the event store has not made.
    ConsistencyTokenUnknown,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    CouponSoldOut,
    CouponAlreadyIssued,
    CouponNotActive,
    InsufficientStock,
    InsufficientBalance,
    CouponUnavailable,
    PayloadTooLarge,
    RateLimited,
    IdempotencyKeyReused,
    IdempotencyKeyInFlight,
    Overloaded,
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ValidationFailed => "validation-failed",
            ErrorCode::ConsistencyTokenUnknown => "consistency-token-unknown",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not-found",
            ErrorCode::MethodNotAllowed => "method-not-allowed",
            ErrorCode::CouponSoldOut => "coupon-sold-out",
            ErrorCode::CouponAlreadyIssued => "coupon-already-issued",
            ErrorCode::CouponNotActive => "coupon-not-active",
            ErrorCode::InsufficientStock => "insufficient-stock",
            ErrorCode::InsufficientBalance => "insufficient-balance",
            ErrorCode::CouponUnavailable => "coupon-unavailable",
            ErrorCode::PayloadTooLarge => "payload-too-large",
            ErrorCode::RateLimited => "rate-limited",
            ErrorCode::IdempotencyKeyReused => "idempotency-key-reused",
            ErrorCode::IdempotencyKeyInFlight => "idempotency-key-in-flight",
            ErrorCode::Overloaded => "overloaded",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }

    fn title(self) -> &'static str {
        match self {
            ErrorCode::ValidationFailed => "The request is not valid",
            ErrorCode::ConsistencyTokenUnknown => {
                "The Consistency-Token names a write this store has not made"
            }
            ErrorCode::Unauthorized => "Authentication is required",
            ErrorCode::Forbidden => "Not allowed for this caller",
            ErrorCode::NotFound => "Not found",
            ErrorCode::MethodNotAllowed => "Method not allowed",
            ErrorCode::CouponSoldOut => "The coupon is sold out",
            ErrorCode::CouponAlreadyIssued => "The user already holds this coupon",
            ErrorCode::CouponNotActive => "The coupon is outside its validity window",
            ErrorCode::InsufficientStock => "Not enough stock",
            ErrorCode::InsufficientBalance => "Not enough points",
            ErrorCode::CouponUnavailable => "The coupon cannot be used",
            ErrorCode::PayloadTooLarge => "The request body is too large",
            ErrorCode::RateLimited => "Too many requests; retry after the time given",
            ErrorCode::IdempotencyKeyReused => {
                "The Idempotency-Key was already used for another request"
            }
            ErrorCode::IdempotencyKeyInFlight => {
                "A request with this Idempotency-Key is still running; retry shortly"
            }
            ErrorCode::Overloaded => "The service is busy; retry shortly",
            ErrorCode::Unavailable => "A dependency is unavailable; retry shortly",
            ErrorCode::Internal => "Internal error",
        }
    }
}

/// A problem+json answer. Build it with a status, a code and a human-readable detail.
#[derive(Debug, Clone)]
pub struct Problem {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub detail: String,
    pub retry_after_secs: Option<u64>,
    /// RFC 9457 extension members, e.g. the order a cancelled order's problem is about.
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProblemBody<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
    code: &'a str,
    #[serde(flatten)]
    extensions: &'a serde_json::Map<String, serde_json::Value>,
}

impl Problem {
    pub fn new(status: StatusCode, code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            retry_after_secs: None,
            extensions: serde_json::Map::new(),
        }
    }

    /// Adds the members of `value` (a JSON object; anything else adds nothing). Members
    /// named like a standard one (`type`, `title`, `status`, `detail`, `instance`, `code`)
    /// are dropped: an extension may never shadow them.
    pub fn with_extensions(mut self, value: impl Serialize) -> Self {
        if let Ok(serde_json::Value::Object(members)) = serde_json::to_value(value) {
            self.extensions
                .extend(members.into_iter().filter(|(name, _)| {
                    !matches!(
                        name.as_str(),
                        "type" | "title" | "status" | "detail" | "instance" | "code"
                    )
                }));
        }
        self
    }

    /// Asks the caller to retry after `secs` seconds.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    pub fn validation(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ValidationFailed,
            detail,
        )
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::ValidationFailed, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, detail)
    }

    pub fn conflict(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    pub fn overloaded(detail: impl Into<String>, retry_after_secs: u64) -> Self {
        Self {
            retry_after_secs: Some(retry_after_secs),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Overloaded,
                detail,
            )
        }
    }

    /// A dependency (the database, the broker, Redis) is down or unreachable: the request
    /// changed nothing, or, for a command sent with an Idempotency-Key, a retry with the
    /// same key is safe either way. Logs the cause; the answer says nothing about it.
    pub fn unavailable(cause: &dyn std::error::Error, retry_after_secs: u64) -> Self {
        tracing::warn!(error = %cause, "a dependency is unavailable");
        Self {
            retry_after_secs: Some(retry_after_secs),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Unavailable,
                "A dependency of the service is unavailable; retry shortly",
            )
        }
    }

    /// Logs the cause and answers a 500 that says nothing about it.
    /// A broken invariant of the service's own code (not of its data or its servers):
    /// logged loudly, as a bug to fix, and answered like any other 500.
    pub fn bug(what: &dyn std::fmt::Display) -> Self {
        tracing::error!(bug = true, error = %what, "BUG: an invariant of the service broke");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "The server could not complete the request",
        )
    }

    pub fn internal(cause: &dyn std::error::Error) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "The server could not complete the request",
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = ProblemBody {
            kind: format!("https://shop.example/problems/{}", self.code.as_str()),
            title: self.code.title(),
            status: self.status.as_u16(),
            detail: &self.detail,
            code: self.code.as_str(),
            extensions: &self.extensions,
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let mut response = (self.status, bytes).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_extension_never_shadows_a_standard_member() {
        let problem = Problem::conflict(ErrorCode::InsufficientStock, "cancelled")
            .with_extensions(serde_json::json!({"status": "CANCELLED", "orderId": 7}));
        assert_eq!(
            problem.extensions.get("orderId"),
            Some(&serde_json::json!(7))
        );
        assert!(!problem.extensions.contains_key("status"));
    }
}
