//! The query API's search over a real read database, SQLite and MariaDB, with the rows
//! written by hand as the search projection writes them: the in-memory index follows new
//! rows by `seq`, a search with a Consistency-Token sees a row committed before it, and a
//! new generation (what a rebuild swaps in) makes it reload instead of following.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use crate::support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use read_side::{QueryState, WatchProgress, router};
use serde_json::Value;
use sqlx::{AnyPool, AssertSqlSafe};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::watch;
use tower::ServiceExt;

/// Inserts a product as the search projection would (folded forms precomputed here).
async fn row(pool: &AnyPool, id: i64, name: &str, stock: i64, seq: i64) {
    let folded = events::search_text::fold_name(name);
    sqlx::query(
        "INSERT INTO search_products (product_id, name, compact, spaced, chars, price, stock, seq) \
         VALUES (?, ?, ?, ?, ?, 5000, ?, ?)",
    )
    .bind(id)
    .bind(name)
    .bind(folded.compact)
    .bind(folded.spaced)
    .bind(folded.chars)
    .bind(stock)
    .bind(seq)
    .execute(pool)
    .await
    .unwrap();
}

async fn head(pool: &AnyPool, generation: &str, seq: i64) {
    sqlx::query("DELETE FROM search_head")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO search_head (id, generation, seq) VALUES (1, ?, ?)")
        .bind(generation)
        .bind(seq)
        .execute(pool)
        .await
        .unwrap();
}

/// GET `uri` with a token the read model has applied (position 5 of 10): the search
/// follows the table first instead of answering from its cache.
async fn search(app: &axum::Router, q: &str) -> (Vec<i64>, Vec<i64>, Value) {
    let uri = format!("/v1/products/search?q={}", url_encode(q));
    let request = Request::get(uri)
        .header("Consistency-Token", "5")
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    let items = body["items"].as_array().unwrap();
    let ids = items
        .iter()
        .map(|i| i["productId"].as_i64().unwrap())
        .collect();
    let stocks = items.iter().map(|i| i["stock"].as_i64().unwrap()).collect();
    (ids, stocks, body["total"].clone())
}

fn url_encode(q: &str) -> String {
    url::form_urlencoded::byte_serialize(q.as_bytes()).collect()
}

async fn follows_new_rows_and_reloads_a_new_generation(pool: AnyPool) {
    let progress = HashMap::from([("search", watch::Sender::new(10).subscribe())]);
    let app = router(QueryState::new(
        pool.clone(),
        Arc::new(WatchProgress::new(progress)),
    ));

    // Nothing registered yet: no head row, no match, no error.
    assert_eq!(search(&app, "라떼").await.0, Vec::<i64>::new());

    head(&pool, "first", 2).await;
    row(&pool, 1, "라떼", 10, 1).await;
    row(&pool, 2, "카페라떼", 10, 2).await;
    assert_eq!(search(&app, "라떼").await.0, [1, 2]);

    // A row committed later, with the next seq: followed, in rank order.
    row(&pool, 3, "바닐라 라떼", 10, 3).await;
    head(&pool, "first", 3).await;
    let (ids, stocks, total) = search(&app, "라떼").await;
    assert_eq!((ids, total), (vec![1, 3, 2], Value::from(3)));
    assert_eq!(stocks, [10, 10, 10]);

    // A stock moved: the projection numbers the row anew, and the index takes the stock.
    sqlx::query("UPDATE search_products SET stock = 4, seq = 4 WHERE product_id = 2")
        .execute(&pool)
        .await
        .unwrap();
    head(&pool, "first", 4).await;
    let (ids, stocks, total) = search(&app, "라떼").await;
    assert_eq!((ids, total), (vec![1, 3, 2], Value::from(3)));
    assert_eq!(stocks, [10, 10, 4]);

    // A rebuilt copy: other seqs, product 2 gone (as a damaged row repaired would be),
    // stock moved. Followed by seq alone, the index would miss all of it.
    sqlx::query("DELETE FROM search_products")
        .execute(&pool)
        .await
        .unwrap();
    row(&pool, 3, "바닐라 라떼", 7, 1).await;
    row(&pool, 1, "라떼", 9, 2).await;
    head(&pool, "second", 2).await;
    let (ids, stocks, total) = search(&app, "라떼").await;
    assert_eq!((ids, total), (vec![1, 3], Value::from(2)));
    assert_eq!(stocks, [9, 7]);

    // And it follows the new copy from there.
    row(&pool, 4, "latte", 1, 3).await;
    head(&pool, "second", 3).await;
    assert_eq!(search(&app, "latt").await.0, [4]);
}

#[tokio::test]
async fn sqlite_search_follows_the_table_and_reloads_a_rebuilt_copy() {
    let dir = tempfile::tempdir().unwrap();
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}/read.db?mode=rwc", dir.path().display());
    let pool = AnyPool::connect(&url).await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(include_str!(
        "../../../migrations/sqlite/read/0004_search.sql"
    )))
    .execute(&pool)
    .await
    .unwrap();
    follows_new_rows_and_reloads_a_new_generation(pool).await;
}

#[tokio::test]
async fn mysql_search_follows_the_table_and_reloads_a_rebuilt_copy() {
    let stack = support::FullStack::new().await;
    stack
        .sql(include_str!("../../../migrations/mysql/0006_search.sql"))
        .await;
    follows_new_rows_and_reloads_a_new_generation(stack.pool.clone()).await;
}
