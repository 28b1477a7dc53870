//! Operations routes every process serves beside its API: `/readyz` (are the dependencies
//! this process is configured with reachable?) and `/metrics` (Prometheus text).

use async_trait::async_trait;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Each check gets this long before it counts as down.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// One dependency's reachability, e.g. the database or Redis.
#[async_trait]
pub trait ReadinessProbe: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    /// `Err` carries a short, operator-facing reason (no secrets).
    async fn check(&self) -> Result<(), String>;
}

type ScrapeHook = Arc<dyn Fn() + Send + Sync>;

/// What `/readyz` checks and what `/metrics` refreshes before rendering.
#[derive(Clone, Default)]
pub struct Ops {
    probes: Vec<Arc<dyn ReadinessProbe>>,
    on_scrape: Vec<ScrapeHook>,
}

impl Ops {
    pub fn probe(mut self, probe: impl ReadinessProbe) -> Self {
        self.probes.push(Arc::new(probe));
        self
    }

    /// Runs before each scrape, e.g. to copy counters kept elsewhere into gauges.
    pub fn on_scrape(mut self, hook: impl Fn() + Send + Sync + 'static) -> Self {
        self.on_scrape.push(Arc::new(hook));
        self
    }

    pub fn router(self) -> Router {
        let ops = Arc::new(self);
        let ready = ops.clone();
        Router::new()
            .route("/readyz", get(move || readyz(ready.clone())))
            .route("/metrics", get(move || metrics(ops.clone())))
            .method_not_allowed_fallback(crate::layers::method_not_allowed)
    }
}

/// 200 `{"status":"ready","checks":{..}}`, or 503 `"degraded"` naming each check that failed.
async fn readyz(ops: Arc<Ops>) -> impl IntoResponse {
    let results = futures::future::join_all(ops.probes.iter().map(|probe| async move {
        let outcome = match tokio::time::timeout(CHECK_TIMEOUT, probe.check()).await {
            Ok(Ok(())) => "ok".to_owned(),
            Ok(Err(reason)) => format!("down: {reason}"),
            Err(_) => format!("down: no answer within {} s", CHECK_TIMEOUT.as_secs()),
        };
        (probe.name(), outcome)
    }))
    .await;
    let ready = results.iter().all(|(_, outcome)| outcome == "ok");
    let checks: Map<String, Value> = results
        .into_iter()
        .map(|(name, outcome)| (name.to_owned(), Value::String(outcome)))
        .collect();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({"status": if ready { "ready" } else { "degraded" }, "checks": checks});
    (status, axum::Json(body))
}

async fn metrics(ops: Arc<Ops>) -> impl IntoResponse {
    for hook in &ops.on_scrape {
        hook();
    }
    let body = crate::metrics::handle().map_or_else(String::new, |handle| handle.render());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}
