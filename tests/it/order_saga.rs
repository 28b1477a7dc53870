//! The order saga over real HTTP against the embedded service: a race for the last units,
//! a thousand concurrent mixed orders that must conserve money, stock and coupons, and
//! the answers for orders that cannot go through.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use crate::common;

use common::{TestApp, assert_problem, spawn_app};
use events::{OrderEvent, OrderId, StreamId};
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use write_side::domain::order::{Order, OrderStatus, PlacedOrder};
use write_side::domain::replay;

/// The order as its stream says, the source of truth the answers are checked against.
async fn load_order(app: &TestApp, order_id: i64) -> PlacedOrder {
    let stream = StreamId::order(OrderId::new(order_id).unwrap());
    let recorded = app.services.store().read_stream(&stream, 0).await.unwrap();
    let events: Vec<OrderEvent> = recorded
        .iter()
        .map(|e| OrderEvent::decode(&e.event_type, e.schema_version, &e.payload).unwrap())
        .collect();
    replay(Order::default(), &events).placed().cloned().unwrap()
}

/// Waits until the order is completed or cancelled (the saga may outlive the answer).
async fn settled_order(app: &TestApp, order_id: i64) -> PlacedOrder {
    for _ in 0..600 {
        let order = load_order(app, order_id).await;
        if order.status() != OrderStatus::Pending {
            return order;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("order {order_id} is still pending after 30 s");
}

fn order_id_of(body: &Value) -> i64 {
    body["orderId"].as_i64().expect("orderId in the answer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eleven_buyers_race_for_ten_units() {
    let app = spawn_app().await;
    let (product, _) = app.register_product(1_000, 10).await;
    for user in 1..=11 {
        app.charge(user, 10_000).await;
    }

    let answers = join_all((1..=11).map(|user| {
        app.order(json!({"userId": user, "items": [{"productId": product, "quantity": 1}]}))
    }))
    .await;

    let mut buyers = Vec::new();
    let mut losers = Vec::new();
    for (user, (status, body)) in (1..=11).zip(&answers) {
        match *status {
            StatusCode::CREATED => {
                assert_eq!(body["status"], "COMPLETED");
                assert_eq!(body["totalAmount"], 1_000);
                assert_eq!(body["paidAmount"], 1_000);
                buyers.push(user);
            }
            StatusCode::CONFLICT => {
                assert_eq!(body["code"], "insufficient-stock", "{body}");
                assert_eq!(
                    body["status"], 409,
                    "the problem's own status is not shadowed"
                );
                assert_eq!(body["orderStatus"], "CANCELLED");
                assert!(body["orderId"].is_i64(), "the problem names the order");
                losers.push(user);
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((buyers.len(), losers.len()), (10, 1));

    let view = app.get_json(&format!("/v1/products/{product}")).await;
    assert_eq!(view["stock"], 0);
    for user in buyers {
        let points = app.get_json(&format!("/v1/users/{user}/points")).await;
        assert_eq!(points["balance"], 9_000, "buyer {user} paid once");
    }
    let points = app
        .get_json(&format!("/v1/users/{}/points", losers[0]))
        .await;
    assert_eq!(points["balance"], 10_000, "the loser was not charged");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coupons_discount_and_every_refusal_has_its_reason() {
    let app = spawn_app().await;
    let (product, _) = app.register_product(9_999, 100).await;
    let percent = app
        .admin_post(
            "/v1/coupons",
            json!({"name": "15%", "discount": {"kind": "percent", "value": 15}, "totalQuantity": 10}),
        )
        .await;
    let percent: i64 = percent.json::<Value>().await.unwrap()["couponId"]
        .as_i64()
        .unwrap();
    app.charge(1, 100_000).await;
    app.charge(2, 5_000).await;
    let mine = app.issue(percent, 1).await;
    let theirs = app.issue(percent, 2).await;

    // 15 % of 19,998 is 2,999.7: rounded down to the won.
    let (status, body) = app
        .order(json!({"userId": 1, "items": [{"productId": product, "quantity": 2}], "userCouponId": mine}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["totalAmount"], 19_998);
    assert_eq!(body["discountAmount"], 2_999);
    assert_eq!(body["paidAmount"], 16_999);

    // The same coupon again: already used.
    let (status, body) = app
        .order(json!({"userId": 1, "items": [{"productId": product, "quantity": 1}], "userCouponId": mine}))
        .await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::CONFLICT, json!("coupon-unavailable"))
    );
    // Someone else's coupon, and an id that names no coupon.
    for coupon in [theirs, 5] {
        let (status, body) = app
            .order(json!({"userId": 1, "items": [{"productId": product, "quantity": 1}], "userCouponId": coupon}))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["code"], "coupon-unavailable");
    }
    // Too few points; an unknown product; more than the stock.
    let (status, body) = app
        .order(json!({"userId": 2, "items": [{"productId": product, "quantity": 1}]}))
        .await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::CONFLICT, json!("insufficient-balance"))
    );
    let (status, body) = app
        .order(json!({"userId": 1, "items": [{"productId": product, "quantity": 1}, {"productId": 777_777, "quantity": 1}]}))
        .await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::CONFLICT, json!("not-found"))
    );
    assert!(body["orderId"].is_i64());
    let (status, body) = app
        .order(json!({"userId": 1, "items": [{"productId": product, "quantity": 99}]}))
        .await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::CONFLICT, json!("insufficient-stock"))
    );

    // Everything refused was compensated: one sale of 2, 16,999 paid, user 2 untouched,
    // user 2's coupon still available.
    let view = app.get_json(&format!("/v1/products/{product}")).await;
    assert_eq!(view["stock"], 98);
    let points = app.get_json("/v1/users/1/points").await;
    assert_eq!(points["balance"], 100_000 - 16_999);
    let points = app.get_json("/v1/users/2/points").await;
    assert_eq!(points["balance"], 5_000);
    let held = app.get_json("/v1/users/2/coupons").await;
    assert_eq!(held["items"][0]["status"], "AVAILABLE");
    let held = app.get_json("/v1/users/1/coupons").await;
    assert_eq!(held["items"][0]["status"], "USED");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_orders_are_refused_and_record_nothing() {
    let app = spawn_app().await;
    let (product, _) = app.register_product(1_000, 10).await;
    let before = app.head().await;
    let line = json!({"productId": product, "quantity": 1});
    let too_many: Vec<Value> = (1..=51)
        .map(|p| json!({"productId": p, "quantity": 1}))
        .collect();
    for body in [
        json!({"userId": 1, "items": []}),
        json!({"userId": 1, "items": too_many}),
        json!({"userId": 1, "items": [{"productId": product, "quantity": 0}]}),
        json!({"userId": 1, "items": [{"productId": product, "quantity": 1_001}]}),
        json!({"userId": 1, "items": [line, line]}),
        json!({"userId": 0, "items": [line]}),
        json!({"userId": 1, "items": [{"productId": -1, "quantity": 1}]}),
        json!({"userId": 1, "items": [line], "userCouponId": 0}),
        json!({"userId": 1}),
        json!({"items": [line]}),
    ] {
        let response = app.post("/v1/orders", body.clone()).await;
        let status = response.status();
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY,
            "{body} answered {status}"
        );
        assert_problem(response, status, "validation-failed").await;
    }
    assert_eq!(app.head().await, before, "a refused request wrote nothing");
    app.stop().await;
}

