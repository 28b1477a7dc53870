//! `shop serve`: every role in one process. With the defaults that is the embedded mode
//! (SQLite, the in-process event feed, moka); with `SHOP_KAFKA_BROKERS` set, events go
//! through the relay and Kafka to the projectors exactly as between separate processes.
//! `build` binds the ports (0 picks free ones, which is what tests do) and returns;
//! `run_until_stopped` serves until shutdown.

use crate::backend;
use crate::roles::{self, command_api, projector, query_api};
use crate::settings::Settings;
use crate::store_writes::EventStoreWrites;
use anyhow::Context;
use api_common::AdminToken;
use projections::ProjectionHandles;
use read_side::{ReadProgress, WatchProgress};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use write_side::commands::CommandServices;

pub struct Application {
    command_addr: SocketAddr,
    query_addr: SocketAddr,
    admin_token: AdminToken,
    shutdown: CancellationToken,
    servers: Vec<JoinHandle<std::io::Result<()>>>,
    relay: Option<JoinHandle<anyhow::Result<()>>>,
    command_background: JoinHandle<()>,
    projections: ProjectionHandles,
    services: Arc<CommandServices>,
    saga: write_side::saga::OrderSaga,
}

impl Application {
    pub async fn build(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<Self> {
        let events = backend::open_event_store(&settings).await?;
        let read_pool = backend::open_read_models(&settings).await?;

        // The recorder exists before anything records (tests build apps without `main`).
        api_common::metrics::handle();
        let ops = crate::ops::command_ops(events.store.clone(), settings.kafka_brokers.clone());
        let command = command_api::start(&settings, &events, ops, shutdown.clone()).await?;
        if settings.demo_data {
            crate::demo::load_if_empty(&command.services).await?;
        }

        let (relay, projections, progress): (_, _, Arc<dyn ReadProgress>) =
            match &settings.kafka_brokers {
                Some(brokers) => {
                    let relay = roles::relay::spawn(&settings, &events, shutdown.clone())?;
                    let projections = projector::spawn_from_kafka(
                        &settings,
                        brokers,
                        read_pool.clone(),
                        shutdown.clone(),
                    )?;
                    let progress =
                        query_api::progress_from_other_processes(&settings, read_pool.clone());
                    (Some(relay), projections, progress)
                }
                None => {
                    let projections = projector::spawn_from_store(
                        events.store.clone(),
                        read_pool.clone(),
                        settings.timezone,
                        shutdown.clone(),
                    );
                    let progress = Arc::new(WatchProgress::new(projections.progress()));
                    (None, projections, progress)
                }
            };

        let query = query_api::start(
            &settings,
            read_pool,
            progress,
            EventStoreWrites::new(events.store.clone()),
            projections.lag(),
            shutdown.clone(),
        )
        .await?;
        Ok(Self {
            command_addr: command.addr,
            query_addr: query.addr,
            admin_token: command.admin_token,
            shutdown,
            servers: vec![command.server, query.server],
            relay,
            command_background: command.background,
            projections,
            services: command.services,
            saga: command.saga,
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
    /// (their commands are decided and committed) before the relay and projectors stop.
    /// A server that fails (or panics) cancels everything else the same way, and its error
    /// is the answer once the rest has stopped: nothing is left running on its own.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let mut first_error: Option<anyhow::Error> = None;
        let mut servers = self.servers;
        while !servers.is_empty() {
            let (ended, _, rest) = futures::future::select_all(servers).await;
            servers = rest;
            // Whichever ends first (normally: the shutdown began), the others follow.
            self.shutdown.cancel();
            let outcome = match ended {
                Ok(served) => served.context("a server failed"),
                Err(panicked) => {
                    Err(anyhow::Error::new(panicked).context("a server task panicked"))
                }
            };
            if let Err(error) = outcome {
                tracing::error!(error = %format!("{error:#}"), "stopping everything");
                first_error.get_or_insert(error);
            }
        }
        self.command_background
            .await
            .context("the command API's background work panicked")?;
        roles::command_api::drain(&self.saga, &self.services).await;
        if let Some(relay) = self.relay {
            roles::join("relay", relay).await?;
        }
        self.projections.join().await;
        first_error.map_or(Ok(()), Err)
    }
}
