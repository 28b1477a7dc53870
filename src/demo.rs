//! A sample catalog and coupons so a newcomer can `curl` at once. Written through the
//! command services, so demo data is ordinary events. Never orders.

use anyhow::Context;
use events::{Discount, DiscountKind, Krw, Metadata};
use write_side::commands::{CommandServices, NewCoupon, NewProduct};

/// English and Korean names, some sharing words (`라떼`, `Latte`), so that
/// `GET /v1/products/search?q=라떼` (or `latt`, `카페`) has something to rank at once.
const PRODUCTS: &[(&str, i64, i64)] = &[
    ("Americano", 4_500, 1_000),
    ("Caffe Latte", 5_000, 1_000),
    ("Cheesecake", 6_500, 200),
    ("Tumbler", 25_000, 100),
    ("Drip Bag Set", 18_000, 300),
    ("아이스 아메리카노", 4_500, 1_000),
    ("카페라떼", 5_000, 1_000),
    ("바닐라 라떼", 5_500, 800),
    ("Latte Macchiato", 5_500, 500),
    ("말차 Latte", 6_000, 300),
    ("치즈케이크", 6_500, 200),
    ("콜드브루 원두 200g", 16_000, 150),
];

/// Returns whether anything was loaded (only into an empty store).
pub async fn load_if_empty(services: &CommandServices) -> anyhow::Result<bool> {
    let head = services
        .store()
        .head_position()
        .await
        .context("cannot read the event store")?;
    if head > 0 {
        return Ok(false);
    }
    for &(name, price, stock) in PRODUCTS {
        let product = NewProduct {
            name: name.to_owned(),
            price: Krw::new(price)?,
            stock,
        };
        services
            .register_product(product, Metadata::for_new_command(), None)
            .await
            .with_context(|| format!("cannot register demo product {name}"))?;
    }
    let coupons = [
        ("Welcome 3,000 won off", DiscountKind::Fixed, 3_000, 100),
        ("Rush 10% off", DiscountKind::Percent, 10, 30),
    ];
    for (name, kind, value, total_quantity) in coupons {
        let coupon = NewCoupon {
            name: name.to_owned(),
            discount: Discount { kind, value },
            total_quantity,
            valid_from: None,
            valid_until: None,
        };
        services
            .register_coupon(coupon, Metadata::for_new_command(), None)
            .await
            .with_context(|| format!("cannot register demo coupon {name}"))?;
    }
    tracing::info!(
        products = PRODUCTS.len(),
        coupons = 2,
        "loaded demo data (SHOP_DEMO_DATA=false to skip)"
    );
    Ok(true)
}
