//! The event-store contract: every backend must pass these. A backend's test file calls
//! `store_contract!(async fn that builds a fresh, empty store)`.

use event_store::{Claim, EventStore, Snapshot, StoreError, StoredClaim};
use events::{
    EventId, Krw, Metadata, NewEntry, NewEvent, StreamId, UserId, WalletEvent,
    wallet::PointsCharged,
};
use std::collections::HashSet;
use std::sync::Arc;

pub fn wallet(user: i64) -> StreamId {
    StreamId::wallet(UserId::new(user).unwrap())
}

pub fn charge(user: i64, amount: i64) -> NewEvent {
    let encoded = WalletEvent::PointsCharged(PointsCharged {
        user_id: UserId::new(user).unwrap(),
        amount: Krw::new(amount).unwrap(),
        idempotency_key: None,
    })
    .encode()
    .unwrap();
    NewEvent {
        event_id: EventId::new(),
        event_type: encoded.event_type.to_owned(),
        schema_version: encoded.schema_version,
        payload: encoded.payload,
        metadata: Metadata::for_new_command(),
    }
}

pub async fn append_then_read_back_in_order(store: Arc<dyn EventStore>) {
    let stream = wallet(1);
    let batch = vec![charge(1, 10), charge(1, 20), charge(1, 30)];
    let appended = store.append(&stream, 0, &batch).await.unwrap();
    assert_eq!(appended.stream_version, 3);
    assert_eq!(appended.last_position - appended.first_position, 2);

    let read = store.read_stream(&stream, 0).await.unwrap();
    assert_eq!(read.len(), 3);
    for (i, (recorded, sent)) in read.iter().zip(&batch).enumerate() {
        assert_eq!(recorded.stream_version, i as i64 + 1);
        assert_eq!(recorded.event_id, sent.event_id);
        assert_eq!(recorded.payload, sent.payload);
        assert_eq!(recorded.metadata, sent.metadata);
        assert_eq!(recorded.global_position, appended.first_position + i as i64);
    }
    assert_eq!(store.read_stream(&stream, 2).await.unwrap().len(), 1);
    assert_eq!(store.stream_version(&stream).await.unwrap(), 3);
    assert_eq!(store.stream_version(&wallet(99)).await.unwrap(), 0);
}

pub async fn a_moved_stream_is_a_typed_conflict(store: Arc<dyn EventStore>) {
    let stream = wallet(2);
    store.append(&stream, 0, &[charge(2, 1)]).await.unwrap();
    let error = store
        .append(&stream, 0, &[charge(2, 2), charge(2, 3)])
        .await
        .unwrap_err();
    match error {
        StoreError::Conflict {
            stream: s,
            expected,
            actual,
        } => {
            assert_eq!(s, stream);
            assert_eq!(expected, 0);
            assert_eq!(actual, 1);
        }
        other => panic!("expected a conflict, got {other}"),
    }
    // Nothing of the rejected batch was written.
    assert_eq!(store.read_stream(&stream, 0).await.unwrap().len(), 1);
}

pub async fn concurrent_appends_at_one_version_admit_exactly_one(store: Arc<dyn EventStore>) {
    let stream = wallet(3);
    let attempts = (0..16).map(|i| {
        let store = store.clone();
        let stream = stream.clone();
        tokio::spawn(async move { store.append(&stream, 0, &[charge(3, i + 1)]).await })
    });
    let results = futures::future::join_all(attempts).await;
    let won = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
    let conflicts = results
        .iter()
        .filter(|r| matches!(r, Ok(Err(StoreError::Conflict { .. }))))
        .count();
    assert_eq!((won, conflicts), (1, 15));
    assert_eq!(store.stream_version(&stream).await.unwrap(), 1);
}

