//! What the relay tests share: a fresh MySQL store and topic prefix per test, event
//! builders, appends that retry conflicts like the executor does, running a relay, and a
//! plain Kafka consumer that reads everything published under a prefix.

use async_trait::async_trait;
use chrono::Utc;
use event_store::mysql::MySqlEventStore;
use event_store::{Appended, EventStore, Snapshot, StoreError};
use events::{
    CouponEvent, CouponId, EncodedEvent, EventId, Krw, Metadata, NewEvent, ProductEvent, ProductId,
    RecordedEvent, StreamId, UserCouponId, UserId, WalletEvent, coupon::CouponIssued,
    product::ProductRestocked, wallet::PointsCharged,
};
use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use relay::{LeaderLock, MySqlLeaderLock, Relay, RelayConfig, RelayError, RelayProgress};
use sqlx::MySqlPool;
use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub const WAIT: Duration = Duration::from_secs(20);

pub fn brokers() -> String {
    std::env::var("SHOP_TEST_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".to_owned())
}

/// A store on a fresh database, so tests never see each other's events or checkpoints.
pub async fn fresh_store() -> Arc<MySqlEventStore> {
    let server = std::env::var("SHOP_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://shop:shop@127.0.0.1:3306".to_owned());
    let url = format!("{server}/shop_t_{}", uuid::Uuid::new_v4().simple());
    Arc::new(MySqlEventStore::open(&url, 32).await.unwrap())
}

/// Fresh topics per test: `t<uuid>.wallet`, ...
pub fn fresh_prefix() -> String {
    format!("t{}.", uuid::Uuid::new_v4().simple())
}

pub fn relay_config(prefix: &str) -> RelayConfig {
    RelayConfig {
        topic_prefix: prefix.to_owned(),
        batch_size: 100,
        poll_interval: Duration::from_millis(50),
        delivery_timeout: Duration::from_secs(10),
        ..RelayConfig::new(brokers())
    }
}

pub fn mysql_lock(store: &MySqlEventStore, reader: &str) -> MySqlLeaderLock {
    MySqlLeaderLock::new(store.pool().clone(), reader)
}

pub struct RunningRelay {
    pub progress: RelayProgress,
    pub shutdown: CancellationToken,
    pub task: JoinHandle<Result<(), RelayError>>,
}

impl RunningRelay {
    pub fn leading(&self) -> bool {
        *self.progress.leading().borrow()
    }

    /// Cancels and waits for a clean exit.
    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the relay shuts down promptly")
            .unwrap()
            .unwrap();
    }
}

pub fn spawn_relay(
    store: Arc<dyn EventStore>,
    lock: impl LeaderLock,
    config: RelayConfig,
) -> RunningRelay {
    let relay = Relay::new(store, Box::new(lock), config).unwrap();
    let progress = relay.progress();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(relay.run(shutdown.clone()));
    RunningRelay {
        progress,
        shutdown,
        task,
    }
}

