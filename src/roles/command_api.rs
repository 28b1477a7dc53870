//! `shop command-api`: decides commands against the event store and appends their events,
//! and drives the order saga (with its recovery scan; one process scans at a time).

use crate::backend::EventStoreHandle;
use crate::settings::Settings;
use anyhow::Context;
use api_common::AdminToken;
use api_common::in_flight::InFlightLimit;
use event_store::leader::{LeaderLock, MySqlLeaderLock, NoLeaderLock};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use write_side::commands::CommandServices;
use write_side::executor::ExecutorConfig;
use write_side::saga::{OrderSaga, RECOVERY_READER, SagaConfig};

pub struct CommandApi {
    pub addr: SocketAddr,
    pub services: Arc<CommandServices>,
    pub saga: OrderSaga,
    pub admin_token: AdminToken,
    pub server: JoinHandle<std::io::Result<()>>,
    /// The role's background work until shutdown: the saga recovery scan, the sweep of
    /// idempotency keys past their retention, and forgetting idle users' rate limits.
    pub background: JoinHandle<()>,
}

/// Binds `SHOP_COMMAND_ADDR` and serves until `shutdown`.
/// `ops` is what this process's `/readyz` checks (see `crate::ops::command_ops`).
pub async fn start(
    settings: &Settings,
    events: &EventStoreHandle,
    ops: api_common::ops::Ops,
    shutdown: CancellationToken,
) -> anyhow::Result<CommandApi> {
    let config = ExecutorConfig {
        strategy: settings.executor.into(),
        max_queue_wait: settings.request_timeout(),
        ..ExecutorConfig::default()
    };
    let services = Arc::new(CommandServices::new(events.store.clone(), config));
    let saga = OrderSaga::new(services.clone(), saga_config(settings));
    let lock: Box<dyn LeaderLock> = match &events.mysql {
        Some(pool) => Box::new(MySqlLeaderLock::new(pool.clone(), RECOVERY_READER)),
        None => Box::new(NoLeaderLock),
    };
    let users = settings.user_guard();
    let background = tokio::spawn({
        let recovery = write_side::saga::run_recovery(saga.clone(), lock, shutdown.clone());
        let sweep = write_side::idempotency::sweep_until_stopped(
            events.store.clone(),
            Duration::from_secs(settings.idempotency_retention_hours * 3600),
            SWEEP_EVERY,
            shutdown.clone(),
        );
        let forget = forget_idle_users(users.clone(), shutdown.clone());
        async move {
            tokio::join!(recovery, sweep, forget);
        }
    });
    let admin_token = match &settings.admin_token {
        Some(token) => AdminToken::new(crate::secret::expose(token)),
        None => AdminToken::random(),
    };
    let access = command_api::Access {
        admin_token: admin_token.clone(),
        users,
        in_flight: InFlightLimit::new(
            usize::try_from(settings.max_in_flight).unwrap_or(usize::MAX),
        ),
        http: api_common::layers::HttpLimits {
            request_timeout: None,
            ..settings.http_limits()
        },
    };
    let router = command_api::router(saga.clone(), access)
        .layer(axum::middleware::from_fn(crate::otlp::continue_trace))
        .merge(ops.router());
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
        saga,
        admin_token,
        server,
        background,
    })
}

/// How long shutdown waits for the saga drivers and snapshot writes still running.
const DRAIN_WITHIN: Duration = Duration::from_secs(10);

/// The end of the role's one shutdown path, once its server has drained its requests (so
/// nothing can start new work), each step bounded: the saga drivers those requests started
/// (they send commands, so they go first), then the executors (every mailbox decides and
/// commits what it has queued; snapshot writes finish; the loading tasks are joined), then
/// the store's writer. Every task of the role is joined by then, or the wait ran out and
/// says so.
pub async fn drain(saga: &OrderSaga, services: &CommandServices) {
    let drivers = saga.drain(DRAIN_WITHIN).await;
    let executors = services.drain(DRAIN_WITHIN).await;
    if executors {
        services.store().close().await;
    }
    if !(drivers && executors) {
        tracing::warn!(
            drivers,
            executors,
            "shutdown did not wait for every task to finish"
        );
    }
}

/// How often idempotency keys past their retention are deleted.
const SWEEP_EVERY: Duration = Duration::from_secs(600);

fn saga_config(settings: &Settings) -> SagaConfig {
    SagaConfig {
        answer_within: Duration::from_millis(settings.order_wait_ms),
        recover_after: Duration::from_millis(settings.saga_recover_after_ms),
        ..SagaConfig::default()
    }
}

/// The per-user rate limiter keeps a cell per user; users idle long enough to be back at
/// a full burst are dropped, so the table tracks active users only.
async fn forget_idle_users(users: api_common::UserGuard, shutdown: CancellationToken) {
    let mut every = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = every.tick() => users.retain_recent(),
        }
    }
}
