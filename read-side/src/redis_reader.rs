//! Reads the hot entity views the projector keeps in Redis. Redis is an accelerator, never
//! a dependency: every failure here becomes "not found in Redis" and the read falls through
//! to the in-process cache and SQL.
//!
//! The contract with the projector (which writes each view with one `HSET`):
//! - `{prefix}balance:{userId}`: `balance`, `v`
//! - `{prefix}product:{productId}`: `productId`, `name`, `price`, `stock`, `v`
//! - `{prefix}coupon:{couponId}`: `couponId`, `name`, `discountKind`, `discountValue`,
//!   `totalQuantity`, `issuedQuantity`, `validFrom`, `validUntil` (RFC 3339, or empty for no
//!   bound), `v`
//!
//! - `{prefix}order:{orderId}`: `orderId`, `userId`, `status`, `items` (JSON), `totalAmount`,
//!   `discountAmount`, `paidAmount`, `reason` (empty unless cancelled), `v`
//!
//! `v` is the last version of the entity's stream the view reflects; a request whose
//! consistency token names that stream is answered from the view only if `v` has reached it.
//!
//! The sales ranking: `{prefix}sales:{YYYY-MM-DD}` sorted sets (product id -> units sold
//! that day), trusted only while `{prefix}sales:ready` exists.

use crate::log_limit::LogLimiter;
use events::names::hot_view::{View, sales};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, OnceLock, Weak};
use std::time::{Duration, Instant};

/// The key prefix the projector writes under when `SHOP_REDIS_PREFIX` is unset.
pub const DEFAULT_REDIS_PREFIX: &str = events::names::hot_view::DEFAULT_PREFIX;

/// How long one read may take before SQL answers instead. Redis on the same network answers
/// in well under a millisecond; anything slower is a sick server.
const DEFAULT_TIMEOUT: Duration = Duration::from_millis(50);

/// After an error, requests skip Redis this long, so a dead or hung server costs one
/// timeout now and then rather than one per request.
const BACKOFF_AFTER_ERROR: Duration = Duration::from_millis(500);

/// Retry interval bounds for the first connection.
const CONNECT_RETRY_MIN: Duration = Duration::from_millis(250);
const CONNECT_RETRY_MAX: Duration = Duration::from_secs(5);

