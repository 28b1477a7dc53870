//! The executor against a real SQLite store: arrival order, two nodes racing on one
//! stream, idempotent charges, and replay from snapshots.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use chrono::Utc;
use event_store::EventStore;
use event_store::sqlite::{Durability, SqliteEventStore};
use events::{CouponId, Discount, DiscountKind, Krw, Metadata, StreamId, UserId};
use futures::future::join_all;
use std::sync::Arc;
use write_side::domain::coupon::{Coupon, CouponCommand, CouponError};
use write_side::domain::wallet::{Wallet, WalletCommand};
use write_side::executor::{ExecuteError, Executor, ExecutorConfig, Strategy};

async fn open(url: &str) -> Arc<dyn EventStore> {
    Arc::new(
        SqliteEventStore::open(url, Durability::Normal)
            .await
            .unwrap(),
    )
}

fn fresh_url() -> String {
    let dir = tempfile::tempdir().unwrap().keep();
    format!("sqlite://{}/events.db", dir.display())
}

fn coupon_id() -> CouponId {
    CouponId::new(1).unwrap()
}

async fn register(executor: &Executor<Coupon>, total_quantity: i64) {
    register_coupon(executor, coupon_id(), total_quantity).await;
}

fn issue(user: i64) -> CouponCommand {
    CouponCommand::Issue {
        user_id: UserId::new(user).unwrap(),
        now: Utc::now(),
    }
}

