//! `rebuild_redis_views` against real Redis and Kafka: a blue/green rebuild of every hot
//! view while the live `redis-views` projector keeps consuming events appended meanwhile
//! and a reader keeps reading; afterwards the views equal a from-scratch projection and
//! nothing of the rebuild is left. Also: the pause flag holds every kind of view update
//! back, and a rebuild that finds the flag taken leaves everything as it was.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use crate::kafka_support;

use crate::feed_support;
use async_trait::async_trait;
use chrono::Utc;
use chrono_tz::Tz;
use events::order::{OrderCancelled, OrderCompleted, OrderPaid, OrderPlaced, OrderStockReserved};
use events::*;
use kafka_support::history::{History, Recorded, charge, message, shop_history};
use kafka_support::model::Model;
use kafka_support::{TestEnv, WAIT, redis_url};
use projections::{EventFeed, FeedError, ProjectionError, RebuildProgress, rebuild_redis_views};
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const SEOUL: Tz = chrono_tz::Asia::Seoul;

/// The event store: what the relay has published is in here first. Each read takes
/// `read_delay`, as from a database across the network, so a rebuild lasts long enough
/// for events to be appended and projected meanwhile, the pause included.
struct StoreFeed {
    events: Mutex<Vec<RecordedEvent>>,
    read_delay: Duration,
}

impl StoreFeed {
    fn of(history: &History, read_delay: Duration) -> Self {
        Self {
            events: Mutex::new(history.events.iter().map(recorded).collect()),
            read_delay,
        }
    }

    fn append(&self, event: &Recorded) {
        self.events.lock().unwrap().push(recorded(event));
    }
}

fn recorded(event: &Recorded) -> RecordedEvent {
    feed_support::recorded(
        event.position,
        event.stream.clone(),
        event.version,
        &event.event,
    )
}

#[async_trait]
impl EventFeed for StoreFeed {
    async fn read_after(&self, after: i64, limit: usize) -> Result<Vec<RecordedEvent>, FeedError> {
        tokio::time::sleep(self.read_delay).await;
        Ok(feed_support::after(
            &self.events.lock().unwrap(),
            after,
            limit,
        ))
    }

    async fn wait_past(&self, _after: i64) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    async fn head(&self) -> Option<i64> {
        self.events
            .lock()
            .unwrap()
            .last()
            .map(|e| e.global_position)
    }
}

enum Outcome {
    Completed,
    Cancelled,
    Pending,
}

/// One order's stream: placed, then the saga's steps to `outcome`. Completed now, so its
/// day key is today's in Seoul and far from expiring.
fn push_order(history: &mut History, order: i64, product: i64, quantity: i64, outcome: Outcome) {
    let order_id = OrderId::new(order).unwrap();
    let user_id = UserId::new(order % 7 + 1).unwrap();
    let lines = vec![OrderLine {
        product_id: ProductId::new(product).unwrap(),
        quantity,
        unit_price: Krw::new(1_000).unwrap(),
    }];
    let total = Krw::new(quantity * 1_000).unwrap();
    let mut events: Vec<OrderEvent> = vec![
        OrderPlaced {
            order_id,
            user_id,
            lines: lines.clone(),
            user_coupon_id: None,
            total_amount: total,
            placed_at: Utc::now(),
        }
        .into(),
        OrderStockReserved { order_id }.into(),
    ];
    match outcome {
        Outcome::Completed => events.extend([
            OrderPaid {
                order_id,
                paid_amount: total,
            }
            .into(),
            OrderCompleted {
                order_id,
                user_id,
                lines,
                total_amount: total,
                discount_amount: Krw::ZERO,
                paid_amount: total,
                completed_at: Utc::now(),
            }
            .into(),
        ]),
        Outcome::Cancelled => events.push(
            OrderCancelled {
                order_id,
                reason: CancelReason::InsufficientBalance,
                cancelled_at: Utc::now(),
            }
            .into(),
        ),
        Outcome::Pending => {}
    }
    for event in events {
        history.push(StreamId::order(order_id), DomainEvent::Order(event));
    }
}

