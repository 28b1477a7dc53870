//! `shop`: the CLI. Parses settings and hands over to the library.

use anyhow::Context;
use clap::{Parser, Subcommand};
use shop::rebuild::RebuildTarget;
use shop::roles::{self, command_api, projector, query_api};
use shop::{Application, Settings, backend};
use tokio_util::sync::CancellationToken;

// jemalloc instead of glibc malloc, for Rust and (unprefixed) for the C libraries linked in
// (librdkafka, SQLite): the command path allocates and frees many small and mid-sized
// buffers across threads, where glibc spent about a fifth of the command API's samples, and
// librdkafka's per-message headers were most of the relay's (docs/performance.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(name = "shop", version, about = "Event-sourced commerce backend")]
struct Cli {
    #[command(flatten)]
    settings: Settings,
    #[command(subcommand)]
    command: Option<Role>,
}

#[derive(Subcommand)]
enum Role {
    /// Every role in one process (the default): embedded unless MySQL/Kafka are configured.
    Serve,
    /// The command HTTP API alone.
    CommandApi,
    /// The relay alone: publishes stored events to Kafka.
    Relay,
    /// The projectors alone: read models from Kafka (or the event store, embedded).
    Projector,
    /// The query HTTP API alone.
    QueryApi,
    /// Create the database if needed and migrate the schema, then exit.
    Migrate,
    /// Load the sample catalog into an empty store, then exit.
    DemoData,
    /// Replay the event store into a fresh copy of a read model and swap it in.
    Rebuild {
        #[arg(value_enum)]
        projection: RebuildTarget,
    },
    /// Print the event contract for consumers, then exit.
    Contract {
        #[command(subcommand)]
        document: ContractDocument,
    },
}

#[derive(Subcommand)]
enum ContractDocument {
    /// The AsyncAPI 3.0 document of the Kafka topics (docs/asyncapi.json is its output).
    Asyncapi,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Test builds only: `FAILPOINTS` arms the saga's crash points.
    #[cfg(feature = "failpoints")]
    let _failpoints = fail::FailScenario::setup();
    let telemetry = shop::telemetry::init(&cli.settings)?;
    api_common::metrics::handle();
    let shutdown = api_common::shutdown::on_signal();
    let settings = cli.settings;
    let upkeep = tokio::spawn(api_common::metrics::upkeep_until_stopped(shutdown.clone()));
    let outcome = run(
        cli.command.unwrap_or(Role::Serve),
        settings,
        shutdown.clone(),
    )
    .await;
    // The role is done (stopped, or failed): the upkeep has nothing left to keep.
    shutdown.cancel();
    if let Err(error) = upkeep.await {
        tracing::warn!(%error, "the metrics upkeep task failed");
    }
    telemetry.shutdown();
    outcome
}

async fn run(
    role: Role,
    settings: shop::Settings,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    match role {
        Role::Serve => serve(settings, shutdown).await,
        Role::CommandApi => run_command_api(settings, shutdown).await,
        Role::Relay => run_relay(settings, shutdown).await,
        Role::Projector => run_projector(settings, shutdown).await,
        Role::QueryApi => run_query_api(settings, shutdown).await,
        Role::Migrate => {
            backend::open_event_store(&settings).await?;
            backend::open_read_models(&settings).await?;
            tracing::info!("schema is up to date");
            Ok(())
        }
        Role::Rebuild { projection } => shop::rebuild::run(&settings, projection).await,
        Role::Contract {
            document: ContractDocument::Asyncapi,
        } => {
            let events = events::contract::events();
            let document = events::contract::asyncapi::document(&events);
            print!("{}", events::contract::asyncapi::render(&document));
            Ok(())
        }
        Role::DemoData => {
            let events = backend::open_event_store(&settings).await?;
            let services = write_side::commands::CommandServices::new(
                events.store,
                write_side::executor::ExecutorConfig::default(),
            );
            shop::demo::load_if_empty(&services).await?;
            Ok(())
        }
    }
}

