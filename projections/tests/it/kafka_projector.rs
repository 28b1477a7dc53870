//! The Kafka projectors against real MariaDB, Kafka and Redis: read models and views end
//! exact, a redelivered history changes nothing, a projector killed mid-stream and started
//! again ends exact, and a Redis that is down holds back only the Redis views.
//! Messages are produced here in the relay's contract, so these tests do not need it.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use crate::kafka_support;

use events::coupon::CouponIssued;
use events::product::ProductRestocked;
use events::{CouponId, DomainEvent, ProductId, StreamId, UserCouponId, UserId};
use kafka_support::history::{History, charge, order_message, shop_history};
use kafka_support::model::Model;
use kafka_support::{TestEnv, WAIT};
use projections::RedisViews;
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// One more event on every stream of `history`. Each lands after that stream's earlier
/// messages in its partition, so once all of them show, every duplicate before them has
/// been consumed too.
fn one_more_event_per_stream(history: &mut History) {
    let streams: BTreeSet<StreamId> = history.events.iter().map(|e| e.stream.clone()).collect();
    for stream in streams {
        let id: i64 = stream.as_str().split_once('-').unwrap().1.parse().unwrap();
        match stream.category() {
            "wallet" => charge(history, id, 7),
            "product" => history.push(
                stream,
                DomainEvent::Product(
                    ProductRestocked {
                        product_id: ProductId::new(id).unwrap(),
                        quantity: 2,
                    }
                    .into(),
                ),
            ),
            "coupon" => history.push(
                stream,
                DomainEvent::Coupon(
                    CouponIssued {
                        coupon_id: CouponId::new(id).unwrap(),
                        user_id: UserId::new(900).unwrap(),
                        user_coupon_id: UserCouponId::new(9_000 + id).unwrap(),
                        sequence: 99,
                        issued_at: chrono::Utc::now(),
                    }
                    .into(),
                ),
            ),
            other => panic!("no extra event for {other}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_models_are_exact_and_a_redelivered_history_changes_nothing() {
    let mut env = TestEnv::new().await;
    let mut history = shop_history(40, 50);
    let mut first = history.messages();
    first.push(order_message(9001));
    env.produce(&first).await;

    let shutdown = CancellationToken::new();
    let handles = env.spawn(Some(env.views()), &shutdown);
    env.wait_for(&Model::of(&history, &env.redis_prefix), true)
        .await;

    // Kafka delivers everything again (a relay that re-published after a crash), then
    // one new event per stream.
    let already = history.events.len();
    one_more_event_per_stream(&mut history);
    env.produce(&first).await;
    env.produce(&history.messages()[already..]).await;
    env.wait_for(&Model::of(&history, &env.redis_prefix), true)
        .await;

    let wallet_view: std::collections::BTreeMap<String, String> =
        redis::AsyncCommands::hgetall(&mut env.redis, format!("{}balance:1", env.redis_prefix))
            .await
            .unwrap();
    assert_eq!(wallet_view["v"], "51", "v is the wallet stream's version");

    let lag = handles.lag();
    let names: BTreeSet<&str> = lag.keys().copied().collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "balances",
            "catalog",
            "coupons",
            "orders",
            "sales",
            "search",
            "redis-views"
        ])
    );
    for (name, lag) in &lag {
        let lag = lag.borrow().clone();
        assert!(lag.events > 0, "{name} counted no events");
        assert!(lag.event_age.is_some(), "{name} measured no lag");
        assert_eq!(lag.errors, 0, "{name} failed on the way: {lag:?}");
    }
    shutdown.cancel();
    handles.join().await;
    env.clean_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projector_killed_mid_stream_and_started_again_ends_exact() {
    let mut env = TestEnv::new().await;
    let history = shop_history(40, 100);
    let messages = history.messages();
    let (before, after) = messages.split_at(messages.len() * 3 / 5);
    env.produce(before).await;

    let projector = env.spawn_crashable().await;
    // Kill it as soon as the biggest projection has committed something, most of the
    // history still ahead of it.
    let deadline = Instant::now() + WAIT;
    loop {
        let applied: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM projected_streams WHERE projection = 'balances'",
        )
        .fetch_one(&env.pool)
        .await
        .unwrap();
        if applied > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the projector wrote nothing");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    projector.crash();
    assert_ne!(
        env.sql().await.balances,
        Model::of(&history, &env.redis_prefix).sql.balances,
        "the projector finished before it was killed; the test proves nothing"
    );
    // A killed process commits no offsets on its way out: everything it applied since
    // its last commit comes again. Worst case, all of it.
    env.forget_offsets().await;

    env.produce(after).await;
    let shutdown = CancellationToken::new();
    let handles = env.spawn(Some(env.views()), &shutdown);
    env.wait_for(&Model::of(&history, &env.redis_prefix), true)
        .await;
    let duplicates: u64 = handles
        .lag()
        .values()
        .map(|lag| lag.borrow().duplicates)
        .sum();
    assert!(
        duplicates > 0,
        "nothing was delivered twice; the test proves nothing"
    );
    shutdown.cancel();
    handles.join().await;
    env.clean_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_is_down_holds_back_only_the_redis_views() {
    let mut env = TestEnv::new().await;
    let history = shop_history(5, 20);
    env.produce(&history.messages()).await;

    // Nothing listens on port 1.
    let down = RedisViews::connect("redis://127.0.0.1:1", &env.redis_prefix).unwrap();
    let shutdown = CancellationToken::new();
    let handles = env.spawn(Some(down), &shutdown);
    let mut expected = Model::of(&history, &env.redis_prefix);
    expected.redis.clear();
    env.wait_for(&expected, true).await;

    let mut views = handles.lag()["redis-views"].clone();
    let tried = tokio::time::timeout(WAIT, views.wait_for(|lag| lag.errors > 0))
        .await
        .is_ok();
    assert!(tried, "the views projector never tried");
    let views = views.borrow().clone();
    assert_eq!(views.events, 0, "views cannot have been written: {views:?}");
    shutdown.cancel();
    handles.join().await;
    env.clean_up().await;
}
