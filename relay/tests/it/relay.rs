//! The outbox relay against real MariaDB and Kafka (`scripts/services.sh up`): fresh
//! database and topic prefix per test. Services that are down fail these tests; they are
//! never skipped. `SHOP_TEST_MYSQL_URL` (default `mysql://shop:shop@127.0.0.1:3306`) and
//! `SHOP_TEST_KAFKA_BROKERS` (default `127.0.0.1:9092`) name the servers.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use crate::relay_support;

use chrono::{TimeZone, Utc};
use event_store::EventStore;
use events::coupon::CouponIssued;
use events::wallet::PointsChargedV1;
use events::{CouponId, Krw, NewEvent, UserId};
use rand::Rng;
use relay::{NoLeaderLock, RelayConfig};
use relay_support::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const READER: &str = "relay";

fn jitter(max_ms: u64) -> Duration {
    Duration::from_millis(rand::rng().random_range(0..=max_ms))
}

/// Many writers, conflicting on shared streams, plus hand-written transactions that take
/// a position and commit 200-500 ms later, all while the relay runs. Every event must
/// arrive exactly once, each stream in version order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_and_late_commits_arrive_exactly_once_in_order() {
    let store = fresh_store().await;
    let prefix = fresh_prefix();
    let lock = mysql_lock(&store, READER);
    let relay = spawn_relay(store.clone(), lock, relay_config(&prefix));

    let writers = (0..40i64).map(|task| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut conflicts = 0;
            for i in 0..20i64 {
                tokio::time::sleep(jitter(8)).await;
                // A quarter of the appends race on five shared streams.
                conflicts += match (task + i) % 4 {
                    0 => append_one(&*store, &wallet(1 + i % 5), charge(1 + i % 5, 10, None)).await,
                    1 => append_one(&*store, &product(100 + task), restock(100 + task, 1)).await,
                    _ => {
                        append_one(&*store, &wallet(1000 + task), charge(1000 + task, 5, None))
                            .await
                    }
                };
            }
            conflicts
        })
    });
    let late = (0..4i64).map(|k| {
        let pool = store.pool().clone();
        tokio::spawn(async move {
            tokio::time::sleep(jitter(600)).await;
            let hold = Duration::from_millis(200) + jitter(300);
            // Two of them share a stream with ordinary writers.
            slow_raw_append(&pool, if k < 2 { 1 + k } else { 2000 + k }, hold).await;
        })
    });
    let (writers, late) = tokio::join!(
        futures::future::join_all(writers),
        futures::future::join_all(late)
    );
    let conflicts: usize = writers.into_iter().map(Result::unwrap).sum();
    assert!(
        conflicts > 0,
        "the shared streams should have seen conflicts"
    );
    late.into_iter().for_each(Result::unwrap);

    wait_until_published(&store, READER).await;
    relay.stop().await;
    println!("{conflicts} conflicts retried");

    let (ids, versions) = stored(&store).await;
    assert_eq!(ids.len(), 40 * 20 + 4);
    let received = consume_all(&prefix, &["wallet", "product"]).await;
    assert_complete_and_ordered(&prefix, &received, &ids, &versions);
    let duplicated: Vec<_> = deliveries(&received)
        .into_iter()
        .filter(|(_, count)| *count > 1)
        .collect();
    assert!(duplicated.is_empty(), "sent more than once: {duplicated:?}");
    assert_eq!(received.len(), ids.len());
}

