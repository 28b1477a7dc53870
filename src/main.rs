//! `shop`: the CLI. Parses settings and hands over to the library.

use clap::{Parser, Subcommand};
use shop::{Application, Settings};

#[derive(Parser)]
#[command(name = "shop", version, about = "Event-sourced commerce backend")]
struct Cli {
    #[command(flatten)]
    settings: Settings,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Every role in one process on the embedded backend (the default).
    Serve,
    /// Create or upgrade the schema, then exit.
    Migrate,
    /// Load the sample catalog into an empty store, then exit.
    DemoData,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    shop::telemetry::init(&cli.settings)?;
    let shutdown = api_common::shutdown::on_signal();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.settings, shutdown).await,
        Command::Migrate => {
            let mut settings = cli.settings;
            settings.demo_data = false;
            migrate_only(settings).await
        }
        Command::DemoData => {
            let mut settings = cli.settings;
            settings.demo_data = true;
            migrate_only(settings).await
        }
    }
}

async fn serve(
    settings: Settings,
    shutdown: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    let token_was_given = settings.admin_token.is_some();
    let app = Application::build(settings, shutdown).await?;
    tracing::info!(url = %app.command_url(), "command API listening");
    tracing::info!(url = %app.query_url(), "query API listening");
    if token_was_given {
        tracing::info!("admin token taken from SHOP_ADMIN_TOKEN");
    } else {
        tracing::info!(
            admin_token = app.admin_token().expose(),
            "SHOP_ADMIN_TOKEN is unset; generated an admin token for this run"
        );
    }
    app.run_until_stopped().await
}

/// Opens (and so migrates) the stores, loads demo data if asked, and stops.
async fn migrate_only(mut settings: Settings) -> anyhow::Result<()> {
    settings.command_addr = ([127, 0, 0, 1], 0).into();
    settings.query_addr = ([127, 0, 0, 1], 0).into();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let app = Application::build(settings, shutdown.clone()).await?;
    shutdown.cancel();
    app.run_until_stopped().await?;
    tracing::info!("schema is up to date");
    Ok(())
}
