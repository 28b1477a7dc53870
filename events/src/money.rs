//! Money is whole Korean won in an `i64`; never a float. `Krw` is never negative.

use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::openapi::{RefOr, Schema};

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an amount of money must be zero or more won, got {0}")]
pub struct InvalidAmount(pub i64);

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(try_from = "i64", into = "i64")]
pub struct Krw(i64);

impl Krw {
    pub const ZERO: Krw = Krw(0);

    pub fn new(won: i64) -> Result<Self, InvalidAmount> {
        if won >= 0 {
            Ok(Self(won))
        } else {
            Err(InvalidAmount(won))
        }
    }

    pub fn won(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Krw) -> Option<Krw> {
        self.0.checked_add(other.0).map(Krw)
    }

    pub fn checked_sub(self, other: Krw) -> Option<Krw> {
        self.0
            .checked_sub(other.0)
            .and_then(|won| Krw::new(won).ok())
    }
}

impl TryFrom<i64> for Krw {
    type Error = InvalidAmount;
    fn try_from(won: i64) -> Result<Self, InvalidAmount> {
        Self::new(won)
    }
}

impl From<Krw> for i64 {
    fn from(amount: Krw) -> i64 {
        amount.0
    }
}

/// OpenAPI: whole won, zero or more.
impl utoipa::PartialSchema for Krw {
    fn schema() -> RefOr<Schema> {
        crate::schema::integer(0, "Whole Korean won (KRW), never negative.")
    }
}

impl utoipa::ToSchema for Krw {}

crate::schema::integer_json_schema!(Krw, 0, "Whole Korean won (KRW), never negative.");

impl fmt::Display for Krw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} KRW", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_amounts_are_rejected() {
        assert_eq!(Krw::new(-1), Err(InvalidAmount(-1)));
        assert!(serde_json::from_str::<Krw>("-5").is_err());
    }

    #[test]
    fn subtraction_never_goes_below_zero() {
        let ten = Krw::new(10).unwrap();
        let eleven = Krw::new(11).unwrap();
        assert_eq!(ten.checked_sub(eleven), None);
        assert_eq!(eleven.checked_sub(ten), Krw::new(1).ok());
        assert_eq!(Krw::new(i64::MAX).unwrap().checked_add(ten), None);
    }
}
