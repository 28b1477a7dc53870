//! A real `shop` process crashes (aborts, as on a power cut) right after each saga step;
//! started again on the same data, its recovery scan settles the order with money, stock
//! and the coupon exact. Needs the test-only `failpoints` feature (see scripts/test.sh).
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::Duration;

use crate::embedded_process;

use embedded_process::{ADMIN_TOKEN as TOKEN, Node};

const PRICE: i64 = 1_000;
const STOCK: i64 = 10;
const DISCOUNT: i64 = 500;
/// Two units with the coupon.
const DUE: i64 = 2 * PRICE - DISCOUNT;

/// `shop serve` on `data`, recovering unsettled orders after 300 ms, with `failpoint`
/// armed if given.
async fn start(data: &Path, failpoint: Option<&str>) -> Node {
    let armed = failpoint.map(|name| format!("{name}=return"));
    let mut env = vec![("SHOP_SAGA_RECOVER_AFTER_MS", "300")];
    if let Some(armed) = &armed {
        env.push(("FAILPOINTS", armed));
    }
    embedded_process::start(data, &env).await
}

async fn post(client: &Client, url: String, body: Value) -> Value {
    let response = client
        .post(url)
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.unwrap()
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Ending {
    Completed,
    /// The user holds less than the discounted price: cancelled after the coupon is used.
    CancelledForBalance,
}

/// What the user, the product and the coupon must show once the order is settled.
async fn settled_as_expected(
    client: &Client,
    node: &Node,
    ids: (i64, i64),
    ending: Ending,
) -> Result<(), String> {
    let (product, user_coupon) = ids;
    let get = |path: String| async move {
        let response = client.get(format!("{}{path}", node.query)).send().await;
        match response {
            Ok(r) if r.status() == StatusCode::OK => r.json::<Value>().await.ok(),
            _ => None,
        }
    };
    let order = get("/v1/orders/1".to_owned()).await.unwrap_or_default();
    let balance = get("/v1/users/1/points".to_owned())
        .await
        .unwrap_or_default();
    let stock = get(format!("/v1/products/{product}"))
        .await
        .unwrap_or_default();
    let coupons = get("/v1/users/1/coupons".to_owned())
        .await
        .unwrap_or_default();
    let expected = match ending {
        Ending::Completed => (
            json!("COMPLETED"),
            json!(10_000 - DUE),
            json!(STOCK - 2),
            json!("USED"),
        ),
        Ending::CancelledForBalance => (
            json!("CANCELLED"),
            json!(1_000),
            json!(STOCK),
            json!("AVAILABLE"),
        ),
    };
    let actual = (
        order["status"].clone(),
        balance["balance"].clone(),
        stock["stock"].clone(),
        coupons["items"][0]["status"].clone(),
    );
    if actual != expected {
        return Err(format!("expected {expected:?}, found {actual:?}"));
    }
    assert_eq!(coupons["items"][0]["userCouponId"], user_coupon);
    if ending == Ending::CancelledForBalance {
        assert_eq!(order["reason"], "insufficient-balance");
    } else {
        assert_eq!(order["paidAmount"], DUE);
    }
    Ok(())
}

async fn crash_after(failpoint: &str, ending: Ending) {
    let dir = tempfile::tempdir().unwrap();
    let mut node = start(dir.path(), Some(failpoint)).await;
    let client = Client::new();
    let product = post(
        &client,
        format!("{}/v1/products", node.command),
        json!({"name": "lamp", "price": PRICE, "stock": STOCK}),
    )
    .await["productId"]
        .as_i64()
        .unwrap();
    let coupon = post(
        &client,
        format!("{}/v1/coupons", node.command),
        json!({"name": "500 off", "discount": {"kind": "fixed", "value": DISCOUNT}, "totalQuantity": 5}),
    )
    .await["couponId"]
        .as_i64()
        .unwrap();
    let charge = if ending == Ending::Completed {
        10_000
    } else {
        1_000
    };
    post(
        &client,
        format!("{}/v1/users/1/points/charge", node.command),
        json!({"amount": charge}),
    )
    .await;
    let user_coupon = post(
        &client,
        format!("{}/v1/coupons/{coupon}/issue", node.command),
        json!({"userId": 1}),
    )
    .await["userCouponId"]
        .as_i64()
        .unwrap();

    let order = client
        .post(format!("{}/v1/orders", node.command))
        .json(&json!({"userId": 1, "items": [{"productId": product, "quantity": 2}], "userCouponId": user_coupon}))
        .send()
        .await;
    assert!(
        order.is_err(),
        "the process died before answering: {order:?}"
    );
    let status = node.child.wait().unwrap();
    assert_eq!(status.signal(), Some(6), "{failpoint} aborted the process");

    let mut node = start(dir.path(), None).await;
    let mut last = String::new();
    for _ in 0..300 {
        match settled_as_expected(&client, &node, (product, user_coupon), ending).await {
            Ok(()) => {
                node.child.kill().unwrap();
                node.child.wait().unwrap();
                return;
            }
            Err(mismatch) => last = mismatch,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    node.child.kill().unwrap();
    panic!("after a crash at {failpoint}, the order never settled: {last}");
}

macro_rules! crash_tests {
    ($($name:ident: $failpoint:literal => $ending:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            crash_after($failpoint, Ending::$ending).await;
        }
    )*};
}

// The participant steps (stock; the coupon then the points) run side by side and are
// recorded in one `Settle` append, so the crash points are between the steps themselves.
crash_tests! {
    crash_after_placed: "saga-after-placed" => Completed,
    crash_after_reserving_before_recording: "saga-after-reserve" => Completed,
    crash_after_coupon_used_before_recording: "saga-after-coupon-used" => Completed,
    crash_after_deducting_before_recording: "saga-after-deduct" => Completed,
    crash_after_settled: "saga-after-completed" => Completed,
    // The stock branch reserved while the payment branch was still running, and the
    // payment is then refused: recovery must cancel and undo both branches.
    crash_between_parallel_steps_then_too_few_points: "saga-after-reserve" => CancelledForBalance,
    crash_after_coupon_used_then_too_few_points: "saga-after-coupon-used" => CancelledForBalance,
    crash_after_cancelled_before_compensating: "saga-after-cancelled" => CancelledForBalance,
    crash_in_the_middle_of_compensating: "saga-mid-compensation" => CancelledForBalance,
}