/// Wallets, products, coupons (more than one read batch of the rebuild) and orders with
/// completions, cancellations and pending ones.
fn base_history() -> History {
    let mut history = shop_history(60, 100);
    for order in 1..=30 {
        let outcome = match order % 5 {
            0 => Outcome::Cancelled,
            1 => Outcome::Pending,
            _ => Outcome::Completed,
        };
        push_order(&mut history, order, 7 + order % 2, order % 3 + 1, outcome);
    }
    history
}

#[derive(Debug, PartialEq)]
enum View {
    Hash(BTreeMap<String, String>),
    /// Members with scores, and the expiry (Unix seconds; -1 without one).
    Ranking(Vec<(String, i64)>, i64),
    Text(String),
}

/// Every key under `prefix`, without the prefix, with its value.
async fn snapshot(redis: &mut MultiplexedConnection, prefix: &str) -> BTreeMap<String, View> {
    let keys: Vec<String> = redis.keys(format!("{prefix}*")).await.unwrap();
    let mut views = BTreeMap::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE")
            .arg(&key)
            .query_async(redis)
            .await
            .unwrap();
        let view = match kind.as_str() {
            "hash" => View::Hash(redis.hgetall(&key).await.unwrap()),
            "zset" => {
                let members: Vec<(String, i64)> =
                    redis.zrange_withscores(&key, 0, -1).await.unwrap();
                let expires: i64 = redis::cmd("EXPIRETIME")
                    .arg(&key)
                    .query_async(redis)
                    .await
                    .unwrap();
                View::Ranking(members, expires)
            }
            "string" => View::Text(redis.get(&key).await.unwrap()),
            // Expired between KEYS and TYPE.
            "none" => continue,
            other => panic!("{key} is a {other}"),
        };
        views.insert(key[prefix.len()..].to_owned(), view);
    }
    views
}

async fn exists(env: &mut TestEnv, name: &str) -> bool {
    env.redis
        .exists(format!("{}{name}", env.redis_prefix))
        .await
        .unwrap()
}