/// A relay killed mid-stream, after Kafka acknowledged a batch but before its checkpoint
/// moved, loses nothing: the next one publishes that batch again and carries on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_relay_killed_mid_stream_is_resumed_from_its_checkpoint() {
    let store = fresh_store().await;
    let prefix = fresh_prefix();
    let config = RelayConfig {
        batch_size: 7,
        ..relay_config(&prefix)
    };
    // Enough events already there that the first nine batches are full ones.
    for i in 0..70 {
        append_one(&*store, &wallet(1 + i % 3), charge(1 + i % 3, 1, None)).await;
    }
    let stalling = Arc::new(StallingCheckpoints::new(store.clone(), 8));
    let first = spawn_relay(stalling.clone(), mysql_lock(&store, READER), config.clone());

    let writers: Vec<_> = (0..8i64)
        .map(|task| {
            let store = store.clone();
            tokio::spawn(async move {
                for _ in 0..40 {
                    tokio::time::sleep(jitter(10)).await;
                    append_one(
                        &*store,
                        &wallet(1 + task % 3),
                        charge(1 + task % 3, 1, None),
                    )
                    .await;
                }
            })
        })
        .collect();
    tokio::time::timeout(WAIT, stalling.stalled.notified())
        .await
        .expect("the relay publishes nine batches");
    first.task.abort();
    assert!(first.task.await.unwrap_err().is_cancelled());
    let at_crash = store.load_checkpoint(READER).await.unwrap();
    assert_eq!(at_crash, 8 * 7);
    assert_eq!(*first.progress.published().borrow(), at_crash);

    for task in futures::future::join_all(writers).await {
        task.unwrap();
    }
    for i in 0..30 {
        append_one(&*store, &product(1 + i % 2), restock(1 + i % 2, 3)).await;
    }

    // The killed relay's lock connection went with it, so this one can lead.
    let second = spawn_relay(store.clone(), mysql_lock(&store, READER), config);
    wait_until_published(&store, READER).await;
    second.stop().await;

    let (ids, versions) = stored(&store).await;
    let received = consume_all(&prefix, &["wallet", "product"]).await;
    assert_complete_and_ordered(&prefix, &received, &ids, &versions);
    // Exactly the batch Kafka took but the checkpoint never recorded went out twice.
    let counts = deliveries(&received);
    let mut twice: Vec<i64> = received
        .iter()
        .filter(|m| counts[&m.event_id()] == 2)
        .map(|m| m.header("global-position").parse().unwrap())
        .collect();
    twice.sort();
    twice.dedup();
    assert_eq!(twice, (at_crash + 1..=at_crash + 7).collect::<Vec<_>>());
    assert_eq!(received.len(), ids.len() + 7);
}

