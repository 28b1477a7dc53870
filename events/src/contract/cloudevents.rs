//! CloudEvents 1.0 over Kafka in binary content mode: the value stays the plain event JSON
//! and the context attributes travel as `ce_*` headers, so consumers that know nothing of
//! CloudEvents read the same value as before.

use crate::names::Category;

/// `ce_specversion`.
pub const SPEC_VERSION: &str = "1.0";

/// `ce_source` unless configured otherwise (`SHOP_CLOUDEVENTS_SOURCE`).
pub const DEFAULT_SOURCE: &str = "/shop";

/// The reverse-DNS-like namespace of every `ce_type`.
pub const TYPE_NAMESPACE: &str = "shop";

/// `ce_type`: `shop.{category}.{event type}.v{schema version}`, e.g.
/// `shop.coupon.CouponIssued.v1`. The version is in the type because CloudEvents routes
/// and filters by type: a consumer subscribed to v1 is not handed a v2 it cannot read.
pub fn event_type(category: Category, event_type: &str, schema_version: u16) -> String {
    format!(
        "{TYPE_NAMESPACE}.{}.{event_type}.v{schema_version}",
        category.as_str()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_type_names_namespace_category_event_and_version() {
        assert_eq!(
            event_type(Category::Coupon, "CouponIssued", 1),
            "shop.coupon.CouponIssued.v1"
        );
        assert_eq!(
            event_type(Category::Wallet, "PointsCharged", 2),
            "shop.wallet.PointsCharged.v2"
        );
    }
}
