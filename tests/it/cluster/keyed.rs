//! Keyed clients for fault tests: each sends a command with its Idempotency-Key until it
//! settles, recording every answer, and the store is read afterwards to check the effects
//! were taken exactly once.

use super::Cluster;
use event_store::EventStore;
use events::StreamId;
use reqwest::StatusCode;
use serde_json::Value;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use write_side::domain::{Aggregate, StreamEvent, replay};

/// Where a fault test stands: before the fault, during it, after it.
#[derive(Debug, Default)]
pub struct Fault(std::sync::atomic::AtomicU8);

impl Fault {
    pub fn start(&self) {
        self.0.store(1, Ordering::SeqCst);
    }

    pub fn end(&self) {
        self.0.store(2, Ordering::SeqCst);
    }

    fn phase(&self) -> u8 {
        self.0.load(Ordering::SeqCst)
    }
}

/// What one request answered.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    /// The fault's phase when the request was sent and when it was answered.
    pub phases: (u8, u8),
    pub retry_after: bool,
    pub code: Option<String>,
}

impl Answer {
    /// Whether the request was in flight at some moment of the fault: sent or answered
    /// during it, or sent before and answered after.
    pub fn met_the_fault(&self) -> bool {
        self.phases.0 == 1 || self.phases.1 == 1 || self.phases == (0, 2)
    }
}

/// Sends one keyed request until it settles (not 503, not 202 PENDING), recording every
/// answer in `log`; returns the settled status and body. A request the server never
/// answered (a reset connection) counts as a 503 to retry.
pub async fn until_settled(
    cluster: &Cluster,
    url: &str,
    key: &str,
    body: &Value,
    fault: &Fault,
    log: &mut Vec<Answer>,
) -> (StatusCode, Value) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let sent = fault.phase();
        let response = cluster
            .client
            .post(url)
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await
            .expect("the command API answers");
        let status = response.status();
        let retry_after = response.headers().contains_key("retry-after");
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        log.push(Answer {
            status,
            phases: (sent, fault.phase()),
            retry_after,
            code: answer["code"].as_str().map(str::to_owned),
        });
        if status != StatusCode::SERVICE_UNAVAILABLE && status != StatusCode::ACCEPTED {
            return (status, answer);
        }
        assert!(
            Instant::now() < deadline,
            "{url} never settled: {status} {answer}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Asserts every answer was a success, a 202, or a retryable 503 with Retry-After and a
/// stable code (never a 500); answers how many 503s there were.
pub fn assert_only_retryable_failures<'a>(answers: impl IntoIterator<Item = &'a Answer>) -> usize {
    let mut unavailable = 0;
    for answer in answers {
        match answer.status {
            StatusCode::OK | StatusCode::CREATED | StatusCode::ACCEPTED => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                unavailable += 1;
                assert!(answer.retry_after, "a 503 without Retry-After: {answer:?}");
                assert!(
                    matches!(answer.code.as_deref(), Some("unavailable" | "overloaded")),
                    "a 503 with code {:?}",
                    answer.code
                );
            }
            other => panic!("unexpected {other}: {answer:?}"),
        }
    }
    unavailable
}

/// An aggregate as its stored events leave it.
pub async fn fold<A: Aggregate>(store: &dyn EventStore, stream: &StreamId) -> A {
    let recorded = store
        .read_stream(stream, 0)
        .await
        .expect("the stream reads");
    let events: Vec<A::Event> = recorded
        .iter()
        .map(|e| A::Event::decode(&e.event_type, e.schema_version, &e.payload).expect("decodes"))
        .collect();
    replay(A::default(), &events)
}

/// The keyed load of the fault tests: `clients` users, each `rounds` times charging
/// `charge` points and then ordering one unit of `product_id` (priced `price`, registered
/// with `stock`), every request with its own key and retried with it until it settles.
pub struct Workload {
    pub clients: i64,
    pub rounds: i64,
    pub charge: i64,
    pub product_id: i64,
    pub price: i64,
    pub stock: i64,
}

