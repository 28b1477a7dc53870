//! `shop command-api`: decides commands against the event store and appends their events.

use crate::settings::Settings;
use anyhow::Context;
use api_common::AdminToken;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use write_side::commands::CommandServices;
use write_side::executor::ExecutorConfig;
use write_side::store::EventStore;

pub struct CommandApi {
    pub addr: SocketAddr,
    pub services: Arc<CommandServices>,
    pub admin_token: AdminToken,
    pub server: JoinHandle<std::io::Result<()>>,
}

/// Binds `SHOP_COMMAND_ADDR` and serves until `shutdown`.
pub async fn start(
    settings: &Settings,
    store: Arc<dyn EventStore>,
    shutdown: CancellationToken,
) -> anyhow::Result<CommandApi> {
    let config = ExecutorConfig {
        strategy: settings.executor.into(),
        ..ExecutorConfig::default()
    };
    let services = Arc::new(CommandServices::new(store, config));
    let admin_token = match &settings.admin_token {
        Some(token) => AdminToken::new(token.clone()),
        None => AdminToken::random(),
    };
    let router = write_side::http::router(services.clone(), admin_token.clone());
    let listener = TcpListener::bind(settings.command_addr)
        .await
        .with_context(|| {
            format!(
                "cannot listen on SHOP_COMMAND_ADDR={}",
                settings.command_addr
            )
        })?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(api_common::serve::serve(listener, router, shutdown));
    Ok(CommandApi {
        addr,
        services,
        admin_token,
        server,
    })
}
