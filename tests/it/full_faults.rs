//! Faults of the database under keyed load, over real processes and servers: the command
//! API's connection to MariaDB is cut for 3 s (a TCP proxy resets every connection and
//! refuses new ones) while 16 clients charge and order with Idempotency-Keys. Every answer
//! during the cut is a retryable 503 with Retry-After and a stable code, never a 500; each
//! client retries a failed request with its key; afterwards every balance is exactly the
//! acknowledged charges minus the paid orders, and the stock moved once per order.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use crate::cluster;

use cluster::Cluster;
use cluster::keyed::{Fault, Workload, fold};
use cluster::proxy::Proxy;
use event_store::EventStore;
use event_store::mysql::MySqlEventStore;
use events::{ProductId, StreamId, UserId};
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use write_side::domain::product::Product;
use write_side::domain::wallet::Wallet;

const CLIENTS: i64 = 16;
const ROUNDS: i64 = 30;
const CHARGE: i64 = 100;
const PRICE: i64 = 10;
const STOCK: i64 = 100_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_cut_under_keyed_load_answers_503_and_retries_take_effect_once() {
    let mut cluster = Cluster::new();
    cluster.migrate();
    let (proxy, proxied) = Proxy::for_database(&cluster.names.database_url).await;
    cluster
        .extra_env
        .push(("SHOP_SAGA_RECOVER_AFTER_MS".into(), "1000".into()));
    let node = cluster
        .command_api_with(&[("SHOP_DATABASE_URL", &proxied)])
        .await;
    let base = node.url.clone().unwrap();

    let (status, product) = cluster
        .admin_post(
            &node,
            "/v1/products",
            json!({"name": "latte", "price": PRICE, "stock": STOCK}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{product}");
    let product_id = product["productId"].as_i64().unwrap();

    let cut = Arc::new(Fault::default());
    let settled = Arc::new(AtomicUsize::new(0));
    let readyz = |base: String| {
        let client = cluster.client.clone();
        async move {
            let response = client
                .get(format!("{base}/readyz"))
                .timeout(Duration::from_secs(10))
                .send()
                .await
                .unwrap();
            let status = response.status();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let cutter = {
        let (cut, settled, base) = (cut.clone(), settled.clone(), base.clone());
        async move {
            // Mid-run: once a quarter of the requests are through.
            let quarter = (CLIENTS * ROUNDS * 2 / 4) as usize;
            while settled.load(Ordering::SeqCst) < quarter {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            cut.start();
            proxy.cut();
            let cut_at = Instant::now();
            // Readiness says which dependency is gone while it is gone.
            let (status, ready) = readyz(base.clone()).await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{ready}");
            assert!(
                ready["checks"]["database"]
                    .as_str()
                    .is_some_and(|check| check.starts_with("down")),
                "{ready}"
            );
            tokio::time::sleep(Duration::from_secs(3).saturating_sub(cut_at.elapsed())).await;
            proxy.restore();
            cut.end();
            // ...and ready again once it is back.
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let (status, ready) = readyz(base.clone()).await;
                if status == StatusCode::OK {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "not ready after the cut: {ready}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            proxy
        }
    };
    let work = Workload {
        clients: CLIENTS,
        rounds: ROUNDS,
        charge: CHARGE,
        product_id,
        price: PRICE,
        stock: STOCK,
    };
    let (runs, proxy) = tokio::join!(work.run(&cluster, &base, &cut, &settled), cutter);
    drop(proxy);

    // Requests that need the database at once (a load, an id block) are answered 503
    // during the cut; appends wait in the group commit's retries, which may bridge it.
    // Either way: no other failure, and requests were in flight while it was cut.
    work.assert_survived(&runs, &cluster.names.database_url)
        .await;
}

/// The query API's database cut: reads answer 503 `unavailable` with Retry-After, never a
/// 500, and serve again once it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_cut_under_the_query_api_answers_503_and_recovers() {
    let cluster = Cluster::new();
    cluster.migrate();
    let (proxy, proxied) = Proxy::for_database(&cluster.names.database_url).await;
    // Redis unreachable too: every read goes to SQL.
    let query = cluster
        .query_api_with(&[
            ("SHOP_DATABASE_URL", &proxied),
            ("SHOP_REDIS_URL", "redis://127.0.0.1:1"),
        ])
        .await;
    let (status, _) = cluster.get(&query, "/v1/products").await;
    assert_eq!(status, StatusCode::OK);

    proxy.cut();
    // (Paths read for the first time: a list read before the cut may be served from the
    // in-process cache, which is the point of the cache.)
    for path in [
        "/v1/products/12345",
        "/v1/users/4242/points",
        "/v1/orders/999",
    ] {
        let response = cluster
            .client
            .get(format!("{}{path}", query.url.as_deref().unwrap()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(response.headers().contains_key("retry-after"), "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "unavailable", "{path}: {body}");
    }
    proxy.restore();
    // The query API recovers once the database is back.
    cluster
        .eventually(&query, "/v1/products", Duration::from_secs(20), |_| true)
        .await;
}

/// One key sent to two command nodes at once, many times over: each command takes effect
/// once, and every success answers the same outcome. A coupon issue races on the coupon's
/// stream (the record is read against the state the batch is decided on); an order races
/// on two new streams (the record's primary key refuses the second placement).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_key_sent_to_two_command_nodes_at_once_takes_effect_once() {
    let cluster = Cluster::new();
    cluster.migrate();
    let nodes = [cluster.command_api().await, cluster.command_api().await];
    let (_, product) = cluster
        .admin_post(
            &nodes[0],
            "/v1/products",
            json!({"name": "latte", "price": 100, "stock": 1_000}),
        )
        .await;
    let product_id = product["productId"].as_i64().unwrap();
    let (_, coupon) = cluster
        .admin_post(
            &nodes[0],
            "/v1/coupons",
            json!({"name": "c", "discount": {"kind": "fixed", "value": 10}, "totalQuantity": 1_000}),
        )
        .await;
    let coupon_id = coupon["couponId"].as_i64().unwrap();
    const USERS: i64 = 20;
    for user in 1..=USERS {
        let url = format!(
            "{}/v1/users/{user}/points/charge",
            nodes[0].url.as_deref().unwrap()
        );
        let response = cluster
            .client
            .post(url)
            .json(&json!({"amount": 10_000}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let send = |node: usize, path: String, key: String, body: Value| {
        let url = format!("{}{path}", nodes[node].url.as_deref().unwrap());
        let client = cluster.client.clone();
        async move {
            let response = client
                .post(url)
                .header("Idempotency-Key", key)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = response.status();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let races = (1..=USERS).map(|user| {
        let send = &send;
        async move {
            let issue = format!("/v1/coupons/{coupon_id}/issue");
            let order =
                json!({"userId": user, "items": [{"productId": product_id, "quantity": 1}]});
            let (a, b, c, d) = tokio::join!(
                send(
                    0,
                    issue.clone(),
                    format!("i-{user}"),
                    json!({"userId": user})
                ),
                send(1, issue, format!("i-{user}"), json!({"userId": user})),
                send(0, "/v1/orders".into(), format!("o-{user}"), order.clone()),
                send(1, "/v1/orders".into(), format!("o-{user}"), order),
            );
            (user, [a, b], [c, d])
        }
    });
    for (user, issues, orders) in join_all(races).await {
        for (answers, success) in [(issues, StatusCode::CREATED), (orders, StatusCode::CREATED)] {
            let ok: Vec<&Value> = answers
                .iter()
                .filter(|(status, _)| *status == success)
                .map(|(_, body)| body)
                .collect();
            assert!(
                !ok.is_empty(),
                "user {user}: nothing went through: {answers:?}"
            );
            assert!(
                ok.windows(2).all(|w| w[0] == w[1]),
                "user {user}: two outcomes {answers:?}"
            );
            for (status, body) in &answers {
                assert!(
                    *status == success
                        || (*status == StatusCode::CONFLICT
                            && body["code"] == "idempotency-key-in-flight"),
                    "user {user}: {status} {body}"
                );
            }
        }
    }
    let store = MySqlEventStore::open(&cluster.names.database_url, 2)
        .await
        .unwrap();
    let product: Product = fold(
        &store as &dyn EventStore,
        &StreamId::product(ProductId::new(product_id).unwrap()),
    )
    .await;
    assert_eq!(product.stock(), 1_000 - USERS, "one order per key");
    for user in 1..=USERS {
        let wallet: Wallet = fold(
            &store as &dyn EventStore,
            &StreamId::wallet(UserId::new(user).unwrap()),
        )
        .await;
        assert_eq!(
            wallet.balance().won(),
            10_000 - 100,
            "user {user} paid once"
        );
    }
}

/// A database that cannot be reached is reported with its URL, never with its password.
#[test]
fn an_unreachable_database_is_reported_without_its_password() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_shop"))
        .arg("migrate")
        .env(
            "SHOP_DATABASE_URL",
            "mysql://shop:hunter2secret@127.0.0.1:1/shop",
        )
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        printed.contains("mysql://shop:***@127.0.0.1:1/shop"),
        "{printed}"
    );
    assert!(!printed.contains("hunter2secret"), "{printed}");
}

/// SIGTERM to a command node under keyed load: it stops taking requests, answers the ones
/// in flight, waits for its saga drivers, and exits 0; every acknowledged charge and order
/// is in the store, and nothing is there twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_exits_0_and_loses_nothing_acknowledged() {
    const USERS: i64 = 16;
    let cluster = Cluster::new();
    cluster.migrate();
    let mut node = cluster.command_api().await;
    let base = node.url.clone().unwrap();
    let (_, product) = cluster
        .admin_post(
            &node,
            "/v1/products",
            json!({"name": "latte", "price": 10, "stock": 1_000_000}),
        )
        .await;
    let product_id = product["productId"].as_i64().unwrap();
    let sent = Arc::new(AtomicUsize::new(0));
    let clients = (1..=USERS).map(|user| {
        let (cluster, base, sent) = (&cluster, &base, &sent);
        async move {
            // (acknowledged charges, acknowledged orders, requests whose answer was lost)
            let (mut charged, mut ordered, mut unknown) = (0, 0, 0);
            for round in 0.. {
                let charge = cluster
                    .client
                    .post(format!("{base}/v1/users/{user}/points/charge"))
                    .header("Idempotency-Key", format!("c-{user}-{round}"))
                    .json(&json!({"amount": 100}))
                    .send()
                    .await;
                sent.fetch_add(1, Ordering::SeqCst);
                match charge {
                    Ok(response) if response.status() == StatusCode::OK => charged += 1,
                    Ok(response) => panic!("charge answered {}", response.status()),
                    Err(error) if error.is_connect() => break,
                    Err(_) => unknown += 1,
                }
                let order = cluster
                    .client
                    .post(format!("{base}/v1/orders"))
                    .header("Idempotency-Key", format!("o-{user}-{round}"))
                    .json(&json!({"userId": user, "items": [{"productId": product_id, "quantity": 1}]}))
                    .send()
                    .await;
                match order {
                    Ok(response) if response.status() == StatusCode::CREATED => ordered += 1,
                    Ok(response) => panic!("order answered {}", response.status()),
                    Err(error) if error.is_connect() => break,
                    Err(_) => unknown += 1,
                }
            }
            (user, charged, ordered, unknown)
        }
    });
    let terminate = async {
        while sent.load(Ordering::SeqCst) < (USERS * 20) as usize {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let pid = node.child.id().to_string();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(status.success());
    };
    let (runs, ()) = tokio::join!(join_all(clients), terminate);
    let exited = tokio::task::block_in_place(|| node.child.wait()).unwrap();
    assert!(exited.success(), "the command API exited with {exited}");

    let store = MySqlEventStore::open(&cluster.names.database_url, 2)
        .await
        .unwrap();
    let product: Product = fold(
        &store as &dyn EventStore,
        &StreamId::product(ProductId::new(product_id).unwrap()),
    )
    .await;
    let mut orders_acknowledged = 0;
    let mut orders_unknown = 0;
    for (user, charged, ordered, unknown) in runs {
        let wallet: Wallet = fold(
            &store as &dyn EventStore,
            &StreamId::wallet(UserId::new(user).unwrap()),
        )
        .await;
        let balance = wallet.balance().won();
        let least = charged * 100 - (ordered + unknown) * 10;
        let most = (charged + unknown) * 100 - ordered * 10;
        assert!(
            (least..=most).contains(&balance),
            "user {user}: balance {balance}, acknowledged {charged} charges and {ordered} orders, {unknown} lost answers"
        );
        orders_acknowledged += ordered;
        orders_unknown += unknown;
    }
    let sold = 1_000_000 - product.stock();
    assert!(
        (orders_acknowledged..=orders_acknowledged + orders_unknown).contains(&sold),
        "{sold} units sold for {orders_acknowledged} acknowledged orders"
    );
}
