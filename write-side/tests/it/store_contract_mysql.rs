//! The event-store contract against MySQL/MariaDB (`scripts/services.sh up` starts one),
//! one fresh database per test. `SHOP_TEST_MYSQL_URL` names the server
//! (default `mysql://shop:shop@127.0.0.1:3306`).
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use chrono::Utc;
use event_store::EventStore;
use event_store::mysql::MySqlEventStore;
use events::{CouponId, Discount, DiscountKind, Metadata, StreamId, UserId};
use std::sync::Arc;
use write_side::domain::coupon::{Coupon, CouponCommand, CouponError};
use write_side::executor::{ExecuteError, Executor, ExecutorConfig};

/// A database of its own on the test server, created by the store that opens it.
fn fresh_url() -> String {
    let server = std::env::var("SHOP_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://shop:shop@127.0.0.1:3306".to_owned());
    format!("{server}/shop_t_{}", uuid::Uuid::new_v4().simple())
}

async fn fresh_mysql() -> Arc<dyn EventStore> {
    Arc::new(MySqlEventStore::open(&fresh_url(), 16).await.unwrap())
}

/// Registers `coupon` (a fixed 100 off, no validity window) for `total_quantity` holders.
fn register(coupon: CouponId, name: &str, total_quantity: i64) -> CouponCommand {
    CouponCommand::Register {
        coupon_id: coupon,
        name: name.to_owned(),
        discount: Discount {
            kind: DiscountKind::Fixed,
            value: 100,
        },
        total_quantity,
        valid_from: None,
        valid_until: None,
    }
}

fn issue(user: i64) -> CouponCommand {
    CouponCommand::Issue {
        user_id: UserId::new(user).unwrap(),
        now: Utc::now(),
    }
}

store_contract!(fresh_mysql);

