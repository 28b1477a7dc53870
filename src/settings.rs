//! Typed settings: every `SHOP_*` variable, overridable by a flag, parsed once at start-up.
//! A bad value stops the process with a message naming the variable.

use crate::secret::{Secret, SecretUrl};
use chrono_tz::Tz;
use clap::{Args, ValueEnum};
use event_store::sqlite::Durability;
use std::net::SocketAddr;
use std::path::PathBuf;
use write_side::executor::Strategy;

#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Event store URL. `sqlite://path` runs embedded (read models live beside it in
    /// `<path stem>-read.db`); `mysql://user:pass@host:port/db` is the full mode (event
    /// store and read models in that database, created if missing).
    #[arg(long, env = "SHOP_DATABASE_URL", default_value = "sqlite://data/shop.db", value_parser = parse_database_url)]
    pub database_url: SecretUrl,

    /// Redis for hot views (`redis://host:port`); unset: in-process caches only.
    #[arg(long, env = "SHOP_REDIS_URL", value_parser = parse_redis_url)]
    pub redis_url: Option<String>,

    /// Kafka bootstrap servers (`host:port,...`); unset: the in-process event feed.
    #[arg(long, env = "SHOP_KAFKA_BROKERS", value_parser = parse_brokers)]
    pub kafka_brokers: Option<String>,

    /// Prefix of topic names (`{prefix}wallet`, ...) and consumer groups.
    #[arg(long, env = "SHOP_KAFKA_TOPIC_PREFIX", default_value = "shop.", value_parser = parse_name_prefix)]
    pub kafka_topic_prefix: String,

    /// The CloudEvents `source` (`ce_source` header) of every event the relay publishes:
    /// a URI reference naming this deployment, e.g. `/shop` or `https://shop.example/eu`.
    #[arg(long, env = "SHOP_CLOUDEVENTS_SOURCE", default_value = events::contract::cloudevents::DEFAULT_SOURCE, value_parser = parse_cloudevents_source)]
    pub cloudevents_source: String,

    /// OpenTelemetry collector base URL (OTLP over HTTP, `/v1/traces` is added): when set,
    /// the spans that carry a request's W3C trace are exported there. Unset: no export.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT", value_parser = parse_otlp_endpoint)]
    pub otlp_endpoint: Option<url::Url>,

    /// `service.name` of the exported spans.
    #[arg(long, env = "OTEL_SERVICE_NAME", default_value = "shop")]
    pub otel_service_name: String,

    /// Prefix of every Redis key this deployment writes or reads.
    #[arg(long, env = "SHOP_REDIS_PREFIX", default_value = events::names::hot_view::DEFAULT_PREFIX, value_parser = parse_name_prefix)]
    pub redis_prefix: String,

    /// IANA time zone whose calendar days the sales ranking counts in (`Asia/Seoul`,
    /// `UTC`, ...): an order completed at 15:00 UTC sold "tomorrow" in Seoul.
    #[arg(long, env = "SHOP_TIMEZONE", default_value = "Asia/Seoul", value_parser = parse_timezone)]
    pub timezone: Tz,

    /// Connections per MySQL pool.
    #[arg(long, env = "SHOP_DATABASE_POOL", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub database_pool: u32,

    /// Where `shop relay` and `shop projector` serve `/healthz`, `/readyz` and `/metrics`
    /// (unset: they serve nothing; the APIs always serve them on their own port).
    #[arg(long, env = "SHOP_OPS_ADDR")]
    pub ops_addr: Option<SocketAddr>,

    #[arg(long, env = "SHOP_COMMAND_ADDR", default_value = "127.0.0.1:8080")]
    pub command_addr: SocketAddr,

    #[arg(long, env = "SHOP_QUERY_ADDR", default_value = "127.0.0.1:8081")]
    pub query_addr: SocketAddr,

    /// Bearer token for admin routes; a random one is made (and logged) when unset.
    #[arg(long, env = "SHOP_ADMIN_TOKEN", hide_env_values = true, value_parser = crate::secret::parse_secret)]
    pub admin_token: Option<Secret>,

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

    /// How long `POST /v1/orders` waits for the saga's outcome before answering 202
    /// PENDING, in milliseconds.
    #[arg(long, env = "SHOP_ORDER_WAIT_MS", default_value_t = 3_000, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub order_wait_ms: u64,

    /// HS256 secret for user JWTs; when set, user routes need `Authorization: Bearer <JWT>`
    /// whose `sub` is the user in the path or body.
    #[arg(long, env = "SHOP_JWT_SECRET", hide_env_values = true, value_parser = parse_jwt_secret)]
    pub jwt_secret: Option<Secret>,

    /// Coupon issues and orders one user may send per second (0: no limit).
    #[arg(long, env = "SHOP_USER_RATE_PER_SEC", default_value_t = 50, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub user_rate_per_sec: u32,

    /// How many of those one user may send at once before the rate applies.
    #[arg(long, env = "SHOP_USER_RATE_BURST", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub user_rate_burst: u32,

    /// Largest request body accepted, in bytes (larger: 413 `payload-too-large`).
    #[arg(long, env = "SHOP_MAX_BODY_BYTES", default_value_t = 1_048_576, value_parser = clap::value_parser!(u64).range(1_024..=67_108_864))]
    pub max_body_bytes: u64,

    /// A query still running after this many milliseconds is answered 503; a command not
    /// yet decided after it is answered 503 without being decided (a decided one is
    /// answered with its commit's real outcome, never "retry").
    #[arg(long, env = "SHOP_REQUEST_TIMEOUT_MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub request_timeout_ms: u64,

    /// Commands in flight per command-API process before callers get 503 `overloaded`.
    #[arg(long, env = "SHOP_MAX_IN_FLIGHT", default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_in_flight: u64,

    /// The order saga's recovery scan drives an order left unsettled this long, in
    /// milliseconds (after a crash, an outage, or a driver in another process that died).
    #[arg(long, env = "SHOP_SAGA_RECOVER_AFTER_MS", default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(0..=3_600_000))]
    pub saga_recover_after_ms: u64,

    /// How long the outcome of a command sent with an Idempotency-Key is kept for its
    /// repeats, in hours (at least 24).
    #[arg(long, env = "SHOP_IDEMPOTENCY_RETENTION_HOURS", default_value_t = 24, value_parser = clap::value_parser!(u64).range(24..=8_760))]
    pub idempotency_retention_hours: u64,
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

