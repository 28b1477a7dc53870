//! The `redis-views` projector's sink: every event of a batch becomes one call of the
//! versioned script, all sent in one pipeline.

use super::RedisViews;
use super::apply::{PAUSED, apply_updates};
use super::keys;
use super::view_update::ViewUpdate;
use crate::error::ProjectionError;
use crate::kafka::{InboundEvent, Sink};
use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use async_trait::async_trait;
use chrono_tz::Tz;
use std::time::Duration;
use tokio::sync::OnceCell;

/// Bounds on one Redis round trip, so a hung server turns into a retried error instead
/// of a stuck projector.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(2);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The streams that have hot views (the rebuild's replay reads the same ones).
pub(super) const CATEGORIES: &[&str] = events::ProjectionName::RedisViews.categories();

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
        events::ProjectionName::RedisViews.name()
    }

    fn categories(&self) -> &'static [&'static str] {
        CATEGORIES
    }

    async fn apply(&self, events: &[InboundEvent]) -> Result<usize, ProjectionError> {
        let mut connection = self.connection().await?;
        let updates: Vec<ViewUpdate> = events
            .iter()
            .filter_map(|inbound| {
                ViewUpdate::of(
                    &self.views.prefix,
                    self.timezone,
                    &inbound.envelope,
                    &inbound.event,
                )
            })
            .collect();
        if updates.is_empty() {
            return Ok(0);
        }
        let outcomes = apply_updates(&mut connection, &updates).await?;
        // What ran before the pause flag stays applied (version-guarded); the whole batch
        // is retried after the rebuild and those events then count as redeliveries.
        if outcomes.contains(&PAUSED) {
            return Err(ProjectionError::RebuildInProgress);
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
