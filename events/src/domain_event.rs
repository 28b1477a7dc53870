//! Any event of any aggregate, for readers (projectors, the relay) that see every stream.

use crate::codec::{CodecError, EncodedEvent};
use crate::coupon::CouponEvent;
use crate::envelope::RecordedEvent;
use crate::product::ProductEvent;
use crate::wallet::WalletEvent;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainEvent {
    Wallet(WalletEvent),
    Product(ProductEvent),
    Coupon(CouponEvent),
}

impl DomainEvent {
    pub fn decode(event_type: &str, version: u16, bytes: &[u8]) -> Result<Self, CodecError> {
        if WalletEvent::EVENT_TYPES.contains(&event_type) {
            WalletEvent::decode(event_type, version, bytes).map(Self::Wallet)
        } else if ProductEvent::EVENT_TYPES.contains(&event_type) {
            ProductEvent::decode(event_type, version, bytes).map(Self::Product)
        } else if CouponEvent::EVENT_TYPES.contains(&event_type) {
            CouponEvent::decode(event_type, version, bytes).map(Self::Coupon)
        } else {
            Err(CodecError::UnknownType(event_type.to_owned()))
        }
    }

    pub fn decode_recorded(event: &RecordedEvent) -> Result<Self, CodecError> {
        Self::decode(&event.event_type, event.schema_version, &event.payload)
    }

    pub fn event_type(&self) -> &'static str {
        match self {
            Self::Wallet(e) => e.event_type(),
            Self::Product(e) => e.event_type(),
            Self::Coupon(e) => e.event_type(),
        }
    }

    /// The current schema version of this event's type: decoding upcasts older versions,
    /// so this is what the event looks like now, not what it was stored as.
    pub fn schema_version(&self) -> u16 {
        match self {
            Self::Wallet(e) => e.schema_version(),
            Self::Product(e) => e.schema_version(),
            Self::Coupon(e) => e.schema_version(),
        }
    }

    pub fn encode(&self) -> Result<EncodedEvent, CodecError> {
        match self {
            Self::Wallet(e) => e.encode(),
            Self::Product(e) => e.encode(),
            Self::Coupon(e) => e.encode(),
        }
    }

    pub fn to_json(&self) -> Result<serde_json::Value, CodecError> {
        match self {
            Self::Wallet(e) => e.to_json(),
            Self::Product(e) => e.to_json(),
            Self::Coupon(e) => e.to_json(),
        }
    }
}
