//! How far behind the event store each projection is, published on a watch channel per
//! projection so the binary can log it and export it as metrics.

use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectionLag {
    /// Events handled since start: applied, or recognised as already applied.
    pub events: u64,
    /// Of those, events that had been applied before (Kafka redelivered them after a
    /// restart or rebalance) and so changed nothing.
    pub duplicates: u64,
    /// How old the newest event of the last committed batch was when it committed
    /// (commit time minus the event's `recorded_at`): the end-to-end delay a reader sees.
    pub event_age: Option<Duration>,
    /// When the last batch committed.
    pub applied_at: Option<DateTime<Utc>>,
    /// Messages in Kafka not yet consumed, summed over this consumer's partitions (from
    /// librdkafka statistics, refreshed every few seconds). `None` for the embedded feed,
    /// or before the first statistics arrive.
    pub consumer_lag: Option<i64>,
    /// Failures since start (a batch that did not commit, a consumer restarted); each was
    /// retried. A count that keeps climbing means the projection is stuck.
    pub errors: u64,
}

impl ProjectionLag {
    /// Records a committed batch whose newest event was recorded at `newest`.
    pub(crate) fn record_batch(
        &mut self,
        events: usize,
        duplicates: usize,
        newest: Option<DateTime<Utc>>,
    ) {
        let now = Utc::now();
        self.events += events as u64;
        self.duplicates += duplicates as u64;
        if let Some(newest) = newest {
            self.event_age = Some((now - newest).to_std().unwrap_or(Duration::ZERO));
        }
        self.applied_at = Some(now);
    }
}

pub(crate) type LagWatches = HashMap<&'static str, watch::Receiver<ProjectionLag>>;

const LOG_EVERY: Duration = Duration::from_secs(30);

/// The watches of `lags` with the projections each serves: projections fed by one
/// consumer (the SQL read models in Kafka mode) share its watch, and are logged once.
fn shared_watches(lags: &LagWatches) -> Vec<(Vec<&'static str>, &watch::Receiver<ProjectionLag>)> {
    let mut shared: Vec<(Vec<&'static str>, &watch::Receiver<ProjectionLag>)> = Vec::new();
    let mut names: Vec<&&'static str> = lags.keys().collect();
    names.sort_unstable();
    for name in names {
        let Some(lag) = lags.get(*name) else { continue };
        match shared.iter_mut().find(|(_, seen)| seen.same_channel(lag)) {
            Some((projections, _)) => projections.push(name),
            None => shared.push((vec![name], lag)),
        }
    }
    shared
}

/// Logs every projection's lag periodically until shutdown.
pub(crate) fn spawn_lag_logger(
    lags: LagWatches,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(LOG_EVERY);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = ticker.tick() => {},
                () = shutdown.cancelled() => return,
            }
            for (projections, lag) in shared_watches(&lags) {
                let lag = lag.borrow().clone();
                tracing::info!(
                    projection = projections.join(","),
                    events = lag.events,
                    duplicates = lag.duplicates,
                    event_age_ms = lag.event_age.map(|age| age.as_millis() as u64),
                    consumer_lag = lag.consumer_lag,
                    errors = lag.errors,
                    applied_at = lag.applied_at.map(|at| at.to_rfc3339()),
                    "projection lag"
                );
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projections_of_one_consumer_are_logged_once_together() {
        let (_shared_tx, shared) = watch::channel(ProjectionLag::default());
        let (_own_tx, own) = watch::channel(ProjectionLag::default());
        let lags: LagWatches = HashMap::from([
            ("orders", shared.clone()),
            ("balances", shared.clone()),
            ("catalog", shared),
            ("ranking", own),
        ]);
        let groups: Vec<Vec<&str>> = shared_watches(&lags)
            .into_iter()
            .map(|(names, _)| names)
            .collect();
        assert_eq!(
            groups,
            vec![vec!["balances", "catalog", "orders"], vec!["ranking"]]
        );
    }
}
