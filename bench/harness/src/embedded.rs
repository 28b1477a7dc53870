//! The coupon rush against the embedded service, started in this process on a temp dir.

use crate::rush::{self, Rush, Target};
use shop::settings::{ExecutorStrategy, SqliteSync};
use shop::{Application, Settings};
use tokio_util::sync::CancellationToken;

pub struct Outcome {
    pub rush: Rush,
    pub issued_in_read_model: i64,
    pub total_quantity: i64,
}

pub async fn run(
    executor: ExecutorStrategy,
    sync: SqliteSync,
    clients: usize,
    requests: i64,
) -> anyhow::Result<Outcome> {
    let dir = tempfile::tempdir()?;
    let mut settings = Settings::embedded_in(dir.path());
    settings.executor = executor;
    settings.sqlite_sync = sync;
    let shutdown = CancellationToken::new();
    let app = Application::build(settings, shutdown.clone()).await?;
    let command = app.command_url();
    let query = app.query_url();
    let token = app.admin_token().expose().to_owned();
    let running = tokio::spawn(app.run_until_stopped());

    let http = rush::client(clients);
    let total_quantity = requests * 3 / 4;
    let coupon = rush::register_coupon(&http, &command, &token, total_quantity).await?;
    let outcome = rush::run(
        &http,
        Target {
            command_urls: std::slice::from_ref(&command),
            query_url: &query,
            coupon,
            clients,
            requests,
            lag_every: 0,
        },
    )
    .await?;

    let url = format!("{query}/v1/coupons/{coupon}");
    let token = outcome.last_position.to_string();
    let (status, body) = rush::get(&http, &url, Some(&token)).await?;
    anyhow::ensure!(
        status.is_success(),
        "cannot read the coupon back: {status} {body}"
    );
    let view: serde_json::Value = serde_json::from_str(&body)?;
    let issued_in_read_model = view["issuedQuantity"].as_i64().unwrap_or(-1);

    shutdown.cancel();
    running.await??;
    Ok(Outcome {
        rush: outcome,
        issued_in_read_model,
        total_quantity,
    })
}
