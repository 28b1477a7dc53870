//! The `redis-views` projector's sink: every event of a batch becomes one call of the
//! versioned script, all sent in one pipeline.

use super::RedisViews;
use super::keys;
use super::script::APPLY;
use super::view_update::ViewUpdate;
use crate::error::ProjectionError;
use crate::kafka::{InboundEvent, Sink};
use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{ErrorKind, ServerErrorKind};
use async_trait::async_trait;
use chrono_tz::Tz;
use std::time::Duration;
use tokio::sync::OnceCell;

/// Bounds on one Redis round trip, so a hung server turns into a retried error instead
/// of a stuck projector.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(2);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The script's answer while a ranking rebuild swaps keys (see `script.rs`).
const PAUSED: i64 = -3;

pub(crate) struct RedisSink {
    views: RedisViews,
    timezone: Tz,
    /// Opened on first use, then reconnects by itself.
    connection: OnceCell<ConnectionManager>,
}

impl RedisSink {
    pub(crate) fn new(views: RedisViews, timezone: Tz) -> Self {
        Self {
            views,
            timezone,
            connection: OnceCell::new(),
        }
    }

    async fn connection(&self) -> Result<ConnectionManager, ProjectionError> {
        let connection = self
            .connection
            .get_or_try_init(|| async {
                // Few reconnect attempts of its own: the projector already retries the
                // batch with backoff, and a long attempt here delays shutdown.
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(CONNECTION_TIMEOUT))
                    .set_response_timeout(Some(RESPONSE_TIMEOUT))
                    .set_number_of_retries(2)
                    .set_max_delay(Duration::from_secs(1));
                let mut connection =
                    ConnectionManager::new_with_config(self.views.client.clone(), config)
                        .await
                        .map_err(ProjectionError::redis("connect"))?;
                // This projector keeps the day keys from here on: readers may rank from
                // them. (The script takes the marker away again if it finds Redis lost
                // data.)
                ::redis::cmd("SET")
                    .arg(keys::ready(&self.views.prefix))
                    .arg(1)
                    .query_async::<()>(&mut connection)
                    .await
                    .map_err(ProjectionError::redis("mark the ranking ready"))?;
                Ok::<_, ProjectionError>(connection)
            })
            .await?;
        Ok(connection.clone())
    }
}

#[async_trait]
impl Sink for RedisSink {
    fn name(&self) -> &'static str {
        "redis-views"
    }

    fn categories(&self) -> &'static [&'static str] {
        &["wallet", "product", "coupon", "order"]
    }

    async fn apply(&self, events: &[InboundEvent]) -> Result<usize, ProjectionError> {
        let mut connection = self.connection().await?;
        let mut pipeline = ::redis::pipe();
        let mut updates = 0;
        for inbound in events {
            let Some(update) = ViewUpdate::of(
                &self.views.prefix,
                self.timezone,
                &inbound.envelope,
                &inbound.event,
            ) else {
                continue;
            };
            pipeline
                .cmd("EVALSHA")
                .arg(APPLY.get_hash())
                .arg(1 + update.extra_keys.len())
                .arg(&update.key)
                .arg(&update.extra_keys)
                .arg(update.args());
            updates += 1;
        }
        if updates == 0 {
            return Ok(0);
        }
        let outcomes: Vec<i64> = match pipeline.query_async(&mut connection).await {
            Ok(outcomes) => outcomes,
            // A fresh or restarted server has no scripts cached: load it and send again
            // (what already ran is version-guarded).
            Err(error) if error.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                APPLY
                    .load_async(&mut connection)
                    .await
                    .map_err(ProjectionError::redis("load the view script"))?;
                pipeline
                    .query_async(&mut connection)
                    .await
                    .map_err(ProjectionError::redis("update views"))?
            }
            Err(error) => return Err(ProjectionError::redis("update views")(error)),
        };
        // What ran before the pause flag stays applied (version-guarded); the whole batch
        // is retried after the rebuild and those events then count as redeliveries.
        if outcomes.contains(&PAUSED) {
            return Err(ProjectionError::RankingRebuildInProgress);
        }
        let passed_over = outcomes.iter().filter(|outcome| **outcome < 0).count();
        if passed_over > 0 {
            tracing::debug!(
                passed_over,
                "events for views that do not exist were passed over"
            );
        }
        Ok(outcomes.iter().filter(|outcome| **outcome == 0).count())
    }
}
