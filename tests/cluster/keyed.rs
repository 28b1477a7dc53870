//! Keyed clients for fault tests: each sends a command with its Idempotency-Key until it
//! settles, recording every answer, and the store is read afterwards to check the effects
//! were taken exactly once.

use super::Cluster;
use events::StreamId;
use reqwest::StatusCode;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use write_side::domain::{Aggregate, StreamEvent, replay};
use write_side::store::EventStore;

/// What one request answered.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    /// Whether the fault was on when it was sent.
    pub during_fault: bool,
    pub retry_after: bool,
    pub code: Option<String>,
}

/// Sends one keyed request until it settles (not 503, not 202 PENDING), recording every
/// answer in `log`; returns the settled status and body. A request the server never
/// answered (a reset connection) counts as a 503 to retry.
pub async fn until_settled(
    cluster: &Cluster,
    url: &str,
    key: &str,
    body: &Value,
    fault: &AtomicBool,
    log: &mut Vec<Answer>,
) -> (StatusCode, Value) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let during_fault = fault.load(Ordering::SeqCst);
        let sent = cluster
            .client
            .post(url)
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await;
        let response = sent.expect("the command API answers");
        let status = response.status();
        let retry_after = response.headers().contains_key("retry-after");
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        log.push(Answer {
            status,
            during_fault,
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
