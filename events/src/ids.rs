//! Positive integer ids, one newtype per kind so a product id can never be passed as a
//! user id. They are parsed once at the edge (`TryFrom<i64>` backs deserialization too).

use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::openapi::{RefOr, Schema};

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

        /// OpenAPI: a positive 64-bit integer.
        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                crate::schema::integer(1, concat!("A positive id (", stringify!($name), ")."))
            }
        }

        impl utoipa::ToSchema for $name {}

        crate::schema::integer_json_schema!(
            $name,
            1,
            concat!("A positive id (", stringify!($name), ").")
        );
    )*};
}

positive_id!(UserId, ProductId, CouponId, OrderId, UserCouponId);

/// A user coupon id is `couponId * USER_COUPON_ID_SPAN + sequence`: it names its coupon, so
/// an order that presents one finds the coupon's stream without a lookup table, and it is
/// decided by the coupon's own stream (the sequence is unique there) with no id round trip.
/// The span is above any coupon's total quantity, and ids stay below 2^53 (exact in
/// JavaScript) for coupon ids up to 90 million.
pub const USER_COUPON_ID_SPAN: i64 = 100_000_000;

impl UserCouponId {
    /// `None` if the sequence is outside `1..USER_COUPON_ID_SPAN` or the id overflows.
    pub fn compose(coupon_id: CouponId, sequence: i64) -> Option<Self> {
        if !(1..USER_COUPON_ID_SPAN).contains(&sequence) {
            return None;
        }
        coupon_id
            .get()
            .checked_mul(USER_COUPON_ID_SPAN)
            .and_then(|base| base.checked_add(sequence))
            .map(Self)
    }

    /// The coupon this id was issued from, if it is a composed id at all.
    pub fn coupon_id(self) -> Option<CouponId> {
        if self.0 % USER_COUPON_ID_SPAN == 0 {
            return None;
        }
        CouponId::new(self.0 / USER_COUPON_ID_SPAN).ok()
    }
}

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
    fn a_user_coupon_id_names_its_coupon() {
        let coupon = CouponId::new(42).unwrap();
        let id = UserCouponId::compose(coupon, 7).unwrap();
        assert_eq!(id.get(), 4_200_000_007);
        assert_eq!(id.coupon_id(), Some(coupon));
        assert_eq!(UserCouponId::compose(coupon, 0), None);
        assert_eq!(UserCouponId::compose(coupon, USER_COUPON_ID_SPAN), None);
        assert_eq!(UserCouponId::new(5).unwrap().coupon_id(), None);
        assert_eq!(UserCouponId::new(4_200_000_000).unwrap().coupon_id(), None);
        assert_eq!(
            UserCouponId::compose(CouponId::new(i64::MAX / 10).unwrap(), 1),
            None
        );
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
