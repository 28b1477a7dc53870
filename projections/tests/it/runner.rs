//! The projector runtime on a real SQLite read database: read models are right, a restart
//! resumes from the checkpoint, and nothing is applied twice.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use crate::feed_support::{VecFeed, recorded as support_recorded};
use chrono::Utc;
use events::coupon::{CouponIssued, CouponRegistered};
use events::product::{ProductRegistered, ProductRestocked, StockReserved};
use events::wallet::PointsCharged;
use events::*;
use projections::{open_read_db, spawn_projections};
use sqlx::AnyPool;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

fn recorded(position: i64, stream: StreamId, event: DomainEvent) -> RecordedEvent {
    // One stream per event in these tests' histories: its version is its position.
    support_recorded(position, stream, position, &event)
}

fn history() -> Vec<RecordedEvent> {
    let user = UserId::new(1).unwrap();
    let product = ProductId::new(7).unwrap();
    let coupon = CouponId::new(3).unwrap();
    let mut events = vec![
        DomainEvent::Product(
            ProductRegistered {
                product_id: product,
                name: "Tumbler".into(),
                price: Krw::new(25_000).unwrap(),
                stock: 10,
            }
            .into(),
        ),
        DomainEvent::Product(
            ProductRestocked {
                product_id: product,
                quantity: 5,
            }
            .into(),
        ),
        DomainEvent::Product(
            StockReserved {
                product_id: product,
                order_id: OrderId::new(1).unwrap(),
                quantity: 3,
            }
            .into(),
        ),
        DomainEvent::Coupon(
            CouponRegistered {
                coupon_id: coupon,
                name: "Rush".into(),
                discount: Discount {
                    kind: DiscountKind::Percent,
                    value: 10,
                },
                total_quantity: 30,
                valid_from: None,
                valid_until: None,
            }
            .into(),
        ),
        DomainEvent::Coupon(
            CouponIssued {
                coupon_id: coupon,
                user_id: user,
                user_coupon_id: UserCouponId::new(100).unwrap(),
                sequence: 1,
                issued_at: Utc::now(),
            }
            .into(),
        ),
    ];
    // Enough charges to span several projector batches.
    for _ in 0..4_500 {
        events.push(DomainEvent::Wallet(
            PointsCharged {
                user_id: user,
                amount: Krw::new(2).unwrap(),
                idempotency_key: None,
            }
            .into(),
        ));
    }
    events
        .into_iter()
        .enumerate()
        .map(|(i, event)| recorded(i as i64 + 1, StreamId::wallet(user), event))
        .collect()
}

async fn project_all(pool: &AnyPool, feed: Arc<VecFeed>) {
    let last = feed.0.last().unwrap().global_position;
    let shutdown = CancellationToken::new();
    let handles = spawn_projections(pool.clone(), feed, chrono_tz::Asia::Seoul, shutdown.clone());
    for (_, mut progress) in handles.progress() {
        tokio::time::timeout(Duration::from_secs(10), progress.wait_for(|p| *p >= last))
            .await
            .expect("projection caught up")
            .unwrap();
    }
    shutdown.cancel();
    handles.join().await;
}

async fn read_models(pool: &AnyPool) -> (i64, i64, i64, i64) {
    let balance: i64 = sqlx::query_scalar("SELECT balance FROM balances WHERE user_id = 1")
        .fetch_one(pool)
        .await
        .unwrap();
    let stock: i64 = sqlx::query_scalar("SELECT stock FROM products WHERE product_id = 7")
        .fetch_one(pool)
        .await
        .unwrap();
    let issued: i64 = sqlx::query_scalar("SELECT issued_quantity FROM coupons WHERE coupon_id = 3")
        .fetch_one(pool)
        .await
        .unwrap();
    let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM user_coupons WHERE user_id = 1")
        .fetch_one(pool)
        .await
        .unwrap();
    (balance, stock, issued, held)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_models_are_right_and_a_restart_applies_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/read.db", dir.path().display());
    let feed = Arc::new(VecFeed(history()));

    let pool = open_read_db(&url).await.unwrap();
    project_all(&pool, feed.clone()).await;
    assert_eq!(read_models(&pool).await, (9_000, 12, 1, 1));
    pool.close().await;

    // A restart on the same database re-reads the same feed from its checkpoints.
    let pool = open_read_db(&url).await.unwrap();
    project_all(&pool, feed).await;
    assert_eq!(read_models(&pool).await, (9_000, 12, 1, 1));
}

#[tokio::test]
async fn an_undecodable_event_stops_the_projection_instead_of_being_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/read.db", dir.path().display());
    let mut events = history();
    events.truncate(3);
    events[1].payload = vec![0xff; 3];
    let pool = open_read_db(&url).await.unwrap();
    let shutdown = CancellationToken::new();
    let handles = spawn_projections(
        pool.clone(),
        Arc::new(VecFeed(events)),
        chrono_tz::Asia::Seoul,
        shutdown.clone(),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let catalog = *handles.progress()["catalog"].borrow();
    assert_eq!(
        catalog, 0,
        "the catalog moved past an event it could not read"
    );
    shutdown.cancel();
    handles.join().await;
}
