//! The roles without an API serve `/healthz`, `/readyz` and `/metrics` on `SHOP_OPS_ADDR`:
//! the relay's publishing and the projector's per-projection progress show up there.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use crate::cluster;

use cluster::{Cluster, free_port};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn metric_appears(cluster: &Cluster, url: &str, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(response) = cluster.client.get(format!("{url}/metrics")).send().await
            && let Ok(text) = response.text().await
            && text.lines().any(|line| line.contains(needle))
        {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{needle} never appeared at {url}/metrics"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn relay_and_projector_serve_readiness_and_metrics() {
    let cluster = Cluster::new();
    cluster.migrate();
    let command = cluster.command_api().await;
    let relay_addr = format!("127.0.0.1:{}", free_port());
    let projector_addr = format!("127.0.0.1:{}", free_port());
    let _relay = cluster.background_role_with("relay", &[("SHOP_OPS_ADDR", &relay_addr)]);
    let _projector =
        cluster.background_role_with("projector", &[("SHOP_OPS_ADDR", &projector_addr)]);

    let response = cluster
        .client
        .post(format!(
            "{}/v1/users/3/points/charge",
            command.url.as_deref().unwrap()
        ))
        .json(&json!({"amount": 500}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let relay = format!("http://{relay_addr}");
    let projector = format!("http://{projector_addr}");
    metric_appears(&cluster, &relay, "shop_relay_published_events_total").await;
    metric_appears(
        &cluster,
        &projector,
        r#"shop_projection_events_total{projection="balances"}"#,
    )
    .await;

    for (url, checks) in [
        (&relay, vec!["database", "kafka"]),
        (&projector, vec!["database", "redis", "kafka"]),
    ] {
        let alive = cluster
            .client
            .get(format!("{url}/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(alive.status(), StatusCode::OK);
        let ready = cluster
            .client
            .get(format!("{url}/readyz"))
            .send()
            .await
            .unwrap();
        assert_eq!(ready.status(), StatusCode::OK);
        let body: Value = ready.json().await.unwrap();
        for check in checks {
            assert_eq!(body["checks"][check], "ok", "{url}: {body}");
        }
    }
}