/// Waits until the durable checkpoint covers everything committed so far.
pub async fn wait_until_published(store: &MySqlEventStore, reader: &str) {
    let head = store.head_position().await.unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        let checkpoint = store.load_checkpoint(reader).await.unwrap();
        if checkpoint >= head {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "relay stuck at {checkpoint}, head is {head}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn new_event(encoded: EncodedEvent) -> NewEvent {
    NewEvent {
        event_id: EventId::new(),
        event_type: encoded.event_type.to_owned(),
        schema_version: encoded.schema_version,
        payload: encoded.payload,
        metadata: Metadata::for_new_command(),
    }
}

pub fn charge(user: i64, amount: i64, key: Option<&str>) -> NewEvent {
    new_event(
        WalletEvent::PointsCharged(PointsCharged {
            user_id: UserId::new(user).unwrap(),
            amount: Krw::new(amount).unwrap(),
            idempotency_key: key.map(str::to_owned),
        })
        .encode()
        .unwrap(),
    )
}

pub fn restock(product: i64, quantity: i64) -> NewEvent {
    new_event(
        ProductEvent::ProductRestocked(ProductRestocked {
            product_id: ProductId::new(product).unwrap(),
            quantity,
        })
        .encode()
        .unwrap(),
    )
}

pub fn coupon_issued(issued: CouponIssued) -> NewEvent {
    new_event(CouponEvent::CouponIssued(issued).encode().unwrap())
}

pub fn wallet(user: i64) -> StreamId {
    StreamId::wallet(UserId::new(user).unwrap())
}

pub fn product(id: i64) -> StreamId {
    StreamId::product(ProductId::new(id).unwrap())
}

pub fn coupon(id: i64) -> StreamId {
    StreamId::coupon(CouponId::new(id).unwrap())
}

pub fn user_coupon(id: i64) -> UserCouponId {
    UserCouponId::new(id).unwrap()
}

/// Appends one event at the stream's current version, re-reading the version after a
/// conflict like the executor does. Returns how many conflicts it retried.
pub async fn append_one(store: &dyn EventStore, stream: &StreamId, event: NewEvent) -> usize {
    let mut conflicts = 0;
    loop {
        let version = store.stream_version(stream).await.unwrap();
        match store
            .append(stream, version, std::slice::from_ref(&event))
            .await
        {
            Ok(_) => return conflicts,
            Err(StoreError::Conflict { .. }) => {
                conflicts += 1;
                tokio::task::yield_now().await;
            }
            Err(other) => panic!("append failed: {other}"),
        }
    }
}

/// An append written by hand that takes its position, then keeps the transaction open
/// for `hold` before committing: the late commit an auto-increment outbox would skip.
pub async fn slow_raw_append(pool: &MySqlPool, user: i64, hold: Duration) {
    let stream = wallet(user);
    let event = charge(user, 1, None);
    let mut tx = pool.begin().await.unwrap();
    let position =
        sqlx::query("UPDATE event_head SET position = LAST_INSERT_ID(position + 1) WHERE id = 1")
            .execute(&mut *tx)
            .await
            .unwrap()
            .last_insert_id() as i64;
    let version: i64 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE stream_id = ?",
    )
    .bind(stream.as_str())
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO events (global_position, event_id, stream_id, stream_version, event_type, \
         schema_version, payload, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(position)
    .bind(event.event_id.0.as_bytes().to_vec())
    .bind(stream.as_str())
    .bind(version + 1)
    .bind(event.event_type.as_str())
    .bind(i64::from(event.schema_version))
    .bind(event.payload.as_slice())
    .bind(serde_json::to_string(&event.metadata).unwrap())
    .bind(Utc::now().timestamp_micros())
    .execute(&mut *tx)
    .await
    .unwrap();
    tokio::time::sleep(hold).await;
    tx.commit().await.unwrap();
}

/// One Kafka message as a downstream consumer sees it: no `events` types, only strings
/// and JSON.
#[derive(Debug, Clone)]
pub struct Received {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: String,
    pub headers: Vec<(String, String)>,
    pub value: serde_json::Value,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        let mut values = self.headers.iter().filter(|(key, _)| key == name);
        let (_, value) = values
            .next()
            .unwrap_or_else(|| panic!("header {name} missing in {self:?}"));
        assert!(values.next().is_none(), "header {name} sent twice");
        value
    }

    pub fn event_id(&self) -> String {
        self.header("event-id").to_owned()
    }

    pub fn stream_id(&self) -> String {
        self.header("stream-id").to_owned()
    }

    pub fn stream_version(&self) -> i64 {
        self.header("stream-version").parse().unwrap()
    }
}