/// Appends to many streams at once (committed together by group commit where the backend
/// has it): each stream admits exactly one of two appends at the same version, and the
/// winners' positions are distinct and cover the head without gaps.
pub async fn concurrent_appends_to_many_streams_each_keep_their_version(
    store: Arc<dyn EventStore>,
) {
    let attempts = (1..=100).flat_map(|user| (0..2).map(move |attempt| (user, attempt)));
    let tasks = attempts.map(|(user, attempt)| {
        let store = store.clone();
        tokio::spawn(async move {
            let result = store
                .append(
                    &wallet(user),
                    0,
                    &[charge(user, attempt + 1), charge(user, 5)],
                )
                .await;
            (user, result)
        })
    });
    let results = futures::future::join_all(tasks).await;
    let mut winners = HashSet::new();
    let mut positions = Vec::new();
    for joined in results {
        let (user, result) = joined.unwrap();
        match result {
            Ok(appended) => {
                assert!(
                    winners.insert(user),
                    "stream {user} admitted two appends at version 0"
                );
                assert_eq!(appended.stream_version, 2);
                assert_eq!(appended.last_position, appended.first_position + 1);
                positions.extend([appended.first_position, appended.last_position]);
            }
            Err(StoreError::Conflict { actual, .. }) => assert_eq!(actual, 2),
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert_eq!(winners.len(), 100);
    positions.sort_unstable();
    assert_eq!(positions, (1..=200).collect::<Vec<i64>>());
    assert_eq!(store.head_position().await.unwrap(), 200);
}

pub async fn read_all_is_the_global_order_from_a_position(store: Arc<dyn EventStore>) {
    for user in 10..20 {
        store
            .append(&wallet(user), 0, &[charge(user, 1), charge(user, 2)])
            .await
            .unwrap();
    }
    let all = store.read_all(0, 1_000).await.unwrap();
    assert_eq!(all.len(), 20);
    assert!(
        all.windows(2)
            .all(|w| w[0].global_position < w[1].global_position)
    );
    let head = store.head_position().await.unwrap();
    assert_eq!(head, all.last().unwrap().global_position);

    let tail = store.read_all(all[4].global_position, 3).await.unwrap();
    assert_eq!(tail.len(), 3);
    assert_eq!(tail[0].global_position, all[5].global_position);
    let ids: HashSet<_> = all.iter().map(|e| e.event_id).collect();
    assert_eq!(ids.len(), 20);
}

pub async fn a_category_read_skips_other_streams(store: Arc<dyn EventStore>) {
    store.append(&wallet(1), 0, &[charge(1, 1)]).await.unwrap();
    let order = StreamId::order(events::OrderId::new(7).unwrap());
    store
        .append(&order, 0, &[charge(1, 2), charge(1, 3)])
        .await
        .unwrap();
    store.append(&wallet(2), 0, &[charge(2, 4)]).await.unwrap();
    let head = store.head_position().await.unwrap();
    let read = store.read_category("order", 0, head, 10).await.unwrap();
    let positions: Vec<i64> = read.iter().map(|e| e.global_position).collect();
    assert_eq!(positions, vec![2, 3]);
    assert!(read.iter().all(|e| e.stream_id == order));
    assert_eq!(
        store
            .read_category("order", 2, head, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(store.read_category("order", 0, 2, 10).await.unwrap().len() == 1);
    assert!(
        store
            .read_category("wallet", 0, head, 1)
            .await
            .unwrap()
            .len()
            == 1
    );
}

pub async fn head_subscribers_see_appends(store: Arc<dyn EventStore>) {
    let mut head = store.subscribe_head();
    let appended = store
        .append(&wallet(30), 0, &[charge(30, 5)])
        .await
        .unwrap();
    head.wait_for(|p| *p >= appended.last_position)
        .await
        .unwrap();
}

pub async fn a_duplicate_event_id_is_refused(store: Arc<dyn EventStore>) {
    let event = charge(40, 1);
    store
        .append(&wallet(40), 0, std::slice::from_ref(&event))
        .await
        .unwrap();
    let refused = store.append(&wallet(41), 0, &[event]).await.unwrap_err();
    // A failure, not a conflict: the executor would decide again and append the same id.
    assert!(
        !matches!(
            refused,
            StoreError::Conflict { .. } | StoreError::KeyTaken { .. }
        ),
        "{refused:?}"
    );
    assert_eq!(store.stream_version(&wallet(41)).await.unwrap(), 0);
}

pub async fn snapshots_keep_the_newest(store: Arc<dyn EventStore>) {
    let stream = wallet(50);
    assert!(store.load_snapshot(&stream).await.unwrap().is_none());
    let snapshot = |version: i64| Snapshot {
        stream_id: stream.clone(),
        stream_version: version,
        global_position: version * 10,
        schema_version: 1,
        payload: vec![version as u8; 4],
    };
    store.save_snapshot(&snapshot(5)).await.unwrap();
    store.save_snapshot(&snapshot(9)).await.unwrap();
    store.save_snapshot(&snapshot(7)).await.unwrap();
    assert_eq!(
        store.load_snapshot(&stream).await.unwrap(),
        Some(snapshot(9))
    );
}

/// Snapshots moving forward while group loads run (another node snapshotting a hot
/// stream): every load is its snapshot, if any, plus every event after it, without a gap.
/// A load that read the snapshot and the events after it as of two different snapshots
/// would skip events, and a state folded from it would be wrong at the head's version.
pub async fn a_group_load_is_never_cut_by_a_snapshot_written_meanwhile(store: Arc<dyn EventStore>) {
    const VERSIONS: i64 = 200;
    let stream = wallet(90);
    let events: Vec<_> = (1..=VERSIONS).map(|i| charge(90, i)).collect();
    store.append(&stream, 0, &events).await.unwrap();
    let snapshotter = {
        let (store, stream) = (store.clone(), stream.clone());
        tokio::spawn(async move {
            for version in 1..=VERSIONS {
                store
                    .save_snapshot(&Snapshot {
                        stream_id: stream.clone(),
                        stream_version: version,
                        global_position: version,
                        schema_version: 1,
                        payload: vec![1],
                    })
                    .await
                    .unwrap();
                tokio::task::yield_now().await;
            }
        })
    };
    let mut loads = 0;
    while !snapshotter.is_finished() || loads == 0 {
        let loaded = store
            .load_streams(std::slice::from_ref(&stream))
            .await
            .unwrap();
        let (snapshot, tail) = &loaded[0];
        let after = snapshot.as_ref().map_or(0, |s| s.stream_version);
        let versions: Vec<i64> = tail.iter().map(|e| e.stream_version).collect();
        let expected: Vec<i64> = (after + 1..=VERSIONS).collect();
        assert_eq!(
            versions, expected,
            "load {loads}: after the snapshot at {after}"
        );
        loads += 1;
    }
    snapshotter.await.unwrap();
}

pub async fn id_sequences_never_repeat(store: Arc<dyn EventStore>) {
    let first = store.reserve_ids("order", 10).await.unwrap();
    assert_eq!(first, 1..11);
    let reservations = (0..8).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.reserve_ids("order", 5).await.unwrap() })
    });
    let mut seen: HashSet<i64> = first.collect();
    for range in futures::future::join_all(reservations).await {
        for id in range.unwrap() {
            assert!(seen.insert(id), "id {id} handed out twice");
        }
    }
    assert_eq!(seen.len(), 50);
    assert_eq!(store.reserve_ids("product", 1).await.unwrap(), 1..2);
}

