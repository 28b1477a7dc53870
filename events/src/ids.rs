//! Positive integer ids, one newtype per kind so a product id can never be passed as a
//! user id. They are parsed once at the edge (`TryFrom<i64>` backs deserialization too).

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an id must be a positive integer, got {0}")]
pub struct InvalidId(pub i64);

macro_rules! positive_id {
    ($($name:ident),* $(,)?) => {$(
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "i64", into = "i64")]
        pub struct $name(i64);

        impl $name {
            pub fn new(value: i64) -> Result<Self, InvalidId> {
                if value > 0 { Ok(Self(value)) } else { Err(InvalidId(value)) }
            }

            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl TryFrom<i64> for $name {
            type Error = InvalidId;
            fn try_from(value: i64) -> Result<Self, InvalidId> {
                Self::new(value)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

positive_id!(UserId, ProductId, CouponId, OrderId, UserCouponId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_and_negative_ids_are_rejected() {
        assert_eq!(UserId::new(0), Err(InvalidId(0)));
        assert_eq!(ProductId::new(-3), Err(InvalidId(-3)));
        assert_eq!(CouponId::new(7).map(CouponId::get), Ok(7));
    }

    #[test]
    fn json_ids_are_validated_on_parse() {
        assert!(serde_json::from_str::<UserId>("0").is_err());
        assert_eq!(
            serde_json::from_str::<UserId>("12").ok(),
            UserId::new(12).ok()
        );
    }
}
