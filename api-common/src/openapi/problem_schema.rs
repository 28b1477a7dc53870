//! The problem+json body as an OpenAPI schema, with the enumeration of stable codes.

use crate::problem::ErrorCode;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};

/// Every code a problem can carry. Adding a variant to [`ErrorCode`] breaks the build in
/// [`position`] until it is listed here too.
pub const CODES: [ErrorCode; 19] = [
    ErrorCode::ValidationFailed,
    ErrorCode::ConsistencyTokenUnknown,
    ErrorCode::Unauthorized,
    ErrorCode::Forbidden,
    ErrorCode::NotFound,
    ErrorCode::MethodNotAllowed,
    ErrorCode::CouponSoldOut,
    ErrorCode::CouponAlreadyIssued,
    ErrorCode::CouponNotActive,
    ErrorCode::InsufficientStock,
    ErrorCode::InsufficientBalance,
    ErrorCode::CouponUnavailable,
    ErrorCode::PayloadTooLarge,
    ErrorCode::RateLimited,
    ErrorCode::IdempotencyKeyReused,
    ErrorCode::IdempotencyKeyInFlight,
    ErrorCode::Overloaded,
    ErrorCode::Unavailable,
    ErrorCode::Internal,
];

/// Where `code` stands in [`CODES`]; exhaustive on purpose (see there).
pub const fn position(code: ErrorCode) -> usize {
    match code {
        ErrorCode::ValidationFailed => 0,
        ErrorCode::ConsistencyTokenUnknown => 1,
        ErrorCode::Unauthorized => 2,
        ErrorCode::Forbidden => 3,
        ErrorCode::NotFound => 4,
        ErrorCode::MethodNotAllowed => 5,
        ErrorCode::CouponSoldOut => 6,
        ErrorCode::CouponAlreadyIssued => 7,
        ErrorCode::CouponNotActive => 8,
        ErrorCode::InsufficientStock => 9,
        ErrorCode::InsufficientBalance => 10,
        ErrorCode::CouponUnavailable => 11,
        ErrorCode::PayloadTooLarge => 12,
        ErrorCode::RateLimited => 13,
        ErrorCode::IdempotencyKeyReused => 14,
        ErrorCode::IdempotencyKeyInFlight => 15,
        ErrorCode::Overloaded => 16,
        ErrorCode::Unavailable => 17,
        ErrorCode::Internal => 18,
    }
}

impl utoipa::PartialSchema for ErrorCode {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(CODES.iter().map(|code| code.as_str())))
            .description(Some(
                "Stable, machine-readable error code: validation-failed (400/422), \
                 consistency-token-unknown (400: a Consistency-Token sent to the query API \
                 names a write the event store has not made), unauthorized (401), forbidden \
                 (403), not-found (404), method-not-allowed (405), coupon-sold-out, \
                 coupon-already-issued, coupon-not-active, insufficient-stock, \
                 insufficient-balance, coupon-unavailable (409), idempotency-key-in-flight \
                 (409, with Retry-After), idempotency-key-reused (422), payload-too-large \
                 (413), rate-limited (429, with Retry-After), overloaded and unavailable (503, \
                 with Retry-After), internal (500).",
            ))
            .into()
    }
}

impl utoipa::ToSchema for ErrorCode {}

/// RFC 9457 problem details as every error answers them (`application/problem+json`).
/// Extension members may follow the standard ones, e.g. the order a cancelled order's
/// problem is about.
#[derive(utoipa::ToSchema)]
#[schema(as = Problem)]
pub struct ProblemSchema {
    /// A URI naming the problem type: `https://shop.example/problems/{code}`.
    #[schema(rename = "type", format = "uri")]
    pub kind: String,
    /// A short summary of the problem type; the same for every problem with this code.
    pub title: String,
    /// The HTTP status code of this answer.
    #[schema(minimum = 400, maximum = 599)]
    pub status: u16,
    /// What went wrong with this request, for humans.
    pub detail: String,
    pub code: ErrorCode,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_listed_once_in_its_place() {
        for (index, code) in CODES.iter().enumerate() {
            assert_eq!(position(*code), index, "{}", code.as_str());
        }
    }
}
