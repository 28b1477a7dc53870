//! One module per process role of DESIGN.md. `shop serve` composes them in one process;
//! `shop command-api`, `relay`, `projector` and `query-api` run one each.

pub mod command_api;
pub mod projector;
pub mod query_api;
pub mod relay;

use tokio::task::JoinHandle;

/// Waits for a role's task; a panic or an error ends the process with its message.
pub async fn join(name: &str, task: JoinHandle<anyhow::Result<()>>) -> anyhow::Result<()> {
    match task.await {
        Ok(result) => result,
        Err(error) => Err(anyhow::anyhow!("the {name} task panicked: {error}")),
    }
}