/// What one client did: what it paid for its orders, and every answer it got.
pub struct ClientRun {
    pub user: i64,
    pub paid: i64,
    pub log: Vec<Answer>,
}

impl Workload {
    /// Runs every client against the command API at `base`; `fault` says whether the fault
    /// is on (for the log), `settled` counts the requests settled so far.
    pub async fn run(
        &self,
        cluster: &Cluster,
        base: &str,
        fault: &Fault,
        settled: &std::sync::atomic::AtomicUsize,
    ) -> Vec<ClientRun> {
        let clients = (1..=self.clients).map(|user| async move {
            let mut log = Vec::new();
            let mut paid = 0;
            for round in 0..self.rounds {
                let (status, body) = until_settled(
                    cluster,
                    &format!("{base}/v1/users/{user}/points/charge"),
                    &format!("charge-{user}-{round}"),
                    &serde_json::json!({"amount": self.charge}),
                    fault,
                    &mut log,
                )
                .await;
                assert_eq!(status, StatusCode::OK, "charge {user}/{round}: {body}");
                settled.fetch_add(1, Ordering::SeqCst);
                let order = serde_json::json!({
                    "userId": user,
                    "items": [{"productId": self.product_id, "quantity": 1}],
                });
                let (status, body) = until_settled(
                    cluster,
                    &format!("{base}/v1/orders"),
                    &format!("order-{user}-{round}"),
                    &order,
                    fault,
                    &mut log,
                )
                .await;
                assert_eq!(status, StatusCode::CREATED, "order {user}/{round}: {body}");
                settled.fetch_add(1, Ordering::SeqCst);
                paid += body["paidAmount"].as_i64().expect("paidAmount");
            }
            ClientRun { user, paid, log }
        });
        futures::future::join_all(clients).await
    }

    /// The store, read directly, holds each acknowledged charge and each order exactly
    /// once: every balance is the charges minus the paid orders, the stock one unit less
    /// per order.
    pub async fn assert_exact(&self, store: &dyn EventStore, runs: &[ClientRun]) {
        use events::{ProductId, UserId};
        use write_side::domain::product::Product;
        use write_side::domain::wallet::Wallet;
        for run in runs {
            let user = run.user;
            assert_eq!(
                run.paid,
                self.rounds * self.price,
                "user {user} paid each order once"
            );
            let stream = StreamId::wallet(UserId::new(user).expect("user id"));
            let wallet: Wallet = fold(store, &stream).await;
            assert_eq!(
                wallet.balance().won(),
                self.rounds * self.charge - run.paid,
                "user {user}: acknowledged charges minus paid orders"
            );
        }
        let stream = StreamId::product(ProductId::new(self.product_id).expect("product id"));
        let product: Product = fold(store, &stream).await;
        assert_eq!(
            product.stock(),
            self.stock - self.clients * self.rounds,
            "one unit per order"
        );
    }
}

impl Workload {
    /// What every fault test of this workload asserts afterwards: no answer but a success
    /// or a retryable 503 (never a 500), some request in flight while the fault was on
    /// (else the test proved nothing; the group commit's retries may bridge a short fault,
    /// so not every such request sees a 503), and the store at `database_url`, read
    /// directly, exact.
    pub async fn assert_survived(&self, runs: &[ClientRun], database_url: &str) {
        let unavailable = assert_only_retryable_failures(answers(runs));
        let met = answers(runs)
            .filter(|answer| answer.met_the_fault())
            .count();
        assert!(met > 0, "no request met the fault: the test proved nothing");
        eprintln!("requests that met the fault: {met}; answered 503: {unavailable}");
        let store = event_store::mysql::MySqlEventStore::open(database_url, 2)
            .await
            .expect("the store opens");
        self.assert_exact(&store, runs).await;
    }
}

/// Every answer of every run.
pub fn answers(runs: &[ClientRun]) -> impl Iterator<Item = &Answer> {
    runs.iter().flat_map(|run| &run.log)
}