async fn serve(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<()> {
    let token_was_given = settings.admin_token.is_some();
    let app = Application::build(settings, shutdown).await?;
    tracing::info!(url = %app.command_url(), "command API listening");
    tracing::info!(url = %app.query_url(), "query API listening");
    log_admin_token(app.admin_token(), token_was_given);
    app.run_until_stopped().await
}

fn log_admin_token(token: &api_common::AdminToken, was_given: bool) {
    if was_given {
        tracing::info!("admin token taken from SHOP_ADMIN_TOKEN");
    } else {
        tracing::info!(
            admin_token = token.expose(),
            "SHOP_ADMIN_TOKEN is unset; generated an admin token for this run"
        );
    }
}

async fn run_command_api(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<()> {
    let events = backend::open_event_store(&settings).await?;
    let ops = shop::ops::command_ops(events.store.clone(), None);
    let api = command_api::start(&settings, &events, ops, shutdown).await?;
    tracing::info!(url = %format!("http://{}", api.addr), "command API listening");
    log_admin_token(&api.admin_token, settings.admin_token.is_some());
    api.server.await.context("the command API panicked")??;
    api.background
        .await
        .context("the command API's background work panicked")?;
    command_api::drain(&api.saga, &api.services).await;
    Ok(())
}

async fn run_relay(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<()> {
    let events = backend::open_event_store(&settings).await?;
    anyhow::ensure!(
        events.mysql.is_some(),
        "`shop relay` runs beside other processes and needs a shared store: set SHOP_DATABASE_URL=mysql://..."
    );
    let ops = match settings.ops_addr {
        Some(addr) => {
            let ops = shop::ops::command_ops(events.store.clone(), settings.kafka_brokers.clone());
            Some(shop::ops::serve(addr, ops, shutdown.clone()).await?)
        }
        None => None,
    };
    let relay = roles::relay::spawn(&settings, &events, shutdown)?;
    tracing::info!("relay started");
    let relayed = roles::join("relay", relay).await;
    join_ops(ops).await?;
    relayed
}

/// The operations server of a role without an API ends with the shutdown token.
async fn join_ops(ops: Option<tokio::task::JoinHandle<std::io::Result<()>>>) -> anyhow::Result<()> {
    if let Some(ops) = ops {
        ops.await
            .context("the operations server panicked")?
            .context("the operations server failed")?;
    }
    Ok(())
}

async fn run_projector(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<()> {
    let pool = backend::open_read_models(&settings).await?;
    let handles = match &settings.kafka_brokers {
        Some(brokers) => {
            projector::spawn_from_kafka(&settings, brokers, pool.clone(), shutdown.clone())?
        }
        None => {
            let events = backend::open_event_store(&settings).await?;
            projector::spawn_from_store(
                events.store,
                pool.clone(),
                settings.timezone,
                shutdown.clone(),
            )
        }
    };
    let ops = match settings.ops_addr {
        Some(addr) => {
            let ops = shop::ops::projector_ops(
                pool,
                settings.redis_url.as_deref(),
                settings.kafka_brokers.clone(),
                handles.lag(),
            );
            Some(shop::ops::serve(addr, ops, shutdown.clone()).await?)
        }
        None => None,
    };
    tracing::info!("projectors started");
    shutdown.cancelled().await;
    handles.join().await;
    join_ops(ops).await
}

async fn run_query_api(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<()> {
    let pool = backend::open_read_models(&settings).await?;
    let progress = query_api::progress_from_other_processes(&settings, pool.clone());
    // Opened for Consistency-Tokens only: one naming a write the store has not made is
    // refused at once (its head, and a stream's version when a read model lags).
    let events = backend::open_event_store(&settings).await?;
    let writes = shop::store_writes::EventStoreWrites::new(events.store);
    let api = query_api::start(
        &settings,
        pool,
        progress,
        writes,
        Default::default(),
        shutdown,
    )
    .await?;
    tracing::info!(url = %format!("http://{}", api.addr), "query API listening");
    api.server.await.context("the query API panicked")??;
    Ok(())
}