pub async fn large_batches_append_atomically(store: Arc<dyn EventStore>) {
    let stream = wallet(60);
    let batch: Vec<_> = (0..2_500).map(|i| charge(60, i + 1)).collect();
    let appended = store.append(&stream, 0, &batch).await.unwrap();
    assert_eq!(appended.stream_version, 2_500);
    assert_eq!(appended.last_position - appended.first_position, 2_499);
    assert_eq!(store.read_stream(&stream, 0).await.unwrap().len(), 2_500);
}

pub async fn reader_checkpoints_are_durable_per_reader(store: Arc<dyn EventStore>) {
    assert_eq!(store.load_checkpoint("relay").await.unwrap(), 0);
    store.save_checkpoint("relay", 42).await.unwrap();
    store.save_checkpoint("other", 7).await.unwrap();
    store.save_checkpoint("relay", 43).await.unwrap();
    assert_eq!(store.load_checkpoint("relay").await.unwrap(), 43);
    assert_eq!(store.load_checkpoint("other").await.unwrap(), 7);
}

/// Many writers append concurrently while a reader tails `read_all` from its last
/// position: the reader must see every event exactly once, each stream in version order.
/// A store whose positions can commit out of order would make the reader skip some.
pub async fn a_tailing_reader_never_skips_a_late_commit(store: Arc<dyn EventStore>) {
    const WRITERS: i64 = 12;
    const APPENDS: i64 = 25;
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..APPENDS {
                    let user = 1_000 + w;
                    store
                        .append(&wallet(user), i, &[charge(user, i + 1)])
                        .await
                        .unwrap();
                    if i % 5 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    let reader = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut after = 0;
            while seen.len() < (WRITERS * APPENDS) as usize {
                let batch = store.read_all(after, 7).await.unwrap();
                if batch.is_empty() {
                    tokio::task::yield_now().await;
                }
                for event in batch {
                    after = event.global_position;
                    seen.push(event);
                }
            }
            seen
        })
    };
    for writer in writers {
        writer.await.unwrap();
    }
    let seen = tokio::time::timeout(std::time::Duration::from_secs(30), reader)
        .await
        .expect("the reader never saw every event: it skipped a late commit")
        .unwrap();
    let mut next_version = std::collections::HashMap::new();
    for event in &seen {
        let expected = next_version.entry(event.stream_id.clone()).or_insert(1);
        assert_eq!(
            event.stream_version, *expected,
            "{} out of order",
            event.stream_id
        );
        *expected += 1;
    }
    assert_eq!(seen.len(), (WRITERS * APPENDS) as usize);
}