/// How often a persisting Redis problem is logged at warn level.
const WARN_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum RedisSetupError {
    #[error("invalid Redis URL: {0}")]
    InvalidUrl(#[source] redis::RedisError),
    #[error("the Redis reader must be created inside a Tokio runtime")]
    NoRuntime,
}

/// The top ARGV[1] products of a window by units sold over its days, exactly, without
/// unioning whole days: Fagin's threshold algorithm. It reads each day's sorted set from
/// the top a page (ARGV[2]) at a time, sums every product it meets over all days
/// (ZMSCORE), and stops once the k-th best sum exceeds what any product not met yet could
/// still reach (the sum of the last scores read from each day that has more). Sales are
/// skewed, so it reads a small prefix of each day: a union of every product of every day
/// (ZUNIONSTORE) takes Redis tens to hundreds of milliseconds on a large catalog, blocking
/// every other client meanwhile.
///
/// Returns nil when the day keys are not known to be complete (no ready marker): the
/// caller ranks from SQL. Otherwise `[product, units, ...]`, most units first, ties by
/// product id.
///
/// KEYS[1]: the ready marker, KEYS[2..]: the day keys. ARGV[1]: k, ARGV[2]: page size.
const TOP_SALES: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
local k = tonumber(ARGV[1])
local page = tonumber(ARGV[2])
local days = #KEYS - 1
local totals = {}
local seen = {}
local depth = 0
local function before(a, b)
  if totals[a] ~= totals[b] then
    return totals[a] > totals[b]
  end
  return tonumber(a) < tonumber(b)
end
while true do
  local threshold = 0
  local more = false
  local fresh = {}
  for d = 1, days do
    local rows = redis.call('ZREVRANGE', KEYS[d + 1], depth, depth + page - 1, 'WITHSCORES')
    if #rows == 2 * page then
      more = true
      threshold = threshold + tonumber(rows[#rows])
    end
    for i = 1, #rows, 2 do
      local member = rows[i]
      if totals[member] == nil then
        totals[member] = 0
        seen[#seen + 1] = member
        fresh[#fresh + 1] = member
      end
    end
  end
  if #fresh > 0 then
    for d = 1, days do
      local scores = redis.call('ZMSCORE', KEYS[d + 1], unpack(fresh))
      for i = 1, #fresh do
        if scores[i] then
          totals[fresh[i]] = totals[fresh[i]] + tonumber(scores[i])
        end
      end
    end
  end
  depth = depth + page
  if not more then
    break
  end
  if #seen >= k then
    table.sort(seen, before)
    if totals[seen[k]] > threshold then
      break
    end
  end
end
table.sort(seen, before)
local top = {}
for i = 1, math.min(k, #seen) do
  top[#top + 1] = seen[i]
  top[#top + 1] = tostring(totals[seen[i]])
end
return top
"#;

static TOP_SALES_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(TOP_SALES));

/// Members each day's sorted set is read by per round.
const TOP_SALES_PAGE: usize = 100;

/// What a ranking lookup found.
pub(crate) enum RankingLookup {
    /// (product id, units) pairs, most sold first.
    Found(Vec<(i64, i64)>),
    /// Redis answered, but its day keys are not known to be complete.
    NotReady,
    Skipped,
    Failed,
}

/// What a hot-view lookup found.
pub(crate) enum Lookup {
    Found(HashMap<String, String>),
    Missing,
    /// Not asked: not connected yet, or backing off after an error.
    Skipped,
    /// An error or a timeout, already logged (rate-limited).
    Failed,
}

#[derive(Clone)]
pub struct RedisReader {
    inner: Arc<Inner>,
    timeout: Duration,
}

struct Inner {
    prefix: String,
    /// Set by the background task once the first connection succeeds; the manager then
    /// reconnects by itself.
    manager: OnceLock<ConnectionManager>,
    started: Instant,
    skip_until_ms: AtomicU64,
    warnings: LogLimiter,
}

impl RedisReader {
    /// Starts connecting in the background and returns at once: a dead server never stops
    /// start-up, reads go to SQL until it answers. Fails only on a malformed URL or when
    /// called outside a Tokio runtime.
    pub fn new(url: &str, prefix: impl Into<String>) -> Result<Self, RedisSetupError> {
        let client = redis::Client::open(url).map_err(RedisSetupError::InvalidUrl)?;
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| RedisSetupError::NoRuntime)?;
        let inner = Arc::new(Inner {
            prefix: prefix.into(),
            manager: OnceLock::new(),
            started: Instant::now(),
            skip_until_ms: AtomicU64::new(0),
            warnings: LogLimiter::new(WARN_EVERY),
        });
        runtime.spawn(connect(client, Arc::downgrade(&inner)));
        Ok(Self {
            inner,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Overrides how long one read may take before falling through to SQL.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// True once the first connection has been made (for readiness reporting).
    pub fn is_connected(&self) -> bool {
        self.inner.manager.get().is_some()
    }

    /// `HGETALL {prefix}{kind}:{id}`.
    pub(crate) async fn hash(&self, view: View, id: i64) -> Lookup {
        let inner = &self.inner;
        let Some(manager) = inner.manager.get() else {
            return Lookup::Skipped;
        };
        if inner.now_ms() < inner.skip_until_ms.load(Ordering::Relaxed) {
            return Lookup::Skipped;
        }
        let key = view.key(&inner.prefix, id);
        let mut connection = manager.clone();
        let mut command = redis::cmd("HGETALL");
        command.arg(&key);
        let read = command.query_async::<HashMap<String, String>>(&mut connection);
        match tokio::time::timeout(self.timeout, read).await {
            Ok(Ok(fields)) if fields.is_empty() => Lookup::Missing,
            Ok(Ok(fields)) => Lookup::Found(fields),
            Ok(Err(error)) => {
                inner.failed(&format!("Redis read of {key} failed: {error}"));
                Lookup::Failed
            }
            Err(_) => {
                inner.failed(&format!("Redis read of {key} took over {:?}", self.timeout));
                Lookup::Failed
            }
        }
    }

    /// The `n` best sellers over `days` (`YYYY-MM-DD`), exactly (see `TOP_SALES`).
    pub(crate) async fn top_sales(&self, days: &[String], n: usize) -> RankingLookup {
        let inner = &self.inner;
        let Some(manager) = inner.manager.get() else {
            return RankingLookup::Skipped;
        };
        if inner.now_ms() < inner.skip_until_ms.load(Ordering::Relaxed) {
            return RankingLookup::Skipped;
        }
        let prefix = &inner.prefix;
        let mut invocation = TOP_SALES_SCRIPT.prepare_invoke();
        invocation.key(sales::ready(prefix));
        for day in days {
            invocation.key(sales::day(prefix, day));
        }
        invocation.arg(n).arg(TOP_SALES_PAGE);
        let mut connection = manager.clone();
        let read = invocation.invoke_async::<Option<Vec<String>>>(&mut connection);
        match tokio::time::timeout(self.timeout, read).await {
            Ok(Ok(None)) => RankingLookup::NotReady,
            Ok(Ok(Some(flat))) => match pairs(&flat) {
                Some(sold) => RankingLookup::Found(sold),
                None => {
                    inner.failed("Redis ranking holds a member that is not a product id");
                    RankingLookup::Failed
                }
            },
            Ok(Err(error)) => {
                inner.failed(&format!("Redis ranking read failed: {error}"));
                RankingLookup::Failed
            }
            Err(_) => {
                inner.failed(&format!("Redis ranking read took over {:?}", self.timeout));
                RankingLookup::Failed
            }
        }
    }

    /// A hot view that does not parse is the projector's bug, not the reader's: log it
    /// (rate-limited) and let SQL answer.
    pub(crate) fn malformed(&self, view: View, id: i64, error: &dyn std::error::Error) {
        let message = format!("Redis hot view {} is malformed: {error}", view.key("", id));
        match self.inner.warnings.loud() {
            Some(held_back) => tracing::warn!(held_back, "{message}"),
            None => tracing::debug!("{message}"),
        }
    }
}

impl Inner {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn failed(&self, message: &str) {
        let until = self.now_ms().saturating_add(millis(BACKOFF_AFTER_ERROR));
        self.skip_until_ms.store(until, Ordering::Relaxed);
        match self.warnings.loud() {
            Some(held_back) => {
                tracing::warn!(held_back, "{message}; reads fall back to SQL");
            }
            None => tracing::debug!("{message}"),
        }
    }
}

/// `[member, score, member, score, ...]` as (product id, units).
fn pairs(flat: &[String]) -> Option<Vec<(i64, i64)>> {
    flat.chunks_exact(2)
        .map(|pair| {
            let product: i64 = pair[0].parse().ok()?;
            // Scores are whole units; Redis prints them as floats only when they are not.
            let units: f64 = pair[1].parse().ok()?;
            Some((product, units as i64))
        })
        .collect()
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn manager_config() -> ConnectionManagerConfig {
    // Reconnects after a drop retry a few times with short, jittered backoff; reads do not
    // wait for them (they time out after `DEFAULT_TIMEOUT` and go to SQL).
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(Duration::from_secs(1)))
        .set_number_of_retries(3)
        .set_max_delay(Duration::from_secs(2))
}

/// Keeps trying to make the first connection until it succeeds or the reader is dropped.
async fn connect(client: redis::Client, inner: Weak<Inner>) {
    let mut retry_in = CONNECT_RETRY_MIN;
    loop {
        let attempt = ConnectionManager::new_with_config(client.clone(), manager_config()).await;
        let Some(reader) = inner.upgrade() else {
            return;
        };
        match attempt {
            Ok(manager) => {
                tracing::info!("connected to Redis; hot views are served from it");
                let _ = reader.manager.set(manager);
                return;
            }
            Err(error) => match reader.warnings.loud() {
                Some(held_back) => tracing::warn!(
                    held_back,
                    "cannot connect to Redis ({error}); serving reads from SQL meanwhile"
                ),
                None => tracing::debug!("cannot connect to Redis yet: {error}"),
            },
        }
        drop(reader);
        tokio::time::sleep(retry_in).await;
        retry_in = (retry_in * 2).min(CONNECT_RETRY_MAX);
    }
}
