//! The embedded all-in-one application: event store and read models on SQLite, the
//! projectors fed in-process, both HTTP APIs. `build` binds the ports (0 picks free ones,
//! which is what tests do) and returns; `run_until_stopped` serves until shutdown.

use crate::feed::StoreFeed;
use crate::settings::Settings;
use anyhow::Context;
use api_common::AdminToken;
use projections::ProjectionHandles;
use read_side::{QueryState, WatchProgress};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use write_side::commands::CommandServices;
use write_side::executor::ExecutorConfig;
use write_side::store::EventStore;
use write_side::store::sqlite::SqliteEventStore;

pub struct Application {
    command_addr: SocketAddr,
    query_addr: SocketAddr,
    admin_token: AdminToken,
    shutdown: CancellationToken,
    servers: Vec<JoinHandle<std::io::Result<()>>>,
    projections: ProjectionHandles,
    services: Arc<CommandServices>,
}

impl Application {
    pub async fn build(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<Self> {
        let events_path = settings.sqlite_path();
        if let Some(dir) = events_path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
        }
        let store: Arc<dyn EventStore> = Arc::new(
            SqliteEventStore::open(&settings.database_url, settings.sqlite_sync.into())
                .await
                .with_context(|| {
                    format!("cannot open the event store {}", settings.database_url)
                })?,
        );
        let read_url = settings.read_model_url();
        let read_pool = projections::open_read_db(&read_url)
            .await
            .with_context(|| format!("cannot open the read models {read_url}"))?;

        let config = ExecutorConfig {
            strategy: settings.executor.into(),
            ..ExecutorConfig::default()
        };
        let services = Arc::new(CommandServices::new(store.clone(), config));
        if settings.demo_data {
            crate::demo::load_if_empty(&services).await?;
        }

        let projections = projections::spawn_projections(
            read_pool.clone(),
            Arc::new(StoreFeed(store.clone())),
            shutdown.clone(),
        );
        let progress = Arc::new(WatchProgress::new(projections.progress()));

        let admin_token = match &settings.admin_token {
            Some(token) => AdminToken::new(token.clone()),
            None => AdminToken::random(),
        };
        let command_router = write_side::http::router(services.clone(), admin_token.clone());
        let query_router = read_side::router(QueryState::new(read_pool, progress));

        let command_listener = TcpListener::bind(settings.command_addr)
            .await
            .with_context(|| {
                format!(
                    "cannot listen on SHOP_COMMAND_ADDR={}",
                    settings.command_addr
                )
            })?;
        let query_listener = TcpListener::bind(settings.query_addr)
            .await
            .with_context(|| format!("cannot listen on SHOP_QUERY_ADDR={}", settings.query_addr))?;
        let command_addr = command_listener.local_addr()?;
        let query_addr = query_listener.local_addr()?;
        let servers = vec![
            tokio::spawn(api_common::serve::serve(
                command_listener,
                command_router,
                shutdown.clone(),
            )),
            tokio::spawn(api_common::serve::serve(
                query_listener,
                query_router,
                shutdown.clone(),
            )),
        ];
        Ok(Self {
            command_addr,
            query_addr,
            admin_token,
            shutdown,
            servers,
            projections,
            services,
        })
    }

    pub fn command_url(&self) -> String {
        format!("http://{}", self.command_addr)
    }

    pub fn query_url(&self) -> String {
        format!("http://{}", self.query_addr)
    }

    pub fn admin_token(&self) -> &AdminToken {
        &self.admin_token
    }

    pub fn services(&self) -> &Arc<CommandServices> {
        &self.services
    }

    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves until the shutdown token is cancelled, then lets in-flight requests finish
    /// (their commands are decided and committed) before the projectors stop.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        for server in self.servers {
            server.await.context("a server task panicked")??;
        }
        self.shutdown.cancel();
        self.projections.join().await;
        Ok(())
    }
}