pub async fn a_group_load_answers_each_stream_after_its_snapshot(store: Arc<dyn EventStore>) {
    let (long, short, empty) = (wallet(80), wallet(81), wallet(82));
    let five: Vec<_> = (1..=5).map(|i| charge(80, i)).collect();
    store.append(&long, 0, &five).await.unwrap();
    store.append(&short, 0, &[charge(81, 1)]).await.unwrap();
    store
        .save_snapshot(&Snapshot {
            stream_id: long.clone(),
            stream_version: 3,
            global_position: 3,
            schema_version: 1,
            payload: vec![3],
        })
        .await
        .unwrap();
    let loaded = store
        .load_streams(&[empty.clone(), long.clone(), short.clone()])
        .await
        .unwrap();
    assert_eq!(loaded.len(), 3);
    assert!(loaded[0].0.is_none() && loaded[0].1.is_empty());
    assert_eq!(loaded[1].0.as_ref().map(|s| s.stream_version), Some(3));
    let tail: Vec<i64> = loaded[1].1.iter().map(|e| e.stream_version).collect();
    assert_eq!(tail, [4, 5]);
    assert!(loaded[2].0.is_none());
    assert_eq!(loaded[2].1.len(), 1);
    assert_eq!(loaded[2].1[0].stream_id, short);
}

fn entry(key: &str, value: u8, unique: bool) -> NewEntry {
    NewEntry {
        key: key.to_owned(),
        value: vec![value; 3],
        unique,
    }
}

pub async fn entries_are_written_with_their_events_and_read_back(store: Arc<dyn EventStore>) {
    let stream = wallet(70);
    let entries = [entry("h:1", 1, true), entry("c:1", 2, false)];
    let appended = store
        .append_with_entries(&stream, 0, &[charge(70, 1)], &entries)
        .await
        .unwrap();
    assert_eq!(appended.stream_version, 1);
    let keys = ["h:1".to_owned(), "c:1".to_owned(), "h:2".to_owned()];
    let found = store.load_entries(&stream, &keys).await.unwrap();
    assert_eq!(found.len(), 2);
    assert_eq!(found["h:1"], vec![1; 3]);
    assert_eq!(found["c:1"], vec![2; 3]);
    // Entries belong to their stream.
    assert!(
        store
            .load_entries(&wallet(71), &keys)
            .await
            .unwrap()
            .is_empty()
    );
    // A plain entry is overwritten; an entries-only append writes no event.
    let only = store
        .append_with_entries(&stream, 1, &[], &[entry("c:1", 9, false)])
        .await
        .unwrap();
    assert_eq!((only.stream_version, only.last_position), (1, 0));
    assert_eq!(store.stream_version(&stream).await.unwrap(), 1);
    let found = store.load_entries(&stream, &keys[1..2]).await.unwrap();
    assert_eq!(found["c:1"], vec![9; 3]);
}

pub async fn a_taken_unique_entry_is_a_conflict_and_writes_nothing(store: Arc<dyn EventStore>) {
    let stream = wallet(72);
    store
        .append_with_entries(&stream, 0, &[charge(72, 1)], &[entry("h:7", 1, true)])
        .await
        .unwrap();
    let error = store
        .append_with_entries(&stream, 1, &[charge(72, 2)], &[entry("h:7", 2, true)])
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Conflict { .. }), "{error:?}");
    assert_eq!(store.stream_version(&stream).await.unwrap(), 1);
    let found = store
        .load_entries(&stream, &["h:7".to_owned()])
        .await
        .unwrap();
    assert_eq!(found["h:7"], vec![1; 3]);
    // An entries-only append is version-checked too.
    let moved = store
        .append_with_entries(&stream, 0, &[], &[entry("c:7", 1, false)])
        .await
        .unwrap_err();
    assert!(matches!(moved, StoreError::Conflict { .. }), "{moved:?}");
}

