//! `GET /v1/products/search` against real `shop` processes, embedded (SQLite, the
//! in-process feed) and full (MariaDB, Kafka projectors): Korean, English and mixed
//! queries over names chosen to collide, with the exact results and their order; a new
//! product found as soon as its Consistency-Token's wait returns; bad queries refused;
//! `shop rebuild search` under live queries and registrations.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use crate::cluster;
use crate::embedded_process;

use projections::open_read_db;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Registered in this order; the names collide on purpose (`라떼` inside a compound, as
/// a word, alone; `latte` alone, first, last).
const CATALOG: [&str; 8] = [
    "라떼",
    "카페라떼",
    "바닐라 라떼",
    "latte",
    "Latte Macchiato",
    "바닐라 Latte",
    "아이스 아메리카노",
    "Cheesecake",
];

/// Each query and the names it must answer, best first (all of them: the page is large
/// enough), and so the total.
const EXPECTED: [(&str, &[&str]); 15] = [
    // The whole name, then a word of it, then inside a compound.
    ("라떼", &["라떼", "바닐라 라떼", "카페라떼"]),
    ("카페", &["카페라떼"]),
    ("페라", &["카페라떼"]),
    // Spaces do not matter to Korean: the whole name without its space.
    ("바닐라라떼", &["바닐라 라떼"]),
    ("바닐라", &["바닐라 라떼", "바닐라 Latte"]),
    // The whole name, then names beginning with it (shorter first), then a word of one.
    ("latte", &["latte", "Latte Macchiato", "바닐라 Latte"]),
    ("latt", &["latte", "Latte Macchiato", "바닐라 Latte"]),
    ("LATTE", &["latte", "Latte Macchiato", "바닐라 Latte"]),
    ("latte macchiato", &["Latte Macchiato"]),
    ("Macchiato LATTE", &["Latte Macchiato"]),
    // Mixed Hangul and Latin: every word must be in the name.
    ("바닐라 latte", &["바닐라 Latte"]),
    ("바닐라 latt", &["바닐라 Latte"]),
    // One character: its name's beginning, a word's, then insides, shorter first.
    ("라", &["라떼", "바닐라 라떼", "카페라떼", "바닐라 Latte"]),
    ("mocha", &[]),
    ("?!", &[]),
];

struct Api {
    client: Client,
    command: String,
    query: String,
    admin_token: &'static str,
}

impl Api {
    /// Registers a product; its id and Consistency-Token.
    async fn register(&self, name: &str) -> (i64, String) {
        let response = self
            .client
            .post(format!("{}/v1/products", self.command))
            .bearer_auth(self.admin_token)
            .json(&json!({"name": name, "price": 5_000, "stock": 10}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED, "registering {name}");
        let token = consistency_token(&response);
        let body: Value = response.json().await.unwrap();
        (body["productId"].as_i64().unwrap(), token)
    }

    async fn search(&self, params: &[(&str, &str)], token: Option<&str>) -> (StatusCode, Value) {
        let mut request = self
            .client
            .get(format!("{}/v1/products/search", self.query))
            .query(params);
        if let Some(token) = token {
            request = request.header("Consistency-Token", token);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Waits, through searches sent with them, until every write `tokens` name is in the
    /// index. Across Kafka a token covers its own stream only (the projection's partitions
    /// move independently), so the last registration's token does not cover the others.
    async fn wait_for<'a>(&self, tokens: impl IntoIterator<Item = &'a str>) {
        for token in tokens {
            let (status, body) = self.search(&[("q", "a"), ("size", "1")], Some(token)).await;
            assert_eq!(status, StatusCode::OK, "{token}: {body}");
        }
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        let response = self
            .client
            .get(format!("{}{path}", self.query))
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    }
}

fn consistency_token(response: &reqwest::Response) -> String {
    response.headers()["consistency-token"]
        .to_str()
        .unwrap()
        .to_owned()
}

fn names(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {body}"))
        .iter()
        .map(|item| item["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Registers the catalog and checks every expected query; returns the ids by name.
async fn ranks_korean_english_and_mixed_queries(api: &Api) -> Vec<(String, i64)> {
    let mut ids = Vec::new();
    let mut tokens = Vec::new();
    for name in CATALOG {
        let (id, written) = api.register(name).await;
        ids.push((name.to_owned(), id));
        tokens.push(written);
    }
    api.wait_for(tokens.iter().map(String::as_str)).await;
    let token = tokens.last().cloned().unwrap_or_default();
    for (q, expected) in EXPECTED {
        let (status, body) = api.search(&[("q", q), ("size", "100")], Some(&token)).await;
        assert_eq!(status, StatusCode::OK, "{q}: {body}");
        assert_eq!(names(&body), expected, "{q}: {body}");
        assert_eq!(body["total"], expected.len(), "{q}: {body}");
        assert_eq!(
            (body["page"].clone(), body["size"].clone()),
            (json!(0), json!(100))
        );
    }
    // A hit shows the product as the catalog does.
    let (_, body) = api.search(&[("q", "Cheesecake")], Some(&token)).await;
    let cheesecake = ids.iter().find(|(name, _)| name == "Cheesecake").unwrap().1;
    assert_eq!(
        body,
        json!({"items": [{"productId": cheesecake, "name": "Cheesecake", "price": 5000, "stock": 10}],
               "page": 0, "size": 20, "total": 1})
    );
    // Pages: the same order cut in pieces, the total on each, also past the end.
    let (_, first) = api.search(&[("q", "라"), ("size", "3")], None).await;
    assert_eq!(names(&first), ["라떼", "바닐라 라떼", "카페라떼"]);
    let (_, second) = api
        .search(&[("q", "라"), ("page", "1"), ("size", "3")], None)
        .await;
    assert_eq!(names(&second), ["바닐라 Latte"]);
    let (status, past) = api
        .search(&[("q", "라"), ("page", "7"), ("size", "3")], None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((names(&past).len(), past["total"].clone()), (0, json!(4)));
    ids
}

async fn refuses_bad_queries(api: &Api) {
    let long = "라".repeat(101);
    let cases: [&[(&str, &str)]; 6] = [
        &[],
        &[("q", "")],
        &[("q", "   ")],
        &[("q", &long)],
        &[("q", "latte"), ("size", "0")],
        &[("q", "latte"), ("page", "-1")],
    ];
    for params in cases {
        let (status, body) = api.search(params, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{params:?}: {body}");
        assert_eq!(body["code"], "validation-failed", "{params:?}: {body}");
    }
    let hundred = "라".repeat(100);
    let (status, body) = api.search(&[("q", &hundred)], None).await;
    assert_eq!((status, body["total"].clone()), (StatusCode::OK, json!(0)));
    // A forged token is refused here as on every query route.
    let (status, body) = api.search(&[("q", "latte")], Some("999999999")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "consistency-token-unknown", "{body}");
}

/// Each new product is in the answer of the search sent with its token, at once.
async fn finds_a_new_product_once_its_token_wait_returns(api: &Api) {
    for n in 0..20 {
        let name = format!("말차 프라페 {n}호");
        let (id, token) = api.register(&name).await;
        let (status, body) = api
            .search(&[("q", &format!("프라페{n}호"))], Some(&token))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["items"][0]["productId"], id, "{name}: {body}");
        assert_eq!(body["items"][0]["name"], name.as_str());
    }
}

/// A restock moves the stock a search shows: the query API keeps stock in memory and
/// follows the row, which the projection numbers anew when its stock moves.
async fn shows_a_restock_once_its_token_wait_returns(api: &Api) {
    let (id, token) = api.register("Stock Probe").await;
    let (_, body) = api.search(&[("q", "stock probe")], Some(&token)).await;
    assert_eq!(body["items"][0]["stock"], 10, "{body}");
    for (quantity, expected) in [(5, 15), (1, 16)] {
        let response = api
            .client
            .post(format!("{}/v1/products/{id}/restock", api.command))
            .bearer_auth(api.admin_token)
            .json(&json!({ "quantity": quantity }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "restocking {id}");
        let token = consistency_token(&response);
        let (_, body) = api.search(&[("q", "stock probe")], Some(&token)).await;
        assert_eq!(
            (
                body["items"][0]["productId"].clone(),
                body["items"][0]["stock"].clone(),
                body["total"].clone()
            ),
            (json!(id), json!(expected), json!(1)),
            "{body}"
        );
    }
}

/// `rebuild` (a `shop rebuild search`) while searches and registrations go on: every
/// search answers 200 throughout; afterwards the damaged index is whole again and every
/// product registered meanwhile is found.
async fn rebuild_under_live_queries(
    api: Arc<Api>,
    read_db_url: &str,
    rebuild: impl FnOnce() -> Output + Send + 'static,
) {
    let live = open_read_db(read_db_url).await.unwrap();
    // Damage only a rebuild repairs: the product `라떼` loses its row, and a stock is off
    // (numbered anew, as the projection does, so the query API follows it).
    for statement in [
        "DELETE FROM search_products WHERE name = '라떼'",
        "UPDATE search_head SET seq = seq + 1 WHERE id = 1",
        "UPDATE search_products SET stock = 999, \
         seq = (SELECT seq FROM search_head WHERE id = 1) WHERE name = '카페라떼'",
    ] {
        sqlx::query(statement).execute(&live).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (_, damaged) = api.search(&[("q", "카페라떼")], None).await;
    assert_eq!(damaged["items"][0]["stock"], 999, "{damaged}");

    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let reader = {
        let (api, stop, answered) = (api.clone(), stop.clone(), answered.clone());
        tokio::spawn(async move {
            let queries = ["latt", "바닐라", "카페", "라떼", "새 상품"];
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let q = queries[n % queries.len()];
                let (status, body) = api.search(&[("q", q)], None).await;
                assert_eq!(status, StatusCode::OK, "{q} during the rebuild: {body}");
                assert!(body["items"].is_array(), "{body}");
                answered.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
        })
    };
    let writer = {
        let (api, stop) = (api.clone(), stop.clone());
        tokio::spawn(async move {
            let mut registered = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let n = registered.len();
                registered.push(api.register(&format!("새 상품 {n}번")).await);
            }
            registered
        })
    };
    let output = tokio::task::spawn_blocking(rebuild).await.unwrap();
    stop.store(true, Ordering::Relaxed);
    reader.await.unwrap();
    let registered = writer.await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "shop rebuild search failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("rebuilt search at position"), "{stdout}");
    let reads = answered.load(Ordering::Relaxed);
    eprintln!(
        "{stdout}during the rebuild: {reads} searches, {} registrations",
        registered.len()
    );
    assert!(reads > 0);

    let (_, token) = registered
        .last()
        .cloned()
        .unwrap_or_else(|| (0, "1".to_owned()));
    api.wait_for(registered.iter().map(|(_, token)| token.as_str()))
        .await;
    let (_, repaired) = api.search(&[("q", "라떼")], Some(&token)).await;
    assert_eq!(
        names(&repaired),
        ["라떼", "바닐라 라떼", "카페라떼"],
        "{repaired}"
    );
    assert_eq!(repaired["items"][2]["stock"], 10, "{repaired}");
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM search_products WHERE name = '라떼'")
        .fetch_one(&live)
        .await
        .unwrap();
    assert_eq!(rows, 1, "the rebuilt copy has the deleted row again");
    let size = (registered.len() + 1).to_string();
    let (_, found) = api
        .search(&[("q", "새 상품"), ("size", &size)], Some(&token))
        .await;
    let mut ids: Vec<i64> = found["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["productId"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    let mut expected: Vec<i64> = registered.iter().map(|(id, _)| *id).collect();
    expected.sort_unstable();
    assert_eq!(
        ids, expected,
        "every product registered during the rebuild is found"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_search_ranks_finds_new_products_and_survives_a_rebuild() {
    let data = tempfile::tempdir().unwrap();
    let node = embedded_process::start(data.path(), &[]).await;
    let api = Arc::new(Api {
        client: Client::new(),
        command: node.command.clone(),
        query: node.query.clone(),
        admin_token: embedded_process::ADMIN_TOKEN,
    });
    ranks_korean_english_and_mixed_queries(&api).await;
    refuses_bad_queries(&api).await;
    finds_a_new_product_once_its_token_wait_returns(&api).await;
    shows_a_restock_once_its_token_wait_returns(&api).await;

    let (status, ready) = api.get("/readyz").await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(
        serde_json::from_str::<Value>(&ready).unwrap()["checks"]["search"],
        "ok"
    );
    let (_, metrics) = api.get("/metrics").await;
    assert!(
        metrics.contains(r#"shop_projection_events_total{projection="search"}"#),
        "the search projection's progress is exported"
    );

    // The query API's document has the route, with what it accepts.
    let (_, document) = api.get("/openapi.json").await;
    let document: Value = serde_json::from_str(&document).unwrap();
    let operation = &document["paths"]["/v1/products/search"]["get"];
    assert_eq!(operation["operationId"], "searchProducts", "{operation}");
    let q = operation["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "q")
        .unwrap();
    assert_eq!(
        (
            q["required"].clone(),
            q["schema"]["minLength"].clone(),
            q["schema"]["maxLength"].clone()
        ),
        (json!(true), json!(1), json!(100)),
        "{q}"
    );

    let settings = shop::Settings::embedded_in(data.path());
    let database_url = settings.database_url.expose().to_owned();
    rebuild_under_live_queries(api, &settings.read_model_url(), move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_shop"))
            .args(["rebuild", "search"])
            .env("SHOP_DATABASE_URL", database_url)
            .env("SHOP_LOG", "warn")
            .output()
            .unwrap()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn full_search_ranks_finds_new_products_and_survives_a_rebuild() {
    let cluster = Arc::new(cluster::Cluster::new());
    cluster.migrate();
    let stack = cluster.full_stack().await;
    let api = Arc::new(Api {
        client: Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        command: stack.command.url.clone().unwrap(),
        query: stack.query.url.clone().unwrap(),
        admin_token: cluster::ADMIN_TOKEN,
    });
    ranks_korean_english_and_mixed_queries(&api).await;
    refuses_bad_queries(&api).await;
    finds_a_new_product_once_its_token_wait_returns(&api).await;
    shows_a_restock_once_its_token_wait_returns(&api).await;
    let (status, ready) = api.get("/readyz").await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(
        serde_json::from_str::<Value>(&ready).unwrap()["checks"]["search"],
        "ok"
    );

    let runner = cluster.clone();
    let database_url = cluster.names.database_url.clone();
    rebuild_under_live_queries(api, &database_url, move || {
        runner.run(&["rebuild", "search"], &[])
    })
    .await;
}