/// A small deterministic generator, so a failing run can be replayed.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_mixed_orders_conserve_money_stock_and_coupons() {
    let app = spawn_app().await;
    let mut products = BTreeMap::new();
    for (price, stock) in [(1_000, 60), (2_500, 300), (700, 5), (10_000, 1_000)] {
        let (id, _) = app.register_product(price, stock).await;
        products.insert(id, stock);
    }
    let product_ids: Vec<i64> = products.keys().copied().collect();
    let users: Vec<i64> = (1..=200).collect();
    let mut charged = HashMap::new();
    for &user in &users {
        // Every fifth user can afford little.
        let amount = if user % 5 == 0 { 3_000 } else { 200_000 };
        app.charge(user, amount).await;
        charged.insert(user, amount);
    }
    let (fixed, _) = app.register_coupon(100).await;
    let mut held: HashMap<i64, i64> = HashMap::new();
    for user in 1..=100 {
        held.insert(user, app.issue(fixed, user).await);
    }

    let mut rng = Lcg(42);
    let requests: Vec<Value> = (0..1_000)
        .map(|_| {
            let user = users[rng.below(users.len() as u64) as usize];
            let lines = 1 + rng.below(3) as usize;
            let mut items: Vec<Value> = Vec::new();
            for product in product_ids.iter().skip(rng.below(4) as usize).take(lines) {
                items.push(json!({"productId": product, "quantity": 1 + rng.below(3)}));
            }
            if rng.below(20) == 0 {
                items.push(json!({"productId": 888_888, "quantity": 1}));
            }
            let coupon = match rng.below(12) {
                0..=4 => None,
                5..=8 => held.get(&user).copied(),
                9 | 10 => held.get(&(1 + rng.below(100) as i64)).copied(),
                _ => Some(7),
            };
            let mut body = json!({"userId": user, "items": items});
            if let Some(coupon) = coupon {
                body["userCouponId"] = json!(coupon);
            }
            body
        })
        .collect();
    let answers = join_all(requests.iter().map(|body| app.order(body.clone()))).await;

    let mut order_ids = Vec::new();
    for (status, body) in &answers {
        match *status {
            StatusCode::CREATED => assert_eq!(body["status"], "COMPLETED"),
            StatusCode::ACCEPTED => assert_eq!(body["status"], "PENDING"),
            StatusCode::CONFLICT => {
                assert_eq!(body["orderStatus"], "CANCELLED");
                let code = body["code"].as_str().unwrap();
                assert!(
                    [
                        "insufficient-stock",
                        "insufficient-balance",
                        "coupon-unavailable",
                        "not-found"
                    ]
                    .contains(&code),
                    "unexpected reason {code}"
                );
            }
            other => panic!("unexpected {other}: {body}"),
        }
        order_ids.push(order_id_of(body));
    }

    let mut paid: HashMap<i64, i64> = HashMap::new();
    let mut sold: HashMap<i64, i64> = HashMap::new();
    let mut coupon_uses: HashMap<i64, i64> = HashMap::new();
    let (mut completed, mut cancelled) = (0, 0);
    for &order_id in &order_ids {
        let order = settled_order(&app, order_id).await;
        if order.status() == OrderStatus::Cancelled {
            cancelled += 1;
            continue;
        }
        completed += 1;
        *paid.entry(order.user_id.get()).or_default() += order.paid_amount.won();
        for line in &order.lines {
            *sold.entry(line.product_id.get()).or_default() += line.quantity;
        }
        if order.applied_coupon.is_some() {
            let coupon = order.user_coupon_id.unwrap().get();
            *coupon_uses.entry(coupon).or_default() += 1;
        }
    }
    assert!(
        completed > 100 && cancelled > 100,
        "a mix: {completed} completed, {cancelled} cancelled"
    );

    for &user in &users {
        let balance = app.get_json(&format!("/v1/users/{user}/points")).await["balance"]
            .as_i64()
            .unwrap();
        let spent = paid.get(&user).copied().unwrap_or(0);
        assert_eq!(
            balance,
            charged[&user] - spent,
            "user {user}: charged - paid + refunded"
        );
    }
    for (&product, &stock) in &products {
        let view = app.get_json(&format!("/v1/products/{product}")).await;
        let left = stock - sold.get(&product).copied().unwrap_or(0);
        assert!(left >= 0);
        assert_eq!(view["stock"], left, "product {product}: registered - sold");
    }
    for (&user, &coupon) in &held {
        let uses = coupon_uses.get(&coupon).copied().unwrap_or(0);
        assert!(uses <= 1, "user coupon {coupon} used {uses} times");
        let view = app.get_json(&format!("/v1/users/{user}/coupons")).await;
        let expected = if uses == 1 { "USED" } else { "AVAILABLE" };
        assert_eq!(view["items"][0]["status"], expected, "user {user}'s coupon");
    }
    app.stop().await;
}