fn parse_database_url(raw: &str) -> Result<SecretUrl, String> {
    check_database_url(raw).map(SecretUrl::from)
}

fn check_database_url(raw: &str) -> Result<String, String> {
    let database = raw
        .strip_prefix("mysql://")
        .and_then(|rest| rest.split_once('/'))
        .map(|(_, db)| db.split('?').next().unwrap_or_default());
    if raw.starts_with("sqlite:") {
        Ok(raw.to_owned())
    } else if let Some(database) = database {
        if !database.is_empty()
            && database.len() <= 64
            && database
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            Ok(raw.to_owned())
        } else {
            Err("mysql URLs name a database of letters, digits and _: mysql://user:pass@host:3306/shop".to_owned())
        }
    } else {
        Err("expected sqlite://path or mysql://user:pass@host:port/database".to_owned())
    }
}

fn parse_jwt_secret(raw: &str) -> Result<Secret, String> {
    if raw.len() >= 16 {
        crate::secret::parse_secret(raw)
    } else {
        Err("use at least 16 bytes".to_owned())
    }
}

fn parse_redis_url(raw: &str) -> Result<String, String> {
    if raw.starts_with("redis://") || raw.starts_with("rediss://") {
        Ok(raw.to_owned())
    } else {
        Err("expected redis://host:port".to_owned())
    }
}

fn parse_brokers(raw: &str) -> Result<String, String> {
    let valid = !raw.is_empty()
        && raw.split(',').all(|broker| {
            broker
                .trim()
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
        });
    if valid {
        Ok(raw.to_owned())
    } else {
        Err("expected host:port[,host:port...]".to_owned())
    }
}

/// A URI reference as CloudEvents requires for `source`: non-empty, printable ASCII
/// without spaces (Kafka header values are bytes, but consumers parse this one as a URI).
fn parse_cloudevents_source(raw: &str) -> Result<String, String> {
    if !raw.is_empty() && raw.len() <= 512 && raw.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(raw.to_owned())
    } else {
        Err("expected a URI reference such as /shop (printable ASCII, no spaces)".to_owned())
    }
}

fn parse_otlp_endpoint(raw: &str) -> Result<url::Url, String> {
    match url::Url::parse(raw) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(url),
        _ => Err("expected an http(s) URL such as http://127.0.0.1:4318".to_owned()),
    }
}

fn parse_timezone(raw: &str) -> Result<Tz, String> {
    raw.parse::<Tz>().map_err(|_| {
        "SHOP_TIMEZONE must be an IANA time zone name such as Asia/Seoul or UTC".to_owned()
    })
}