/// Two relays on one store: only the lock holder publishes; when it stops, the other takes
/// over from the checkpoint. Nothing missing, nothing more than twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_relays_take_turns_and_only_the_leader_publishes() {
    let store = fresh_store().await;
    let prefix = fresh_prefix();
    let a = spawn_relay(
        store.clone(),
        mysql_lock(&store, READER),
        relay_config(&prefix),
    );
    let b = spawn_relay(
        store.clone(),
        mysql_lock(&store, READER),
        relay_config(&prefix),
    );

    let appended = Arc::new(AtomicUsize::new(0));
    let write = |rounds: i64| {
        let store = store.clone();
        let appended = appended.clone();
        tokio::spawn(async move {
            for i in 0..rounds {
                tokio::time::sleep(Duration::from_millis(5)).await;
                append_one(&*store, &wallet(1 + i % 4), charge(1 + i % 4, 1, None)).await;
                appended.fetch_add(1, Ordering::Relaxed);
            }
        })
    };

    // Both running: sample who leads while events flow.
    let writer = write(300);
    let (mut both, mut one) = (0, 0);
    while !writer.is_finished() {
        match (a.leading(), b.leading()) {
            (true, true) => both += 1,
            (true, false) | (false, true) => one += 1,
            (false, false) => {}
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    writer.await.unwrap();
    assert_eq!(both, 0, "both relays led at once");
    assert!(one > 0, "nobody led");
    wait_until_published(&store, READER).await;
    let (leader, standby) = if a.leading() { (a, b) } else { (b, a) };
    assert!(!standby.leading());
    assert_eq!(
        *standby.progress.published().borrow(),
        0,
        "the standby must not have published"
    );

    // The leader goes away; the standby takes over and publishes what follows.
    leader.stop().await;
    let writer = write(100);
    let mut leading = standby.progress.leading();
    tokio::time::timeout(Duration::from_secs(5), leading.wait_for(|l| *l))
        .await
        .expect("the standby takes over")
        .unwrap();
    writer.await.unwrap();
    wait_until_published(&store, READER).await;
    assert!(*standby.progress.published().borrow() > 0);
    standby.stop().await;

    let (ids, versions) = stored(&store).await;
    assert_eq!(ids.len(), appended.load(Ordering::Relaxed));
    let received = consume_all(&prefix, &["wallet"]).await;
    assert_complete_and_ordered(&prefix, &received, &ids, &versions);
    let most = deliveries(&received).into_values().max().unwrap();
    assert!(most <= 2, "an event was published {most} times");
}

/// A leader whose lock connection breaks stops, takes the lock again, and carries on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_leader_that_loses_its_lock_connection_steps_down_and_recovers() {
    let store = fresh_store().await;
    let prefix = fresh_prefix();
    let lock = mysql_lock(&store, READER);
    let lock_name = lock.name().to_owned();
    let relay = spawn_relay(store.clone(), lock, relay_config(&prefix));
    let mut leading = relay.progress.leading();
    tokio::time::timeout(Duration::from_secs(5), leading.wait_for(|l| *l))
        .await
        .unwrap()
        .unwrap();
    for i in 0..20 {
        append_one(&*store, &wallet(1 + i % 2), charge(1 + i % 2, 1, None)).await;
    }

    let holder: Option<i64> = sqlx::query_scalar("SELECT IS_USED_LOCK(?)")
        .bind(&lock_name)
        .fetch_one(store.pool())
        .await
        .unwrap();
    let holder = holder.expect("the leader holds the lock");
    sqlx::query(sqlx::AssertSqlSafe(format!("KILL CONNECTION {holder}")))
        .execute(store.pool())
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), leading.wait_for(|l| !*l))
        .await
        .expect("the relay notices it lost the lock")
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), leading.wait_for(|l| *l))
        .await
        .expect("the relay takes the lock again")
        .unwrap();
    let new_holder: Option<i64> = sqlx::query_scalar("SELECT IS_USED_LOCK(?)")
        .bind(&lock_name)
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert!(new_holder.is_some_and(|id| id != holder));

    for i in 0..20 {
        append_one(&*store, &wallet(1 + i % 2), charge(1 + i % 2, 1, None)).await;
    }
    wait_until_published(&store, READER).await;
    relay.stop().await;
    let (ids, versions) = stored(&store).await;
    let received = consume_all(&prefix, &["wallet"]).await;
    assert_complete_and_ordered(&prefix, &received, &ids, &versions);
}

/// With Kafka unreachable nothing is checkpointed, and the relay still stops on request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_kafka_never_moves_the_checkpoint() {
    let store = fresh_store().await;
    for i in 0..5 {
        append_one(&*store, &wallet(1), charge(1, 1 + i, None)).await;
    }
    let config = RelayConfig {
        brokers: "127.0.0.1:1".to_owned(),
        delivery_timeout: Duration::from_millis(500),
        ..relay_config(&fresh_prefix())
    };
    let relay = spawn_relay(store.clone(), NoLeaderLock, config);
    // Long enough for several failed deliveries and back-offs.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !relay.task.is_finished(),
        "a Kafka outage is retried, not fatal"
    );
    assert_eq!(store.load_checkpoint(READER).await.unwrap(), 0);
    assert_eq!(*relay.progress.published().borrow(), 0);
    relay.stop().await;
}

