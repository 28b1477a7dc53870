//! Typed settings: every `SHOP_*` variable, overridable by a flag, parsed once at start-up.
//! A bad value stops the process with a message naming the variable.

use clap::{Args, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use write_side::executor::Strategy;
use write_side::store::sqlite::Durability;

#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Event store URL. `sqlite://path` runs embedded; read models live beside it in
    /// `<path stem>-read.db`.
    #[arg(long, env = "SHOP_DATABASE_URL", default_value = "sqlite://data/shop.db", value_parser = parse_database_url)]
    pub database_url: String,

    #[arg(long, env = "SHOP_COMMAND_ADDR", default_value = "127.0.0.1:8080")]
    pub command_addr: SocketAddr,

    #[arg(long, env = "SHOP_QUERY_ADDR", default_value = "127.0.0.1:8081")]
    pub query_addr: SocketAddr,

    /// Bearer token for admin routes; a random one is made (and logged) when unset.
    #[arg(long, env = "SHOP_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// Load a sample catalog and coupons into an empty store.
    #[arg(long, env = "SHOP_DEMO_DATA", default_value = "true", action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub demo_data: bool,

    /// Tracing filter, e.g. `info` or `shop=debug,tower_http=info`.
    #[arg(long, env = "SHOP_LOG", default_value = "info")]
    pub log: String,

    #[arg(long, env = "SHOP_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,

    /// How commands reach the store: `mailbox` (group commit per aggregate) or `direct`
    /// (one optimistic append per command; the baseline the benchmark compares against).
    #[arg(long, env = "SHOP_EXECUTOR", default_value = "mailbox")]
    pub executor: ExecutorStrategy,

    /// SQLite fsync policy: `full` survives power loss, `normal` survives process crashes.
    #[arg(long, env = "SHOP_SQLITE_SYNC", default_value = "full")]
    pub sqlite_sync: SqliteSync,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExecutorStrategy {
    Mailbox,
    Direct,
}

impl From<ExecutorStrategy> for Strategy {
    fn from(value: ExecutorStrategy) -> Self {
        match value {
            ExecutorStrategy::Mailbox => Strategy::Mailbox,
            ExecutorStrategy::Direct => Strategy::Direct,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SqliteSync {
    Full,
    Normal,
}

impl From<SqliteSync> for Durability {
    fn from(value: SqliteSync) -> Self {
        match value {
            SqliteSync::Full => Durability::Full,
            SqliteSync::Normal => Durability::Normal,
        }
    }
}

fn parse_database_url(raw: &str) -> Result<String, String> {
    if raw.starts_with("sqlite:") {
        Ok(raw.to_owned())
    } else if raw.starts_with("mysql:") {
        Err("the MySQL backend is not part of this build yet; use sqlite://path".to_owned())
    } else {
        Err("expected sqlite://path".to_owned())
    }
}

impl Settings {
    /// Settings for tests and tools: embedded SQLite under `dir`, ports chosen by the OS.
    pub fn embedded_in(dir: &std::path::Path) -> Self {
        Self {
            database_url: format!("sqlite://{}", dir.join("shop.db").display()),
            command_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            query_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            admin_token: Some("test-admin-token".to_owned()),
            demo_data: false,
            log: "warn".to_owned(),
            log_format: LogFormat::Text,
            executor: ExecutorStrategy::Mailbox,
            sqlite_sync: SqliteSync::Normal,
        }
    }

    /// The SQLite file of the event store.
    pub fn sqlite_path(&self) -> PathBuf {
        let path = self
            .database_url
            .trim_start_matches("sqlite:")
            .trim_start_matches("//");
        PathBuf::from(path.split('?').next().unwrap_or(path))
    }

    /// Read models sit in their own file so projector writes never wait on appends.
    pub fn read_model_url(&self) -> String {
        let events = self.sqlite_path();
        let stem = events
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "shop".to_owned());
        format!(
            "sqlite://{}",
            events.with_file_name(format!("{stem}-read.db")).display()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_models_live_beside_the_event_store() {
        let mut settings = Settings::embedded_in(std::path::Path::new("/tmp/x"));
        settings.database_url = "sqlite://data/shop.db".to_owned();
        assert_eq!(settings.sqlite_path(), PathBuf::from("data/shop.db"));
        assert_eq!(settings.read_model_url(), "sqlite://data/shop-read.db");
    }
}
