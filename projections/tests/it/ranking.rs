//! Orders and the sales ranking, projected from order events: the embedded runner on
//! SQLite, and the Kafka projectors on MariaDB + Redis with redelivery; `rebuild_ranking`
//! reproduces the same ranking from the store and swaps it in under live projectors.
//! Completions straddle midnight in Asia/Seoul (15:00 UTC), so a day in UTC would differ.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use crate::feed_support::{VecFeed, recorded};
use crate::kafka_support;

use chrono::{DateTime, Duration as Span, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use events::order::{
    OrderCancelled, OrderCompleted, OrderCouponApplied, OrderPaid, OrderPlaced, OrderStockReserved,
};
use events::*;
use kafka_support::history::History;
use kafka_support::{TestEnv, WAIT};
use projections::{open_read_db, rebuild_ranking, spawn_projections};
use redis::AsyncCommands;
use sqlx::AnyPool;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const SEOUL: Tz = chrono_tz::Asia::Seoul;

/// Midnight today in Seoul, as a UTC instant (the ranking's day boundary). Relative to
/// now so the Redis day keys, which expire 40 days after their day, are not born expired.
fn seoul_midnight() -> DateTime<Utc> {
    let today = Utc::now().with_timezone(&SEOUL).date_naive();
    SEOUL
        .from_local_datetime(&today.and_hms_opt(0, 0, 0).unwrap())
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

fn won(amount: i64) -> Krw {
    Krw::new(amount).unwrap()
}

fn lines(items: &[(i64, i64)]) -> Vec<OrderLine> {
    items
        .iter()
        .map(|(product, quantity)| OrderLine {
            product_id: ProductId::new(*product).unwrap(),
            quantity: *quantity,
            unit_price: won(1_000),
        })
        .collect()
}

enum Outcome {
    Completed(DateTime<Utc>),
    Cancelled(CancelReason),
    Pending,
}

/// One order's stream: placed, then the saga's steps to `outcome`.
fn order_events(
    order: i64,
    items: &[(i64, i64)],
    discount: i64,
    outcome: Outcome,
) -> Vec<DomainEvent> {
    let order_id = OrderId::new(order).unwrap();
    let total: i64 = items.iter().map(|(_, q)| q * 1_000).sum();
    let placed_at = seoul_midnight() - Span::hours(1);
    let mut events: Vec<OrderEvent> = vec![
        OrderPlaced {
            order_id,
            user_id: UserId::new(42).unwrap(),
            lines: lines(items),
            user_coupon_id: None,
            total_amount: won(total),
            placed_at,
        }
        .into(),
    ];
    match outcome {
        Outcome::Completed(at) => {
            events.push(OrderStockReserved { order_id }.into());
            if discount > 0 {
                events.push(
                    OrderCouponApplied {
                        order_id,
                        user_coupon_id: UserCouponId::new(order).unwrap(),
                        coupon_id: CouponId::new(1).unwrap(),
                        discount_amount: won(discount),
                    }
                    .into(),
                );
            }
            events.push(
                OrderPaid {
                    order_id,
                    paid_amount: won(total - discount),
                }
                .into(),
            );
            events.push(
                OrderCompleted {
                    order_id,
                    user_id: UserId::new(42).unwrap(),
                    lines: lines(items),
                    total_amount: won(total),
                    discount_amount: won(discount),
                    paid_amount: won(total - discount),
                    completed_at: at,
                }
                .into(),
            );
        }
        Outcome::Cancelled(reason) => events.push(
            OrderCancelled {
                order_id,
                reason,
                cancelled_at: placed_at,
            }
            .into(),
        ),
        Outcome::Pending => events.push(OrderStockReserved { order_id }.into()),
    }
    events.into_iter().map(DomainEvent::Order).collect()
}

/// Five orders, their streams interleaved as concurrent sagas would be: two completed the
/// second before Seoul's midnight, two at and after it, one cancelled, one pending.
fn order_history() -> History {
    let midnight = seoul_midnight();
    let streams = vec![
        (
            1,
            order_events(
                1,
                &[(7, 2), (8, 1)],
                0,
                Outcome::Completed(midnight - Span::seconds(1)),
            ),
        ),
        (
            2,
            order_events(2, &[(7, 3)], 500, Outcome::Completed(midnight)),
        ),
        (
            3,
            order_events(
                3,
                &[(8, 5)],
                0,
                Outcome::Cancelled(CancelReason::InsufficientBalance),
            ),
        ),
        (4, order_events(4, &[(9, 1)], 0, Outcome::Pending)),
        (
            5,
            order_events(
                5,
                &[(8, 4)],
                0,
                Outcome::Completed(midnight + Span::hours(3)),
            ),
        ),
    ];
    let mut history = History::default();
    let longest = streams.iter().map(|(_, e)| e.len()).max().unwrap();
    for step in 0..longest {
        for (order, events) in &streams {
            if let Some(event) = events.get(step) {
                history.push(
                    StreamId::order(OrderId::new(*order).unwrap()),
                    event.clone(),
                );
            }
        }
    }
    history
}

fn today() -> NaiveDate {
    Utc::now().with_timezone(&SEOUL).date_naive()
}

fn day(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// (day, product) -> units, as `order_history` must leave `daily_sales`.
fn expected_sales() -> BTreeMap<(String, i64), i64> {
    let today = day(today());
    let yesterday = day(today_minus(1));
    BTreeMap::from([
        ((yesterday.clone(), 7), 2),
        ((yesterday, 8), 1),
        ((today.clone(), 7), 3),
        ((today, 8), 4),
    ])
}

fn today_minus(days: u64) -> NaiveDate {
    today().checked_sub_days(chrono::Days::new(days)).unwrap()
}

async fn daily_sales(pool: &AnyPool) -> BTreeMap<(String, i64), i64> {
    // CAST: MySQL's DATE column reads as text on both backends.
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT CAST(sold_date AS CHAR), product_id, sold_quantity FROM daily_sales",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter().map(|(d, p, q)| ((d, p), q)).collect()
}

type OrderRow = (i64, String, i64, i64, i64, Option<String>);

async fn orders(pool: &AnyPool) -> Vec<OrderRow> {
    sqlx::query_as(
        "SELECT order_id, status, total_amount, discount_amount, paid_amount, reason \
         FROM orders ORDER BY order_id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

fn expected_orders() -> Vec<OrderRow> {
    vec![
        (1, "COMPLETED".into(), 3_000, 0, 3_000, None),
        (2, "COMPLETED".into(), 3_000, 500, 2_500, None),
        (
            3,
            "CANCELLED".into(),
            5_000,
            0,
            0,
            Some("insufficient-balance".into()),
        ),
        (4, "PENDING".into(), 1_000, 0, 0, None),
        (5, "COMPLETED".into(), 4_000, 0, 4_000, None),
    ]
}

/// The history as the event store would hand it out.
fn feed_of(history: &History) -> VecFeed {
    VecFeed(
        history
            .events
            .iter()
            .map(|r| recorded(r.position, r.stream.clone(), r.version, &r.event))
            .collect(),
    )
}

async fn project_embedded(pool: &AnyPool, feed: Arc<VecFeed>) {
    let last = feed.0.last().unwrap().global_position;
    let shutdown = CancellationToken::new();
    let handles = spawn_projections(pool.clone(), feed, SEOUL, shutdown.clone());
    for (_, mut progress) in handles.progress() {
        tokio::time::timeout(Duration::from_secs(10), progress.wait_for(|p| *p >= last))
            .await
            .expect("projection caught up")
            .unwrap();
    }
    shutdown.cancel();
    handles.join().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_orders_and_daily_sales_count_each_completion_once_on_its_seoul_day() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/read.db", dir.path().display());
    let feed = Arc::new(feed_of(&order_history()));
    let pool = open_read_db(&url).await.unwrap();
    project_embedded(&pool, feed.clone()).await;
    assert_eq!(orders(&pool).await, expected_orders());
    assert_eq!(daily_sales(&pool).await, expected_sales());
    let lines: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM order_lines")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(lines, 6);

    // A restart reads the feed again from its checkpoints: nothing counts twice.
    project_embedded(&pool, feed.clone()).await;
    assert_eq!(daily_sales(&pool).await, expected_sales());

    // A rebuild from the same store gives the same table and leaves the checkpoint where
    // the live projector goes on without counting anything again.
    let report = rebuild_ranking(&pool, feed.as_ref(), None, SEOUL, &|_| {})
        .await
        .unwrap();
    assert_eq!((report.completions, report.rows, report.orders), (3, 4, 5));
    assert_eq!(daily_sales(&pool).await, expected_sales());
    project_embedded(&pool, feed).await;
    assert_eq!(daily_sales(&pool).await, expected_sales());
}

/// Day key -> (product -> units) under the test's prefix.
async fn redis_sales(env: &mut TestEnv) -> BTreeMap<(String, i64), i64> {
    let mut sales = BTreeMap::new();
    for date in [today_minus(1), today()] {
        let key = format!("{}sales:{}", env.redis_prefix, day(date));
        let members: Vec<(String, f64)> = env.redis.zrange_withscores(&key, 0, -1).await.unwrap();
        for (product, units) in members {
            sales.insert((day(date), product.parse().unwrap()), units as i64);
        }
    }
    sales
}

async fn wait_for_sales(
    env: &mut TestEnv,
    expected: &BTreeMap<(String, i64), i64>,
    orders_count: usize,
) {
    let deadline = Instant::now() + WAIT;
    loop {
        let sql = daily_sales(&env.pool).await;
        let redis = redis_sales(env).await;
        let orders_done = orders(&env.pool).await.len() == orders_count;
        if &sql == expected && &redis == expected && orders_done {
            return;
        }
        if Instant::now() > deadline {
            assert_eq!(&sql, expected, "daily_sales");
            assert_eq!(&redis, expected, "Redis day keys");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_redelivery_and_a_rebuild_count_each_completion_once_in_sql_and_redis() {
    let mut env = TestEnv::new().await;
    let mut history = order_history();
    let messages = history.messages();
    env.produce(&messages).await;
    let shutdown = CancellationToken::new();
    let handles = env.spawn(Some(env.views()), &shutdown);
    let expected = expected_sales();
    wait_for_sales(&mut env, &expected, 5).await;
    assert_eq!(orders(&env.pool).await, expected_orders());

    // Kafka delivers everything again: the guards admit none of it.
    env.produce(&messages).await;
    let order3: BTreeMap<String, String> = env
        .redis
        .hgetall(format!("{}order:3", env.redis_prefix))
        .await
        .unwrap();
    assert_eq!(order3["status"], "CANCELLED");
    assert_eq!(order3["reason"], "insufficient-balance");
    let ready: bool = env
        .redis
        .exists(format!("{}sales:ready", env.redis_prefix))
        .await
        .unwrap();
    assert!(ready, "the projector marks the Redis ranking ready");

    // Rebuild from the store while the projectors run, then one more completion; the
    // redelivered copies from before stay counted once.
    let feed = feed_of(&history);
    let views = env.views();
    let report = rebuild_ranking(&env.pool, &feed, Some(&views), SEOUL, &|_| {})
        .await
        .unwrap();
    assert_eq!(report.completions, 3);
    assert_eq!(daily_sales(&env.pool).await, expected);
    assert_eq!(redis_sales(&mut env).await, expected);

    let already = history.events.len();
    for event in order_events(
        6,
        &[(9, 2)],
        0,
        Outcome::Completed(seoul_midnight() + Span::hours(1)),
    ) {
        history.push(StreamId::order(OrderId::new(6).unwrap()), event);
    }
    env.produce(&messages).await;
    env.produce(&history.messages()[already..]).await;
    let mut expected = expected;
    expected.insert((day(today()), 9), 2);
    wait_for_sales(&mut env, &expected, 6).await;

    // Settle: whatever was still in flight must not change the counts.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(daily_sales(&env.pool).await, expected);
    assert_eq!(redis_sales(&mut env).await, expected);
    shutdown.cancel();
    handles.join().await;
    env.clean_up().await;
}
