//! The process's Prometheus recorder and the HTTP request metrics every route gets.
//! Crates record through the `metrics` facade; this installs the one recorder that
//! `/metrics` renders.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;

/// Latency buckets in seconds: 100 µs to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];
/// Batch sizes and queue depths.
const SIZE_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0, 16384.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the recorder on first use (once per process: tests start several apps in one
/// process) and answers its handle; `None` if another recorder was installed first.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), LATENCY_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Suffix("_size".to_owned()), SIZE_BUCKETS)
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Suffix("_depth".to_owned()), SIZE_BUCKETS)
                });
            match builder.map(PrometheusBuilder::install_recorder) {
                Ok(Ok(handle)) => Some(handle),
                Ok(Err(error)) => {
                    tracing::warn!(%error, "cannot install the metrics recorder");
                    None
                }
                Err(error) => {
                    tracing::warn!(%error, "invalid metrics buckets");
                    None
                }
            }
        })
        .as_ref()
}

/// How often histogram samples are folded into their buckets (`upkeep_until_stopped`).
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Folds recorded histogram samples into their buckets every few seconds until
/// `shutdown`. The recorder keeps every sample until it is rendered or upkept: without
/// this, a process nobody scrapes grows by each sample (about 15 per order) for ever.
pub async fn upkeep_until_stopped(shutdown: tokio_util::sync::CancellationToken) {
    let Some(handle) = handle() else { return };
    let mut every = tokio::time::interval(UPKEEP_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = every.tick() => handle.run_upkeep(),
        }
    }
}

/// Counts and times every request by route template (not raw path, so ids do not explode
/// the label space), method and status.
pub async fn track_http(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("route", route), ("method", method), ("status", status)];
    metrics::counter!("shop_http_requests_total", &labels).increment(1);
    metrics::histogram!("shop_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}