fn claim(scope: &str, key: &str, last_event: Option<usize>) -> Claim {
    Claim {
        scope: scope.to_owned(),
        key: key.to_owned(),
        fingerprint: [7; 32],
        outcome: vec![1, 2, 3],
        stream_version: 2,
        last_event,
        position: 0,
    }
}

pub async fn an_idempotency_key_is_recorded_with_its_events_once(store: Arc<dyn EventStore>) {
    let stream = wallet(73);
    let appended = store
        .append_claimed(
            &stream,
            0,
            &[charge(73, 1), charge(73, 2)],
            &[],
            &[claim("user:73 op", "k1", Some(1))],
        )
        .await
        .unwrap();
    let stored = store.load_claim("user:73 op", "k1").await.unwrap().unwrap();
    assert_eq!(
        stored,
        StoredClaim {
            fingerprint: [7; 32],
            stream: stream.clone(),
            stream_version: 2,
            position: appended.last_position,
            outcome: vec![1, 2, 3],
        }
    );
    assert!(
        store
            .load_claim("user:73 op", "k2")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .load_claim("user:74 op", "k1")
            .await
            .unwrap()
            .is_none()
    );

    // The same key again: the append fails whole, typed, and writes nothing.
    let taken = store
        .append_claimed(
            &stream,
            2,
            &[charge(73, 3)],
            &[],
            &[claim("user:73 op", "k1", Some(0))],
        )
        .await
        .unwrap_err();
    assert!(matches!(taken, StoreError::KeyTaken { .. }), "{taken:?}");
    assert_eq!(store.stream_version(&stream).await.unwrap(), 2);
    // Beside another append that commits in the same group, it fails alone.
    let (events_a, claims_a) = ([charge(73, 4)], [claim("user:73 op", "k1", Some(0))]);
    let (events_b, claims_b) = ([charge(74, 1)], [claim("user:74 op", "k1", None)]);
    let (wallet_74, no_entries) = (wallet(74), []);
    let (taken, other) = tokio::join!(
        store.append_claimed(&stream, 2, &events_a, &no_entries, &claims_a),
        store.append_claimed(&wallet_74, 0, &events_b, &no_entries, &claims_b),
    );
    assert!(
        matches!(taken, Err(StoreError::KeyTaken { .. })),
        "{taken:?}"
    );
    other.unwrap();
    assert_eq!(store.stream_version(&wallet(74)).await.unwrap(), 1);

    // A command that appended nothing is recorded at the position it was given.
    let mut quiet = claim("user:73 op", "k3", None);
    quiet.position = appended.last_position;
    store
        .append_claimed(&stream, 2, &[], &[], &[quiet])
        .await
        .unwrap();
    let stored = store.load_claim("user:73 op", "k3").await.unwrap().unwrap();
    assert_eq!(stored.position, appended.last_position);
    assert_eq!(store.stream_version(&stream).await.unwrap(), 2);

    // Records past their retention are swept; newer ones stay.
    let far_future = i64::MAX;
    assert_eq!(store.sweep_claims(0).await.unwrap(), 0);
    assert_eq!(store.sweep_claims(far_future).await.unwrap(), 3);
    assert!(
        store
            .load_claim("user:73 op", "k1")
            .await
            .unwrap()
            .is_none()
    );
}

#[macro_export]
macro_rules! store_contract {
    ($make:path) => {
        $crate::store_contract!(@tests $make;
            append_then_read_back_in_order,
            a_moved_stream_is_a_typed_conflict,
            concurrent_appends_at_one_version_admit_exactly_one,
            concurrent_appends_to_many_streams_each_keep_their_version,
            read_all_is_the_global_order_from_a_position,
            head_subscribers_see_appends,
            a_category_read_skips_other_streams,
            a_duplicate_event_id_is_refused,
            snapshots_keep_the_newest,
            id_sequences_never_repeat,
            large_batches_append_atomically,
            reader_checkpoints_are_durable_per_reader,
            a_tailing_reader_never_skips_a_late_commit,
            entries_are_written_with_their_events_and_read_back,
            a_taken_unique_entry_is_a_conflict_and_writes_nothing,
            a_group_load_answers_each_stream_after_its_snapshot,
            a_group_load_is_never_cut_by_a_snapshot_written_meanwhile,
            an_idempotency_key_is_recorded_with_its_events_once,
        );
    };
    (@tests $make:path; $($case:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $case() {
            let store = $make().await;
            $crate::contract::$case(store).await;
        }
    )*};
}