/// Every message on the prefix's topics for `categories`, sorted by topic, partition and
/// offset (the order a consumer of each partition sees). Call after the relays stopped:
/// it reads up to the high watermarks it sees at the start.
pub async fn consume_all(prefix: &str, categories: &[&str]) -> Vec<Received> {
    let topics: Vec<String> = categories.iter().map(|c| format!("{prefix}{c}")).collect();
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set(
            "group.id",
            format!("test-{}", uuid::Uuid::new_v4().simple()),
        )
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut remaining: HashMap<(String, i32), i64> = HashMap::new();
    for topic in &topics {
        let metadata = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .unwrap();
        for partition in metadata.topics()[0].partitions() {
            let (low, high) = consumer
                .fetch_watermarks(topic, partition.id(), Duration::from_secs(10))
                .unwrap();
            if high > low {
                remaining.insert((topic.clone(), partition.id()), high);
            }
        }
    }
    let topic_refs: Vec<&str> = topics.iter().map(String::as_str).collect();
    consumer.subscribe(&topic_refs).unwrap();
    let deadline = Instant::now() + WAIT;
    let mut received = Vec::new();
    while !remaining.is_empty() {
        let message = tokio::time::timeout_at(deadline, consumer.recv())
            .await
            .unwrap_or_else(|_| panic!("still waiting for {remaining:?}"))
            .unwrap();
        let headers = message
            .headers()
            .map(|headers| {
                headers
                    .iter()
                    .map(|header| {
                        let value = header.value.map(|v| String::from_utf8(v.to_vec()).unwrap());
                        (header.key.to_owned(), value.unwrap_or_default())
                    })
                    .collect()
            })
            .unwrap_or_default();
        let entry = (message.topic().to_owned(), message.partition());
        if remaining
            .get(&entry)
            .is_some_and(|high| message.offset() + 1 >= *high)
        {
            remaining.remove(&entry);
        }
        received.push(Received {
            topic: message.topic().to_owned(),
            partition: message.partition(),
            offset: message.offset(),
            key: String::from_utf8(message.key().unwrap().to_vec()).unwrap(),
            headers,
            value: serde_json::from_slice(message.payload().unwrap()).unwrap(),
        });
    }
    received
        .sort_by(|a, b| (&a.topic, a.partition, a.offset).cmp(&(&b.topic, b.partition, b.offset)));
    received
}

/// Every stored event's id, and each stream's version count.
pub async fn stored(store: &MySqlEventStore) -> (BTreeSet<String>, HashMap<String, i64>) {
    let events = store.read_all(0, 1_000_000).await.unwrap();
    let ids = events.iter().map(|e| e.event_id.to_string()).collect();
    let mut versions = HashMap::new();
    for event in &events {
        let top = versions.entry(event.stream_id.to_string()).or_insert(0);
        *top = event.stream_version.max(*top);
    }
    (ids, versions)
}

/// Per stream, the versions in the order they first appear.
pub fn first_occurrences(received: &[Received]) -> HashMap<String, Vec<i64>> {
    let mut seen = BTreeSet::new();
    let mut per_stream: HashMap<String, Vec<i64>> = HashMap::new();
    for message in received {
        if seen.insert(message.event_id()) {
            per_stream
                .entry(message.stream_id())
                .or_default()
                .push(message.stream_version());
        }
    }
    per_stream
}

/// Asserts every stored event arrived, each stream's first occurrences are 1..=n in
/// order, and each message sits on the right topic with the right key.
pub fn assert_complete_and_ordered(
    prefix: &str,
    received: &[Received],
    ids: &BTreeSet<String>,
    versions: &HashMap<String, i64>,
) {
    let received_ids: BTreeSet<String> = received.iter().map(Received::event_id).collect();
    let missing: Vec<_> = ids.difference(&received_ids).collect();
    assert!(
        missing.is_empty(),
        "{} events never arrived: {missing:?}",
        missing.len()
    );
    let unknown: Vec<_> = received_ids.difference(ids).collect();
    assert!(unknown.is_empty(), "unknown events arrived: {unknown:?}");
    for message in received {
        let stream = message.stream_id();
        assert_eq!(message.key, stream);
        let category = stream.split_once('-').unwrap().0;
        assert_eq!(message.topic, format!("{prefix}{category}"));
    }
    let firsts = first_occurrences(received);
    assert_eq!(firsts.len(), versions.len());
    for (stream, n) in versions {
        let expected: Vec<i64> = (1..=*n).collect();
        assert_eq!(&firsts[stream], &expected, "stream {stream} out of order");
    }
}

