//! Any event of any aggregate, for readers (projectors, the relay) that see every stream.

use crate::codec::{CodecError, EncodedEvent};
use crate::coupon::CouponEvent;
use crate::envelope::RecordedEvent;
use crate::names::Category;
use crate::order::OrderEvent;
use crate::product::ProductEvent;
use crate::wallet::WalletEvent;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainEvent {
    Wallet(WalletEvent),
    Product(ProductEvent),
    Coupon(CouponEvent),
    Order(OrderEvent),
}

impl DomainEvent {
    pub fn decode(event_type: &str, version: u16, bytes: &[u8]) -> Result<Self, CodecError> {
        if WalletEvent::EVENT_TYPES.contains(&event_type) {
            WalletEvent::decode(event_type, version, bytes).map(Self::Wallet)
        } else if ProductEvent::EVENT_TYPES.contains(&event_type) {
            ProductEvent::decode(event_type, version, bytes).map(Self::Product)
        } else if CouponEvent::EVENT_TYPES.contains(&event_type) {
            CouponEvent::decode(event_type, version, bytes).map(Self::Coupon)
        } else if OrderEvent::EVENT_TYPES.contains(&event_type) {
            OrderEvent::decode(event_type, version, bytes).map(Self::Order)
        } else {
            Err(CodecError::UnknownType(event_type.to_owned()))
        }
    }

    pub fn decode_recorded(event: &RecordedEvent) -> Result<Self, CodecError> {
        Self::decode(&event.event_type, event.schema_version, &event.payload)
    }

    /// Parses an event from its Kafka JSON form (see docs/events.md).
    pub fn from_json(event_type: &str, bytes: &[u8]) -> Result<Self, CodecError> {
        if WalletEvent::EVENT_TYPES.contains(&event_type) {
            WalletEvent::from_json(event_type, bytes).map(Self::Wallet)
        } else if ProductEvent::EVENT_TYPES.contains(&event_type) {
            ProductEvent::from_json(event_type, bytes).map(Self::Product)
        } else if CouponEvent::EVENT_TYPES.contains(&event_type) {
            CouponEvent::from_json(event_type, bytes).map(Self::Coupon)
        } else if OrderEvent::EVENT_TYPES.contains(&event_type) {
            OrderEvent::from_json(event_type, bytes).map(Self::Order)
        } else {
            Err(CodecError::UnknownType(event_type.to_owned()))
        }
    }

    /// Every stored event name with the schema version written today.
    pub fn schema_versions() -> impl Iterator<Item = (&'static str, u16)> {
        [
            WalletEvent::SCHEMA_VERSIONS,
            ProductEvent::SCHEMA_VERSIONS,
            CouponEvent::SCHEMA_VERSIONS,
            OrderEvent::SCHEMA_VERSIONS,
        ]
        .into_iter()
        .flatten()
        .copied()
    }

    /// The aggregate type whose stream holds this event.
    pub fn category(&self) -> Category {
        match self {
            Self::Wallet(_) => Category::Wallet,
            Self::Product(_) => Category::Product,
            Self::Coupon(_) => Category::Coupon,
            Self::Order(_) => Category::Order,
        }
    }

    pub fn event_type(&self) -> &'static str {
        match self {
            Self::Wallet(e) => e.event_type(),
            Self::Product(e) => e.event_type(),
            Self::Coupon(e) => e.event_type(),
            Self::Order(e) => e.event_type(),
        }
    }

    /// The current schema version of this event's type: decoding upcasts older versions,
    /// so this is what the event looks like now, not what it was stored as.
    pub fn schema_version(&self) -> u16 {
        match self {
            Self::Wallet(e) => e.schema_version(),
            Self::Product(e) => e.schema_version(),
            Self::Coupon(e) => e.schema_version(),
            Self::Order(e) => e.schema_version(),
        }
    }

    pub fn encode(&self) -> Result<EncodedEvent, CodecError> {
        match self {
            Self::Wallet(e) => e.encode(),
            Self::Product(e) => e.encode(),
            Self::Coupon(e) => e.encode(),
            Self::Order(e) => e.encode(),
        }
    }

    pub fn to_json(&self) -> Result<serde_json::Value, CodecError> {
        match self {
            Self::Wallet(e) => e.to_json(),
            Self::Product(e) => e.to_json(),
            Self::Coupon(e) => e.to_json(),
            Self::Order(e) => e.to_json(),
        }
    }

    /// The JSON Kafka carries, as bytes: `to_json` without the `Value` tree.
    pub fn to_json_vec(&self) -> Result<Vec<u8>, CodecError> {
        match self {
            Self::Wallet(e) => e.to_json_vec(),
            Self::Product(e) => e.to_json_vec(),
            Self::Coupon(e) => e.to_json_vec(),
            Self::Order(e) => e.to_json_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ProductId, UserId};
    use crate::money::Krw;
    use crate::product::ProductRestocked;
    use crate::wallet::PointsCharged;

    #[test]
    fn json_round_trips_through_the_event_type() {
        let event = DomainEvent::Product(
            ProductRestocked {
                product_id: ProductId::new(7).unwrap(),
                quantity: 20,
            }
            .into(),
        );
        let bytes = serde_json::to_vec(&event.to_json().unwrap()).unwrap();
        assert_eq!(
            DomainEvent::from_json(event.event_type(), &bytes).unwrap(),
            event
        );
    }

    #[test]
    fn json_without_an_optional_field_reads_as_none() {
        let event =
            DomainEvent::from_json("PointsCharged", br#"{"userId":42,"amount":50000}"#).unwrap();
        assert_eq!(
            event,
            DomainEvent::Wallet(
                PointsCharged {
                    user_id: UserId::new(42).unwrap(),
                    amount: Krw::new(50_000).unwrap(),
                    idempotency_key: None,
                }
                .into()
            )
        );
    }

    #[test]
    fn unknown_types_and_bad_json_are_errors() {
        assert!(matches!(
            DomainEvent::from_json("OrderShipped", b"{}"),
            Err(CodecError::UnknownType(_))
        ));
        assert!(matches!(
            DomainEvent::from_json("ProductRestocked", br#"{"productId":0,"quantity":1}"#),
            Err(CodecError::FromJson { .. })
        ));
    }
}