/// A database fault under load: while a hot coupon is rushed through the executor, every
/// connection of the store is killed over and over (as a MariaDB restart or a network cut
/// would). Commands in flight may fail, but nothing acknowledged is lost, nothing is
/// written twice, the sequence has no gap, and once the fault stops the store serves
/// again without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_database_connections_lose_nothing_acknowledged_and_double_nothing() {
    use events::CouponEvent;
    use futures::future::join_all;
    use sqlx::{Connection, MySqlConnection};
    use std::collections::HashSet;

    let url = fresh_url();
    let store: Arc<dyn EventStore> = Arc::new(MySqlEventStore::open(&url, 16).await.unwrap());
    let executor = Executor::<Coupon>::new(store.clone(), ExecutorConfig::default());
    let coupon = CouponId::new(1).unwrap();
    let stream = StreamId::coupon(coupon);
    executor
        .execute(
            stream.clone(),
            register(coupon, "fault", 1_000_000),
            Metadata::for_new_command(),
        )
        .await
        .unwrap();

    // The fault: every 40 ms, kill every other connection to this database.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let killer = {
        let (url, stop) = (url.clone(), stop.clone());
        tokio::spawn(async move {
            let mut killed = 0;
            let mut admin = MySqlConnection::connect(&url).await.unwrap();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let ids: Vec<i64> = sqlx::query_scalar(
                    "SELECT id FROM information_schema.processlist \
                     WHERE db = DATABASE() AND id <> CONNECTION_ID()",
                )
                .fetch_all(&mut admin)
                .await
                .unwrap();
                for id in ids {
                    // A connection may have gone by itself meanwhile.
                    if sqlx::query(sqlx::AssertSqlSafe(format!("KILL {id}")))
                        .execute(&mut admin)
                        .await
                        .is_ok()
                    {
                        killed += 1;
                    }
                }
                tokio::time::sleep(std::time::Duration::from_millis(40)).await;
            }
            killed
        })
    };

    let mut acknowledged = HashSet::new();
    let mut failed = 0;
    for wave in 0..20i64 {
        let users: Vec<i64> = (wave * 200 + 1..=wave * 200 + 200).collect();
        let answers = join_all(users.iter().map(|&user| {
            executor.execute(stream.clone(), issue(user), Metadata::for_new_command())
        }))
        .await;
        for (user, answer) in users.into_iter().zip(answers) {
            match answer {
                Ok(_) => {
                    acknowledged.insert(user);
                }
                Err(ExecuteError::Store(_) | ExecuteError::Overloaded) => failed += 1,
                Err(other) => panic!("user {user}: {other:?}"),
            }
        }
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let killed = killer.await.unwrap();
    assert!(killed > 0, "the fault never hit a connection");
    println!(
        "{killed} connections killed; {} issued, {failed} failed",
        acknowledged.len()
    );

    // Once the fault is over the same process serves again.
    let mut recovered = false;
    for attempt in 0..50 {
        if executor
            .execute(
                stream.clone(),
                issue(900_000 + attempt),
                Metadata::for_new_command(),
            )
            .await
            .is_ok()
        {
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(recovered, "the store never served again after the fault");

    // What the store holds: every acknowledged issue, each user once, sequences 1..=n.
    let mut holders = HashSet::new();
    let mut sequences = Vec::new();
    for recorded in store.read_stream(&stream, 1).await.unwrap() {
        let event = CouponEvent::decode(
            &recorded.event_type,
            recorded.schema_version,
            &recorded.payload,
        )
        .unwrap();
        if let CouponEvent::CouponIssued(issued) = event {
            assert!(
                holders.insert(issued.user_id.get()),
                "{} twice",
                issued.user_id
            );
            sequences.push(issued.sequence);
        }
    }
    assert_eq!(sequences, (1..=sequences.len() as i64).collect::<Vec<_>>());
    for user in &acknowledged {
        assert!(holders.contains(user), "acknowledged user {user} was lost");
    }
    // And a fresh node, reading the holders from the store's entries, agrees.
    let fresh = Executor::<Coupon>::new(
        Arc::new(MySqlEventStore::open(&url, 4).await.unwrap()),
        ExecutorConfig::default(),
    );
    for user in acknowledged.iter().take(100) {
        let again = fresh
            .execute(stream.clone(), issue(*user), Metadata::for_new_command())
            .await;
        assert!(
            matches!(
                again,
                Err(ExecuteError::Rejected(CouponError::AlreadyIssued))
            ),
            "user {user}: {again:?}"
        );
    }
}

/// Two nodes on one MySQL store taking one command each in turn: every command finds its
/// node's state stale (the other node appended since), and its batch, too small to take a
/// turn, meets a version conflict. With no back-off retries at all (`max_retries: 0`)
/// every command is still decided: a batch that meets a conflict without a turn is handed
/// back and decided again in a turn, which first reads what the other node appended,
/// instead of racing the other node through back-offs (a tail of a second, measured).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_without_a_turn_is_decided_again_in_a_turn() {
    let url = fresh_url();
    let config = ExecutorConfig {
        max_retries: 0,
        ..ExecutorConfig::default()
    };
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let store: Arc<dyn EventStore> = Arc::new(MySqlEventStore::open(&url, 4).await.unwrap());
        nodes.push(Executor::<Coupon>::new(store, config.clone()));
    }
    let coupon = CouponId::new(1).unwrap();
    let stream = StreamId::coupon(coupon);
    nodes[0]
        .execute(
            stream.clone(),
            register(coupon, "two nodes", 20),
            Metadata::for_new_command(),
        )
        .await
        .unwrap();
    for user in 1..=20 {
        let node = &nodes[(user % 2) as usize];
        let issued = node
            .execute(stream.clone(), issue(user), Metadata::for_new_command())
            .await;
        assert!(issued.is_ok(), "user {user}: {issued:?}");
    }
    // Both nodes know every holder and the quantity, whichever appended them.
    for node in &nodes {
        let again = node
            .execute(stream.clone(), issue(1), Metadata::for_new_command())
            .await;
        assert!(
            matches!(
                again,
                Err(ExecuteError::Rejected(CouponError::AlreadyIssued))
            ),
            "{again:?}"
        );
        let late = node
            .execute(stream.clone(), issue(21), Metadata::for_new_command())
            .await;
        assert!(
            matches!(late, Err(ExecuteError::Rejected(CouponError::SoldOut))),
            "{late:?}"
        );
    }
    let store = MySqlEventStore::open(&url, 2).await.unwrap();
    assert_eq!(store.stream_version(&stream).await.unwrap(), 21);
}