/// How often each event id arrived.
pub fn deliveries(received: &[Received]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for message in received {
        *counts.entry(message.event_id()).or_insert(0) += 1;
    }
    counts
}

/// A store whose checkpoint saves hang after the first `saves` of them: a relay on it
/// gets a batch acknowledged by Kafka and then never records it, the worst moment to die.
pub struct StallingCheckpoints {
    inner: Arc<MySqlEventStore>,
    saves_left: AtomicUsize,
    pub stalled: Notify,
}

impl StallingCheckpoints {
    pub fn new(inner: Arc<MySqlEventStore>, saves: usize) -> Self {
        Self {
            inner,
            saves_left: AtomicUsize::new(saves),
            stalled: Notify::new(),
        }
    }
}

#[async_trait]
impl EventStore for StallingCheckpoints {
    async fn append_claimed(
        &self,
        stream: &StreamId,
        expected: i64,
        events: &[NewEvent],
        entries: &[events::NewEntry],
        claims: &[event_store::Claim],
    ) -> Result<Appended, StoreError> {
        self.inner
            .append_claimed(stream, expected, events, entries, claims)
            .await
    }

    async fn load_claim(
        &self,
        scope: &str,
        key: &str,
    ) -> Result<Option<event_store::StoredClaim>, StoreError> {
        self.inner.load_claim(scope, key).await
    }

    async fn sweep_claims(&self, before: i64) -> Result<u64, StoreError> {
        self.inner.sweep_claims(before).await
    }

    async fn load_entries(
        &self,
        stream: &StreamId,
        keys: &[String],
    ) -> Result<std::collections::HashMap<String, Vec<u8>>, StoreError> {
        self.inner.load_entries(stream, keys).await
    }

    async fn stream_version(&self, stream: &StreamId) -> Result<i64, StoreError> {
        self.inner.stream_version(stream).await
    }

    async fn read_stream(
        &self,
        stream: &StreamId,
        after_version: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_stream(stream, after_version).await
    }

    async fn read_all(&self, after: i64, limit: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_all(after, limit).await
    }

    async fn read_category(
        &self,
        category: &str,
        after: i64,
        up_to: i64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner
            .read_category(category, after, up_to, limit)
            .await
    }

    async fn head_position(&self) -> Result<i64, StoreError> {
        self.inner.head_position().await
    }

    async fn load_snapshot(&self, stream: &StreamId) -> Result<Option<Snapshot>, StoreError> {
        self.inner.load_snapshot(stream).await
    }

    async fn save_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        self.inner.save_snapshot(snapshot).await
    }

    async fn reserve_ids(&self, sequence: &str, count: i64) -> Result<Range<i64>, StoreError> {
        self.inner.reserve_ids(sequence, count).await
    }

    async fn load_checkpoint(&self, reader: &str) -> Result<i64, StoreError> {
        self.inner.load_checkpoint(reader).await
    }

    async fn save_checkpoint(&self, reader: &str, position: i64) -> Result<(), StoreError> {
        let left = self.saves_left.load(Ordering::SeqCst);
        if left == 0 {
            self.stalled.notify_one();
            std::future::pending::<()>().await;
        }
        self.saves_left.store(left - 1, Ordering::SeqCst);
        self.inner.save_checkpoint(reader, position).await
    }

    fn subscribe_head(&self) -> watch::Receiver<i64> {
        self.inner.subscribe_head()
    }
}
