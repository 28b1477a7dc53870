//! Wallet events (`wallet-{userId}`): a user's point balance.

use crate::codec::{CodecError, decode, event_enum};
use crate::ids::{OrderId, UserId};
use crate::money::Krw;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Schema v2: v1 had no idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PointsCharged {
    pub user_id: UserId,
    pub amount: Krw,
    pub idempotency_key: Option<String>,
}

/// Schema v1 of `PointsCharged`, kept so events written before v2 stay readable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PointsChargedV1 {
    pub user_id: UserId,
    pub amount: Krw,
}

impl From<PointsChargedV1> for PointsCharged {
    fn from(v1: PointsChargedV1) -> Self {
        Self {
            user_id: v1.user_id,
            amount: v1.amount,
            idempotency_key: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PointsDeducted {
    pub user_id: UserId,
    pub order_id: OrderId,
    pub amount: Krw,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PointsRefunded {
    pub user_id: UserId,
    pub order_id: OrderId,
    pub amount: Krw,
}

event_enum! {
    pub enum WalletEvent upcast upcast {
        PointsCharged(PointsCharged) as "PointsCharged" = 2,
        PointsDeducted(PointsDeducted) as "PointsDeducted" = 1,
        PointsRefunded(PointsRefunded) as "PointsRefunded" = 1,
    }
}

fn upcast(event_type: &str, version: u16, bytes: &[u8]) -> Option<Result<WalletEvent, CodecError>> {
    match (event_type, version) {
        ("PointsCharged", 1) => Some(
            decode::<PointsChargedV1>(event_type, version, bytes)
                .map(|v1| WalletEvent::PointsCharged(v1.into())),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_v1_points_charged_reads_as_v2_without_key() {
        let v1 = PointsChargedV1 {
            user_id: UserId::new(7).unwrap(),
            amount: Krw::new(5_000).unwrap(),
        };
        let bytes = postcard::to_stdvec(&v1).unwrap();
        let event = WalletEvent::decode("PointsCharged", 1, &bytes).unwrap();
        assert_eq!(
            event,
            WalletEvent::PointsCharged(PointsCharged {
                user_id: UserId::new(7).unwrap(),
                amount: Krw::new(5_000).unwrap(),
                idempotency_key: None,
            })
        );
    }

    #[test]
    fn an_unknown_version_is_an_error_not_a_guess() {
        let err = WalletEvent::decode("PointsCharged", 9, &[]).unwrap_err();
        assert!(matches!(err, CodecError::UnknownVersion { version: 9, .. }));
    }
}