/// Waits until every order view is there at its stream's last version.
async fn wait_for_orders(env: &mut TestEnv, history: &History) {
    let mut last: BTreeMap<String, i64> = BTreeMap::new();
    for event in &history.events {
        if event.stream.category() == "order" {
            let id = event.stream.as_str().split_once('-').unwrap().1.to_owned();
            last.insert(id, event.version);
        }
    }
    let deadline = Instant::now() + WAIT;
    for (order, version) in last {
        loop {
            let v: Option<i64> = env
                .redis
                .hget(format!("{}order:{order}", env.redis_prefix), "v")
                .await
                .unwrap();
            if v == Some(version) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "order {order} at {v:?}, not {version}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Appends events (one charge, and every fifth time a whole order) to the store and then
/// to Kafka, the way the relay publishes them, until `done`, then `after` more times.
/// Returns the history with them and how many were appended while the rebuild ran.
async fn append_meanwhile(
    env: &TestEnv,
    feed: &StoreFeed,
    mut history: History,
    done: &AtomicBool,
    after: u64,
) -> (History, u64) {
    let mut during = 0;
    let mut extra = 0;
    let mut step: i64 = 0;
    while extra < after {
        if done.load(Ordering::SeqCst) {
            extra += 1;
        } else {
            during += 1;
        }
        step += 1;
        let already = history.events.len();
        charge(&mut history, step % 60 + 1, step);
        if step % 5 == 0 {
            push_order(&mut history, 1_000 + step, 7, 1, Outcome::Completed);
        }
        let appended = &history.events[already..];
        for event in appended {
            feed.append(event);
        }
        env.produce(&appended.iter().map(message).collect::<Vec<_>>())
            .await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    (history, during)
}

/// Reads a balance view on a connection of its own until `done`; returns (reads, misses).
async fn read_meanwhile(key: String, done: Arc<AtomicBool>) -> (u64, u64) {
    let mut redis = redis::Client::open(redis_url())
        .unwrap()
        // The client's 500 ms default is too short for a loaded CI machine: a slow
        // answer is not what these tests are about.
        .get_multiplexed_async_connection_with_config(
            &redis::AsyncConnectionConfig::new()
                .set_response_timeout(Some(std::time::Duration::from_secs(10))),
        )
        .await
        .unwrap();
    let (mut reads, mut misses) = (0, 0);
    while !done.load(Ordering::SeqCst) {
        let balance: Option<String> = redis.hget(&key, "balance").await.unwrap();
        reads += 1;
        if balance.is_none() {
            misses += 1;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    (reads, misses)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rebuild_under_a_live_projector_ends_equal_to_a_projection_from_scratch() {
    let mut env = TestEnv::new().await;
    let history = base_history();
    let feed = Arc::new(StoreFeed::of(&history, Duration::from_millis(100)));
    env.produce(&history.messages()).await;
    let shutdown = CancellationToken::new();
    let handles = env.spawn(Some(env.views()), &shutdown);
    env.wait_for(&Model::of(&history, &env.redis_prefix), true)
        .await;
    wait_for_orders(&mut env, &history).await;

    // Redis drifts from the store: a wrong balance, a lost product view, an order and a
    // day that never were, and the copy of a rebuild that crashed.
    let p = env.redis_prefix.clone();
    let _: () = env
        .redis
        .hset(format!("{p}balance:1"), "balance", 999_999)
        .await
        .unwrap();
    let _: () = env.redis.del(format!("{p}product:8")).await.unwrap();
    let _: () = env
        .redis
        .hset_multiple(
            format!("{p}order:999999"),
            &[("orderId", "999999"), ("v", "1")],
        )
        .await
        .unwrap();
    let _: () = env
        .redis
        .zadd(format!("{p}sales:2020-01-01"), 7, 5)
        .await
        .unwrap();
    let _: () = env
        .redis
        .hset_multiple(
            format!("{p}rebuild:balance:424242"),
            &[("balance", "1"), ("v", "1")],
        )
        .await
        .unwrap();

    // The rebuild and the reader on tasks of their own (other worker threads), the
    // appender here: all three at once, besides the projector's own tasks.
    let done = Arc::new(AtomicBool::new(false));
    let batches = Arc::new(AtomicU64::new(0));
    let rebuild = tokio::spawn({
        let (views, feed, done, batches) =
            (env.views(), feed.clone(), done.clone(), batches.clone());
        async move {
            let progress = move |_: RebuildProgress| {
                batches.fetch_add(1, Ordering::SeqCst);
            };
            let report = rebuild_redis_views(&views, feed.as_ref(), SEOUL, &progress).await;
            done.store(true, Ordering::SeqCst);
            report
        }
    });
    let reader = tokio::spawn(read_meanwhile(format!("{p}balance:1"), done.clone()));
    let (history, appended_during) = append_meanwhile(&env, &feed, history, &done, 20).await;
    let report = rebuild.await.unwrap().unwrap();
    let (reads, misses) = reader.await.unwrap();

    assert!(
        appended_during > 0,
        "events were appended during the rebuild"
    );
    assert!(reads > 0);
    assert_eq!(
        misses, 0,
        "the balance view was missing in {misses} of {reads} reads"
    );
    assert!(
        report.events >= base_history().events.len() as u64,
        "{report:?}"
    );
    assert!(
        batches.load(Ordering::SeqCst) >= 2,
        "more than one batch was read"
    );
    // The bogus order and day; the projector never had a product:8 to lose.
    assert_eq!(report.stale_keys_removed, 2, "{report:?}");
    assert!(report.keys_swapped > 60 + 4 + 30, "{report:?}");
    assert!(report.events_per_second() > 0.0);
    let leftovers: Vec<String> = env.redis.keys(format!("{p}rebuild:*")).await.unwrap();
    assert_eq!(
        leftovers,
        Vec::<String>::new(),
        "the copy is all renamed or deleted"
    );
    assert!(
        !exists(&mut env, "views:rebuilding").await,
        "the pause flag is down"
    );
    assert!(exists(&mut env, "sales:ready").await);
    assert!(!exists(&mut env, "order:999999").await);
    assert!(!exists(&mut env, "sales:2020-01-01").await);
    assert!(
        !exists(&mut env, "balance:424242").await,
        "a crashed copy is never swapped in"
    );

    // Once the projector has caught up: exact (independently worked out for balances,
    // products and coupons), and equal to a projection from scratch of the same history,
    // orders and day keys included.
    env.wait_for(&Model::of(&history, &p), true).await;
    wait_for_orders(&mut env, &history).await;
    let mut scratch = TestEnv::new().await;
    scratch.produce(&history.messages()).await;
    let scratch_shutdown = CancellationToken::new();
    let scratch_handles = scratch.spawn(Some(scratch.views()), &scratch_shutdown);
    scratch
        .wait_for(&Model::of(&history, &scratch.redis_prefix), true)
        .await;
    wait_for_orders(&mut scratch, &history).await;
    let deadline = Instant::now() + WAIT;
    loop {
        let rebuilt = snapshot(&mut env.redis, &p).await;
        let fresh = snapshot(&mut scratch.redis, &scratch.redis_prefix).await;
        if rebuilt == fresh {
            break;
        }
        if Instant::now() > deadline {
            let differing: Vec<_> = rebuilt
                .keys()
                .chain(fresh.keys())
                .filter(|k| rebuilt.get(*k) != fresh.get(*k))
                .map(|k| (k, rebuilt.get(k), fresh.get(k)))
                .collect();
            panic!("rebuilt views differ from a projection from scratch: {differing:#?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    shutdown.cancel();
    scratch_shutdown.cancel();
    handles.join().await;
    scratch_handles.join().await;
    env.clean_up().await;
    scratch.clean_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pause_flag_holds_wallet_product_and_coupon_updates_back() {
    let mut env = TestEnv::new().await;
    let history = shop_history(3, 4);
    let flag = format!("{}views:rebuilding", env.redis_prefix);
    let _: () = env.redis.set(&flag, 1).await.unwrap();
    env.produce(&history.messages()).await;
    let shutdown = CancellationToken::new();
    let handles = env.spawn(Some(env.views()), &shutdown);

    // The SQL projectors go on; the views wait, and the projector keeps retrying.
    let lag = handles.lag()["redis-views"].clone();
    let deadline = Instant::now() + WAIT;
    while lag.borrow().errors < 2 {
        assert!(
            Instant::now() < deadline,
            "the projector never met the flag"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut keys: Vec<String> = env
        .redis
        .keys(format!("{}*", env.redis_prefix))
        .await
        .unwrap();
    keys.retain(|key| *key != flag && !key.ends_with(":sales:ready"));
    assert_eq!(
        keys,
        Vec::<String>::new(),
        "no view was written under the flag"
    );
    assert_eq!(lag.borrow().events, 0);

    let _: () = env.redis.del(&flag).await.unwrap();
    env.wait_for(&Model::of(&history, &env.redis_prefix), true)
        .await;
    shutdown.cancel();
    handles.join().await;
    env.clean_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_that_finds_the_flag_taken_leaves_everything_as_it_was() {
    let mut env = TestEnv::new().await;
    let p = env.redis_prefix.clone();
    let _: () = env
        .redis
        .hset_multiple(format!("{p}balance:1"), &[("balance", "5"), ("v", "9")])
        .await
        .unwrap();
    let _: () = env
        .redis
        .set(format!("{p}views:rebuilding"), 1)
        .await
        .unwrap();
    let feed = StoreFeed::of(&shop_history(2, 3), Duration::ZERO);

    let error = rebuild_redis_views(&env.views(), &feed, SEOUL, &|_| {})
        .await
        .unwrap_err();
    assert!(matches!(error, ProjectionError::Rebuild { .. }), "{error}");
    let leftovers: Vec<String> = env.redis.keys(format!("{p}rebuild:*")).await.unwrap();
    assert_eq!(leftovers, Vec::<String>::new(), "its copy is deleted");
    assert!(
        exists(&mut env, "views:rebuilding").await,
        "the other's flag stays"
    );
    let balance: BTreeMap<String, String> =
        env.redis.hgetall(format!("{p}balance:1")).await.unwrap();
    assert_eq!(balance["balance"], "5");
    env.clean_up().await;
}
