//! Traces across the Kafka hop, exported to a real OpenTelemetry Collector (the OTLP
//! receiver and the debug exporter, built by `scripts/otelcol.sh build`): an order sent
//! with a `traceparent` becomes a server span of the command API in the caller's trace,
//! and the projector's span for each event the order caused continues that trace with
//! the command API's span as its parent.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use crate::cluster;

use cluster::{Cluster, Role, free_port};
use reqwest::StatusCode;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const TRACE: &str = "5b8efff798038103d269b633813fc60c";
const CALLER_SPAN: &str = "eee19b7ec3c1b174";

fn collector_binary() -> PathBuf {
    let path = std::env::var_os("SHOP_TEST_OTELCOL").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/otelcol/otelcol-shop"),
        PathBuf::from,
    );
    assert!(
        path.exists(),
        "no collector at {}: build it with `scripts/otelcol.sh build`",
        path.display()
    );
    path
}

struct Collector {
    child: Child,
    output: PathBuf,
    endpoint: String,
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

async fn start_collector(dir: &Path) -> Collector {
    let port = free_port();
    let config = dir.join("otelcol.yaml");
    std::fs::write(
        &config,
        format!(
            "receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:{port}\n\
             exporters:\n  debug:\n    verbosity: detailed\n\
             service:\n  telemetry:\n    metrics:\n      level: none\n  pipelines:\n    traces:\n      \
             receivers: [otlp]\n      exporters: [debug]\n"
        ),
    )
    .unwrap();
    let output = dir.join("collector.log");
    let child = Command::new(collector_binary())
        // Only the file provider is built in, so the scheme is spelled out.
        .arg(format!("--config=file:{}", config.display()))
        .stdout(std::fs::File::create(dir.join("collector.out")).unwrap())
        .stderr(std::fs::File::create(&output).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the collector did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Collector {
        child,
        output,
        endpoint: format!("http://127.0.0.1:{port}"),
    }
}

/// SIGTERM and wait: the role's shutdown path flushes its batched spans.
fn stop_gracefully(role: &mut Role) {
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(role.child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    role.child.wait().unwrap();
}

/// One exported span as the debug exporter prints it.
#[derive(Debug, Default, Clone)]
struct Span {
    trace_id: String,
    parent_id: String,
    id: String,
    name: String,
}

fn spans(log: &str) -> Vec<Span> {
    let mut spans = Vec::new();
    let mut current: Option<Span> = None;
    for line in log.lines() {
        let line = line.trim();
        if line.starts_with("Span #") {
            spans.extend(current.take());
            current = Some(Span::default());
            continue;
        }
        let (Some(span), Some((key, value))) = (current.as_mut(), line.split_once(':')) else {
            continue;
        };
        let value = value.trim().to_owned();
        match key.trim() {
            "Trace ID" => span.trace_id = value,
            "Parent ID" => span.parent_id = value,
            "ID" => span.id = value,
            "Name" => span.name = value,
            _ => {}
        }
    }
    spans.extend(current);
    spans
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_orders_trace_reaches_the_collector_from_the_command_api_and_the_projector() {
    let dir = tempfile::tempdir().unwrap();
    let collector = start_collector(dir.path()).await;
    let mut cluster = Cluster::new();
    cluster.extra_env.push((
        "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
        collector.endpoint.clone(),
    ));
    cluster.migrate();
    let mut node = cluster
        .command_api_with(&[("OTEL_SERVICE_NAME", "shop-command-api")])
        .await;
    let _relay = cluster.relay();
    let mut projector =
        cluster.background_role_with("projector", &[("OTEL_SERVICE_NAME", "shop-projector")]);
    let query = cluster.query_api().await;

    let (status, product) = cluster
        .admin_post(
            &node,
            "/v1/products",
            json!({"name": "lamp", "price": 1_000, "stock": 5}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{product}");
    let product = product["productId"].as_i64().unwrap();
    let response = cluster
        .client
        .post(format!(
            "{}/v1/users/7/points/charge",
            node.url.as_deref().unwrap()
        ))
        .json(&json!({"amount": 10_000}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = cluster
        .client
        .post(format!("{}/v1/orders", node.url.as_deref().unwrap()))
        .header("traceparent", format!("00-{TRACE}-{CALLER_SPAN}-01"))
        .json(&json!({"userId": 7, "items": [{"productId": product, "quantity": 2}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let order: serde_json::Value = response.json().await.unwrap();
    let order = order["orderId"].as_i64().unwrap();
    // Through Kafka to the read model: the projector has applied the order's events.
    cluster
        .eventually(
            &query,
            &format!("/v1/orders/{order}"),
            Duration::from_secs(30),
            |v| v["status"] == "COMPLETED",
        )
        .await;

    stop_gracefully(&mut node);
    stop_gracefully(&mut projector);
    let deadline = Instant::now() + Duration::from_secs(20);
    let (request, projected) = loop {
        let found = spans(&std::fs::read_to_string(&collector.output).unwrap());
        let of_trace: Vec<Span> = found.into_iter().filter(|s| s.trace_id == TRACE).collect();
        let request = of_trace
            .iter()
            .find(|s| s.name == "command request")
            .cloned();
        let projected: Vec<Span> = of_trace
            .iter()
            .filter(|s| s.name == "project")
            .cloned()
            .collect();
        if let Some(request) = request
            && !projected.is_empty()
        {
            break (request, projected);
        }
        assert!(
            Instant::now() < deadline,
            "no request and project spans of trace {TRACE} exported; spans of it: {of_trace:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(request.parent_id, CALLER_SPAN, "{request:?}");
    // Every event of the order (its stream, the product's and the wallet's) was caused by
    // the request span, so each projected one names it as parent.
    assert!(projected.len() >= 3, "{projected:?}");
    for span in &projected {
        assert_eq!(span.parent_id, request.id, "{span:?}");
    }
}