/// Topic and key prefixes end up in Kafka topic names and Redis keys: keep them plain.
fn parse_name_prefix(raw: &str) -> Result<String, String> {
    if raw.len() <= 100
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:".contains(&b))
    {
        Ok(raw.to_owned())
    } else {
        Err("use at most 100 letters, digits and . _ - :".to_owned())
    }
}

impl Settings {
    /// Settings for tests and tools: embedded SQLite under `dir`, ports chosen by the OS.
    pub fn embedded_in(dir: &std::path::Path) -> Self {
        Self {
            database_url: format!("sqlite://{}", dir.join("shop.db").display()).into(),
            ops_addr: None,
            command_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            query_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            redis_url: None,
            kafka_brokers: None,
            kafka_topic_prefix: "shop.".to_owned(),
            cloudevents_source: events::contract::cloudevents::DEFAULT_SOURCE.to_owned(),
            otlp_endpoint: None,
            otel_service_name: "shop".to_owned(),
            redis_prefix: events::names::hot_view::DEFAULT_PREFIX.to_owned(),
            timezone: chrono_tz::Asia::Seoul,
            database_pool: 8,
            admin_token: Some(Secret::from("test-admin-token")),
            demo_data: false,
            log: "warn".to_owned(),
            log_format: LogFormat::Text,
            executor: ExecutorStrategy::Mailbox,
            sqlite_sync: SqliteSync::Normal,
            jwt_secret: None,
            user_rate_per_sec: 50,
            user_rate_burst: 100,
            max_in_flight: 20_000,
            max_body_bytes: 1_048_576,
            request_timeout_ms: 30_000,
            order_wait_ms: 3_000,
            saga_recover_after_ms: 5_000,
            idempotency_retention_hours: 24,
        }
    }

    pub fn request_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.request_timeout_ms)
    }

    pub fn http_limits(&self) -> api_common::layers::HttpLimits {
        api_common::layers::HttpLimits {
            max_body_bytes: usize::try_from(self.max_body_bytes).unwrap_or(usize::MAX),
            request_timeout: Some(self.request_timeout()),
        }
    }

    /// JWT checks and per-user rate limits as configured.
    pub fn user_guard(&self) -> api_common::UserGuard {
        let rate = std::num::NonZeroU32::new(self.user_rate_per_sec)
            .zip(std::num::NonZeroU32::new(self.user_rate_burst));
        api_common::UserGuard::new(self.jwt_secret.as_ref().map(crate::secret::expose), rate)
    }

    pub fn is_mysql(&self) -> bool {
        self.database_url.expose().starts_with("mysql:")
    }

    /// The SQLite file of the event store.
    pub fn sqlite_path(&self) -> PathBuf {
        let path = self
            .database_url
            .expose()
            .trim_start_matches("sqlite:")
            .trim_start_matches("//");
        PathBuf::from(path.split('?').next().unwrap_or(path))
    }

    /// On SQLite, read models sit in their own file so projector writes never wait on
    /// appends; on MySQL they share the event store's database.
    pub fn read_model_url(&self) -> String {
        if self.is_mysql() {
            return self.database_url.expose().to_owned();
        }
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
        settings.database_url = "sqlite://data/shop.db".into();
        assert_eq!(settings.sqlite_path(), PathBuf::from("data/shop.db"));
        assert_eq!(settings.read_model_url(), "sqlite://data/shop-read.db");
    }

    #[test]
    fn bad_urls_and_prefixes_are_refused() {
        assert!(parse_database_url("mysql://shop:shop@127.0.0.1:3306/shop").is_ok());
        assert!(parse_database_url("mysql://shop:shop@127.0.0.1:3306/").is_err());
        assert!(parse_database_url("mysql://h/db;drop").is_err());
        assert!(parse_database_url("postgres://h/db").is_err());
        assert!(parse_brokers("127.0.0.1:9092,b:9093").is_ok());
        assert!(parse_brokers("127.0.0.1").is_err());
        assert!(parse_redis_url("127.0.0.1:6379").is_err());
        assert!(parse_name_prefix("t1.").is_ok());
        assert!(parse_cloudevents_source("/shop").is_ok());
        assert!(parse_cloudevents_source("https://shop.example/eu").is_ok());
        assert!(parse_cloudevents_source("").is_err());
        assert!(parse_otlp_endpoint("http://127.0.0.1:4318").is_ok());
        assert!(parse_otlp_endpoint("127.0.0.1:4318").is_err());
        assert!(parse_cloudevents_source("/my shop").is_err());
        assert!(parse_name_prefix("a b").is_err());
        assert_eq!(parse_timezone("Asia/Seoul"), Ok(chrono_tz::Asia::Seoul));
        assert!(parse_timezone("Mars/Olympus").is_err());
    }
}