#[tokio::test]
async fn commands_are_decided_in_arrival_order() {
    let executor = Executor::<Coupon>::new(open(&fresh_url()).await, ExecutorConfig::default());
    register(&executor, 30).await;
    // join_all polls the futures in order, so they enter the mailbox in this order.
    let answers = join_all((1..=100).map(|user| {
        executor.execute(
            StreamId::coupon(coupon_id()),
            issue(user),
            Metadata::for_new_command(),
        )
    }))
    .await;
    for (i, answer) in answers.into_iter().enumerate() {
        if i < 30 {
            let reply = answer.unwrap().reply;
            assert_eq!(reply.user_coupon.map(|c| c.sequence), Some(i as i64 + 1));
        } else {
            assert!(matches!(
                answer,
                Err(ExecuteError::Rejected(CouponError::SoldOut))
            ));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_store_still_issue_exactly_the_quantity() {
    let url = fresh_url();
    let config = ExecutorConfig::default();
    let node_a = Executor::<Coupon>::new(open(&url).await, config.clone());
    let node_b = Executor::<Coupon>::new(open(&url).await, config);
    register(&node_a, 30).await;

    let answers = join_all((1..=600).map(|user| {
        let node = if user % 2 == 0 {
            node_a.clone()
        } else {
            node_b.clone()
        };
        tokio::spawn(async move {
            node.execute(
                StreamId::coupon(coupon_id()),
                issue(user),
                Metadata::for_new_command(),
            )
            .await
        })
    }))
    .await;
    let mut sequences = Vec::new();
    for answer in answers {
        match answer.unwrap() {
            Ok(executed) => sequences.push(executed.reply.user_coupon.unwrap().sequence),
            Err(ExecuteError::Rejected(CouponError::SoldOut)) => {}
            Err(other) => panic!("a client saw {other}"),
        }
    }
    sequences.sort_unstable();
    assert_eq!(sequences, (1..=30).collect::<Vec<_>>());

    let stream = open(&url)
        .await
        .read_stream(&StreamId::coupon(coupon_id()), 0)
        .await
        .unwrap();
    let issued = stream
        .iter()
        .filter(|e| e.event_type == "CouponIssued")
        .count();
    assert_eq!(issued, 30);
}

#[tokio::test]
async fn the_direct_strategy_is_exact_too() {
    let config = ExecutorConfig {
        strategy: Strategy::Direct,
        ..ExecutorConfig::default()
    };
    let executor = Executor::<Coupon>::new(open(&fresh_url()).await, config);
    register(&executor, 10).await;
    let answers = join_all((1..=40).map(|user| {
        let executor = executor.clone();
        tokio::spawn(async move {
            executor
                .execute(
                    StreamId::coupon(coupon_id()),
                    issue(user),
                    Metadata::for_new_command(),
                )
                .await
        })
    }))
    .await;
    let won = answers
        .into_iter()
        .filter(|a| matches!(a, Ok(Ok(_))))
        .count();
    assert_eq!(won, 10);
}

async fn register_coupon(executor: &Executor<Coupon>, coupon: CouponId, total_quantity: i64) {
    let command = CouponCommand::Register {
        coupon_id: coupon,
        name: "rush".to_owned(),
        discount: Discount {
            kind: DiscountKind::Fixed,
            value: 1_000,
        },
        total_quantity,
        valid_from: None,
        valid_until: None,
    };
    executor
        .execute(
            StreamId::coupon(coupon),
            command,
            Metadata::for_new_command(),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn an_idle_stream_leaves_memory_and_its_next_command_reloads_it() {
    let config = ExecutorConfig {
        idle_eviction: std::time::Duration::from_millis(50),
        ..ExecutorConfig::default()
    };
    let executor = Executor::<Coupon>::new(open(&fresh_url()).await, config);
    register(&executor, 3).await;
    issue_all(&executor, 1..=2).await;
    assert_eq!(executor.hot_streams(), 1);

    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(executor.hot_streams(), 0, "the idle mailbox left");

    // Decided against the reloaded stream: the holders and the count are still there.
    assert_eq!(
        issue_once(&executor, 1).await,
        Err(CouponError::AlreadyIssued)
    );
    assert_eq!(issue_once(&executor, 3).await, Ok(()));
    assert_eq!(issue_once(&executor, 4).await, Err(CouponError::SoldOut));
    assert_eq!(executor.hot_streams(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_max_hot_aggregates_streams_are_decided_directly_and_exactly() {
    let config = ExecutorConfig {
        max_hot_aggregates: 1,
        ..ExecutorConfig::default()
    };
    let executor = Executor::<Coupon>::new(open(&fresh_url()).await, config);
    let held = coupon_id();
    let overflow = CouponId::new(2).unwrap();
    register_coupon(&executor, held, 5).await;
    register_coupon(&executor, overflow, 5).await;
    assert_eq!(executor.hot_streams(), 1);

    let answers = join_all((1..=40).map(|user| {
        let executor = executor.clone();
        let coupon = if user % 2 == 0 { held } else { overflow };
        tokio::spawn(async move {
            executor
                .execute(
                    StreamId::coupon(coupon),
                    issue(user),
                    Metadata::for_new_command(),
                )
                .await
        })
    }))
    .await;
    let mut won = [0, 0];
    for (i, answer) in answers.into_iter().enumerate() {
        match answer.unwrap() {
            Ok(_) => won[i % 2] += 1,
            Err(ExecuteError::Rejected(CouponError::SoldOut)) => {}
            Err(other) => panic!("a client saw {other}"),
        }
    }
    assert_eq!(won, [5, 5], "each coupon issued exactly its quantity");
    assert_eq!(
        executor.hot_streams(),
        1,
        "the second stream was never held"
    );
}

#[tokio::test]
async fn long_streams_reload_from_a_snapshot() {
    let url = fresh_url();
    let config = ExecutorConfig {
        snapshot_every: 50,
        ..ExecutorConfig::default()
    };
    let store = open(&url).await;
    let user = UserId::new(5).unwrap();
    let executor = Executor::<Wallet>::new(store.clone(), config.clone());
    for _ in 0..120 {
        let charge = WalletCommand::Charge {
            user_id: user,
            amount: Krw::new(10).unwrap(),
            idempotency_key: None,
        };
        executor
            .execute(StreamId::wallet(user), charge, Metadata::for_new_command())
            .await
            .unwrap();
    }
    // Snapshots are written in the background.
    let mut snapshot = None;
    for _ in 0..100 {
        snapshot = store.load_snapshot(&StreamId::wallet(user)).await.unwrap();
        if snapshot.as_ref().is_some_and(|s| s.stream_version >= 100) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(snapshot.map(|s| s.stream_version), Some(100));

    // A fresh node (nothing cached) loads snapshot + tail and decides correctly.
    let fresh = Executor::<Wallet>::new(open(&url).await, config);
    let charge = WalletCommand::Charge {
        user_id: user,
        amount: Krw::new(1).unwrap(),
        idempotency_key: None,
    };
    let executed = fresh
        .execute(StreamId::wallet(user), charge, Metadata::for_new_command())
        .await
        .unwrap();
    assert_eq!(executed.reply.balance, Krw::new(1_201).unwrap());
}

/// A stored snapshot this code did not write as it is (a layout nobody bumped the version
/// for, or bytes that do not decode) is not trusted: the stream is replayed from its
/// start, and the state is the replayed one.
#[tokio::test]
async fn a_snapshot_of_another_layout_or_of_garbage_is_replaced_by_a_replay() {
    use event_store::Snapshot;
    use write_side::domain::snapshot;
    use write_side::domain::{Aggregate, replay};

    let url = fresh_url();
    let store = open(&url).await;
    let executor = Executor::<Wallet>::new(store.clone(), ExecutorConfig::default());
    let charge = |user, won| WalletCommand::Charge {
        user_id: user,
        amount: Krw::new(won).unwrap(),
        idempotency_key: None,
    };
    let (other_layout, garbage) = (UserId::new(1).unwrap(), UserId::new(2).unwrap());
    for user in [other_layout, garbage] {
        for _ in 0..10 {
            executor
                .execute(
                    StreamId::wallet(user),
                    charge(user, 10),
                    Metadata::for_new_command(),
                )
                .await
                .unwrap();
        }
    }
    drop(executor);

    // A wallet of 999 won as of version 10: read as written, it would win over the events.
    let rich: Wallet = {
        let history = Wallet::default()
            .decide(&charge(other_layout, 999))
            .unwrap();
        replay(Wallet::default(), &history)
    };
    let mut other = snapshot::encode(&rich).unwrap();
    other[0] ^= 0xff;
    let payloads = [(other_layout, other), (garbage, vec![0xff; 40])];
    for (user, payload) in payloads {
        let head = store.read_stream(&StreamId::wallet(user), 0).await.unwrap();
        let last = head.last().unwrap();
        store
            .save_snapshot(&Snapshot {
                stream_id: StreamId::wallet(user),
                stream_version: last.stream_version,
                global_position: last.global_position,
                schema_version: Wallet::SNAPSHOT_VERSION,
                payload,
            })
            .await
            .unwrap();
    }

    let fresh = Executor::<Wallet>::new(open(&url).await, ExecutorConfig::default());
    for user in [other_layout, garbage] {
        let executed = fresh
            .execute(
                StreamId::wallet(user),
                charge(user, 1),
                Metadata::for_new_command(),
            )
            .await
            .unwrap();
        assert_eq!(executed.reply.balance, Krw::new(101).unwrap(), "{user}");
    }
}

/// Issues to users `users` in waves that fit the mailbox; every one must be issued.
async fn issue_all(executor: &Executor<Coupon>, users: std::ops::RangeInclusive<i64>) {
    let users: Vec<i64> = users.collect();
    for wave in users.chunks(5_000) {
        let answers = join_all(wave.iter().map(|&user| {
            executor.execute(
                StreamId::coupon(coupon_id()),
                issue(user),
                Metadata::for_new_command(),
            )
        }))
        .await;
        for answer in answers {
            answer.unwrap();
        }
    }
}

async fn issue_once(executor: &Executor<Coupon>, user: i64) -> Result<(), CouponError> {
    match executor
        .execute(
            StreamId::coupon(coupon_id()),
            issue(user),
            Metadata::for_new_command(),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(ExecuteError::Rejected(error)) => Err(error),
        Err(other) => panic!("issue failed: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coupon_of_200_000_holders_stays_exact_after_a_restart_with_a_small_snapshot() {
    const HOLDERS: i64 = 200_000;
    let url = fresh_url();
    let store = open(&url).await;
    let executor = Executor::<Coupon>::new(store.clone(), ExecutorConfig::default());
    register(&executor, HOLDERS).await;
    issue_all(&executor, 1..=HOLDERS).await;
    let stream = StreamId::coupon(coupon_id());
    let mut snapshot = None;
    for _ in 0..200 {
        snapshot = store.load_snapshot(&stream).await.unwrap();
        if snapshot
            .as_ref()
            .is_some_and(|s| s.stream_version > HOLDERS - 200)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let snapshot = snapshot.expect("a snapshot was written");
    assert!(snapshot.stream_version > HOLDERS - 200);
    // The registration and a count: the holders are entries, not snapshot bytes.
    assert!(
        snapshot.payload.len() < 128,
        "snapshot of {} bytes",
        snapshot.payload.len()
    );
    drop(executor);
    drop(store);

    // A fresh node: loads the small snapshot and the tail, and reads holders as needed.
    let started = std::time::Instant::now();
    let fresh = Executor::<Coupon>::new(open(&url).await, ExecutorConfig::default());
    assert_eq!(issue_once(&fresh, 1).await, Err(CouponError::AlreadyIssued));
    println!("first decision after the restart: {:?}", started.elapsed());
    assert_eq!(
        issue_once(&fresh, 123_456).await,
        Err(CouponError::AlreadyIssued)
    );
    assert_eq!(
        issue_once(&fresh, HOLDERS).await,
        Err(CouponError::AlreadyIssued)
    );
    assert_eq!(
        issue_once(&fresh, HOLDERS + 1).await,
        Err(CouponError::SoldOut)
    );
}

#[tokio::test]
async fn a_coupon_written_before_entries_existed_is_filled_in_once() {
    use events::coupon::{CouponIssued, CouponRegistered};
    use events::{CouponEvent, EventId, NewEvent, UserCouponId};
    let url = fresh_url();
    let store = open(&url).await;
    let stream = StreamId::coupon(coupon_id());
    // Events as an older version appended them: no entries beside them.
    let mut history = vec![CouponEvent::CouponRegistered(CouponRegistered {
        coupon_id: coupon_id(),
        name: "old".to_owned(),
        discount: Discount {
            kind: DiscountKind::Fixed,
            value: 1_000,
        },
        total_quantity: 3,
        valid_from: None,
        valid_until: None,
    })];
    for user in 1..=2 {
        history.push(CouponEvent::CouponIssued(CouponIssued {
            coupon_id: coupon_id(),
            user_id: UserId::new(user).unwrap(),
            user_coupon_id: UserCouponId::compose(coupon_id(), user).unwrap(),
            sequence: user,
            issued_at: Utc::now(),
        }));
    }
    let events: Vec<NewEvent> = history
        .iter()
        .map(|event| {
            let encoded = event.encode().unwrap();
            NewEvent {
                event_id: EventId::new(),
                event_type: encoded.event_type.to_owned(),
                schema_version: encoded.schema_version,
                payload: encoded.payload,
                metadata: Metadata::for_new_command(),
            }
        })
        .collect();
    store.append(&stream, 0, &events).await.unwrap();
    assert!(
        store
            .load_entries(&stream, &["h:2".to_owned()])
            .await
            .unwrap()
            .is_empty()
    );

    let executor = Executor::<Coupon>::new(store.clone(), ExecutorConfig::default());
    assert_eq!(
        issue_once(&executor, 2).await,
        Err(CouponError::AlreadyIssued)
    );
    // The entries are stored now, and a snapshot of the new shape starts the next load.
    let found = store
        .load_entries(&stream, &["h:1".to_owned(), "h:2".to_owned()])
        .await
        .unwrap();
    assert_eq!(found.len(), 2);
    let snapshot = store.load_snapshot(&stream).await.unwrap().unwrap();
    assert_eq!(snapshot.stream_version, 3);
    drop(executor);
    let fresh = Executor::<Coupon>::new(store, ExecutorConfig::default());
    assert_eq!(issue_once(&fresh, 1).await, Err(CouponError::AlreadyIssued));
    assert_eq!(issue_once(&fresh, 3).await, Ok(()));
    assert_eq!(issue_once(&fresh, 4).await, Err(CouponError::SoldOut));
}