/// What a downstream consumer in any language relies on: topic, key, headers and the
/// camelCase JSON value, read without the `events` crate. An event stored in an old schema
/// goes out in the current one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn downstream_consumers_get_the_documented_json_and_headers() {
    let store = fresh_store().await;
    let prefix = fresh_prefix();
    let issued_at = Utc
        .with_ymd_and_hms(2026, 11, 25, 1, 2, 3)
        .single()
        .unwrap();
    let issued = coupon_issued(CouponIssued {
        coupon_id: CouponId::new(3).unwrap(),
        user_id: UserId::new(42).unwrap(),
        user_coupon_id: user_coupon(1001),
        sequence: 1,
        issued_at,
    });
    let charged = charge(42, 50_000, Some("7f1c0d"));
    let old_charge = NewEvent {
        schema_version: 1,
        payload: postcard::to_stdvec(&PointsChargedV1 {
            user_id: UserId::new(42).unwrap(),
            amount: Krw::new(700).unwrap(),
        })
        .unwrap(),
        ..charge(42, 1, None)
    };
    store
        .append(&coupon(3), 0, std::slice::from_ref(&issued))
        .await
        .unwrap();
    store
        .append(&wallet(42), 0, &[charged.clone(), old_charge.clone()])
        .await
        .unwrap();
    let relay = spawn_relay(store.clone(), NoLeaderLock, relay_config(&prefix));
    wait_until_published(&store, READER).await;
    relay.stop().await;

    let received = consume_all(&prefix, &["coupon", "wallet"]).await;
    assert_eq!(received.len(), 3);
    let coupon_message = &received[0];
    assert_eq!(coupon_message.topic, format!("{prefix}coupon"));
    assert_eq!(coupon_message.key, "coupon-3");
    assert_eq!(
        coupon_message.value,
        serde_json::json!({
            "couponId": 3,
            "userId": 42,
            "userCouponId": 1001,
            "sequence": 1,
            "issuedAt": "2026-11-25T01:02:03Z"
        })
    );
    let expect_headers = |message: &Received, event: &NewEvent, version: &str, schema: &str| {
        // Ten of shop's own and six CloudEvents attributes; these events have no trace.
        assert_eq!(message.headers.len(), 16, "{:?}", message.headers);
        assert_eq!(message.header("ce_id"), event.event_id.to_string());
        assert_eq!(message.header("event-type"), event.event_type);
        assert_eq!(message.header("schema-version"), schema);
        assert_eq!(message.header("event-id"), event.event_id.to_string());
        assert_eq!(message.header("stream-id"), message.key);
        assert_eq!(message.header("stream-version"), version);
        assert!(message.header("global-position").parse::<i64>().unwrap() > 0);
        assert_eq!(
            message.header("correlation-id"),
            event.metadata.correlation_id.to_string()
        );
        assert_eq!(
            message.header("causation-id"),
            event.metadata.causation_id.to_string()
        );
        assert_eq!(message.header("content-type"), "application/json");
        let recorded_at = message.header("recorded-at");
        let parsed = chrono::DateTime::parse_from_rfc3339(recorded_at).unwrap();
        assert!(
            (Utc::now() - parsed.with_timezone(&Utc))
                .num_minutes()
                .abs()
                < 5
        );
    };
    expect_headers(coupon_message, &issued, "1", "1");
    assert_eq!(coupon_message.header("event-type"), "CouponIssued");

    let wallet_messages = &received[1..];
    assert!(
        wallet_messages
            .iter()
            .all(|m| m.topic == format!("{prefix}wallet"))
    );
    assert!(wallet_messages.iter().all(|m| m.key == "wallet-42"));
    assert_eq!(
        wallet_messages[0].value,
        serde_json::json!({"userId": 42, "amount": 50000, "idempotencyKey": "7f1c0d"})
    );
    expect_headers(&wallet_messages[0], &charged, "1", "2");
    assert_eq!(wallet_messages[0].header("event-type"), "PointsCharged");
    // Stored as v1; Kafka carries v2 with the field the upcast fills in.
    assert_eq!(
        wallet_messages[1].value,
        serde_json::json!({"userId": 42, "amount": 700, "idempotencyKey": null})
    );
    expect_headers(&wallet_messages[1], &old_charge, "2", "2");
    let positions: Vec<i64> = received
        .iter()
        .map(|m| m.header("global-position").parse().unwrap())
        .collect();
    assert_eq!(positions, [1, 2, 3]);
}
