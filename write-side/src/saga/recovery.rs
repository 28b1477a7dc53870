//! The recovery scan: follows the order events in the store's global order and drives
//! every order that stays unsettled (placed but neither completed nor cancelled, or
//! cancelled by a driver that may not have finished compensating) for `recover_after`.
//! That covers a process that crashed mid-saga, a driver that gave up on a store outage,
//! and an order whose answer timed out. Its durable checkpoint stays before the oldest
//! open order, so after a restart the scan finds every order that was left open.
//!
//! Only one process scans at a time (the leader lock); a live driver in another process
//! is left alone for `recover_after`, and if both ever drive one order, every step is
//! idempotent and the order only moves forward.

use super::OrderSaga;
use event_store::StoreError;
use event_store::leader::LeaderLock;
use events::names::TRACE_TARGET;
use events::{Metadata, OrderEvent, OrderId, RecordedEvent, TraceContext};
use futures::StreamExt;
use std::collections::BTreeMap;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use uuid::Uuid;

/// The recovery scan's checkpoint name in the event store.
pub const RECOVERY_READER: &str = "saga-recovery";

const PAGE: usize = 1_000;

/// An order the scan has seen placed and not yet seen settled.
struct OpenOrder {
    position: i64,
    /// When the scan saw it (or last tried to drive it).
    since: Instant,
    cancelled: bool,
    /// The placing command's metadata, so recovered steps keep its correlation id.
    metadata: Metadata,
}

#[derive(Default)]
struct Scan {
    cursor: Option<i64>,
    saved: i64,
    open: BTreeMap<OrderId, OpenOrder>,
}

/// Scans until `shutdown`, while holding `lock`.
pub async fn run_recovery(
    saga: OrderSaga,
    mut lock: Box<dyn LeaderLock>,
    shutdown: CancellationToken,
) {
    let mut ticker = tokio::time::interval(saga.config().scan_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut leading = false;
    let mut scan = Scan::default();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let still_leading = if leading {
            lock.confirm().await.map(|()| true)
        } else {
            lock.try_acquire().await
        };
        match still_leading {
            Ok(true) if !leading => {
                tracing::info!("saga recovery scan is now the leader");
                leading = true;
                // Start over from the durable checkpoint: another leader may have moved it.
                scan = Scan::default();
            }
            Ok(true) => {}
            Ok(false) => continue,
            Err(error) => {
                tracing::warn!(%error, "saga recovery scan lost or cannot take the leader lock");
                leading = false;
                continue;
            }
        }
        if let Err(error) = saga.scan_once(&mut scan).await {
            tracing::warn!(%error, "saga recovery scan failed; retrying");
        }
    }
    lock.release().await;
}

impl OrderSaga {
    async fn scan_once(&self, scan: &mut Scan) -> Result<(), StoreError> {
        let store = self.services().store().clone();
        let mut cursor = match scan.cursor {
            Some(cursor) => cursor,
            None => {
                let checkpoint = store.load_checkpoint(RECOVERY_READER).await?;
                scan.saved = checkpoint;
                checkpoint
            }
        };
        // Positions are commit-ordered, so nothing will ever land at or below the head.
        let head = store.head_position().await?;
        loop {
            let page = store
                .read_category(events::Category::Order.as_str(), cursor, head, PAGE)
                .await?;
            for event in &page {
                cursor = event.global_position;
                self.follow(scan, event);
            }
            if page.len() < PAGE {
                cursor = cursor.max(head);
                break;
            }
        }
        scan.cursor = Some(cursor);
        self.drive_stuck(scan).await;
        metrics::gauge!("shop_saga_open_orders").set(scan.open.len() as f64);
        let checkpoint = scan
            .open
            .values()
            .map(|open| open.position - 1)
            .min()
            .unwrap_or(cursor);
        if checkpoint != scan.saved {
            store.save_checkpoint(RECOVERY_READER, checkpoint).await?;
            scan.saved = checkpoint;
        }
        Ok(())
    }

    fn follow(&self, scan: &mut Scan, recorded: &RecordedEvent) {
        if recorded.stream_id.category() != events::Category::Order.as_str() {
            return;
        }
        let event = match OrderEvent::decode(
            &recorded.event_type,
            recorded.schema_version,
            &recorded.payload,
        ) {
            Ok(event) => event,
            Err(error) => {
                tracing::error!(stream = %recorded.stream_id, %error, "unreadable order event");
                return;
            }
        };
        match event {
            OrderEvent::OrderPlaced(placed) => {
                scan.open.insert(
                    placed.order_id,
                    OpenOrder {
                        position: recorded.global_position,
                        since: Instant::now(),
                        cancelled: false,
                        metadata: recorded.metadata,
                    },
                );
            }
            OrderEvent::OrderCompleted(completed) => {
                scan.open.remove(&completed.order_id);
            }
            OrderEvent::OrderCancelled(cancelled) => {
                if self.inner.settled.contains_key(&cancelled.order_id) {
                    scan.open.remove(&cancelled.order_id);
                } else if let Some(open) = scan.open.get_mut(&cancelled.order_id) {
                    open.cancelled = true;
                }
            }
            OrderEvent::OrderStockReserved(_)
            | OrderEvent::OrderCouponApplied(_)
            | OrderEvent::OrderPaid(_) => {}
        }
    }

    async fn drive_stuck(&self, scan: &mut Scan) {
        let recover_after = self.config().recover_after;
        let settled = &self.inner.settled;
        scan.open
            .retain(|order_id, open| !(open.cancelled && settled.contains_key(order_id)));
        let stuck: Vec<(OrderId, Metadata)> = scan
            .open
            .iter()
            .filter(|(order_id, open)| {
                open.since.elapsed() >= recover_after && !self.is_in_flight(**order_id)
            })
            .map(|(order_id, open)| (*order_id, open.metadata))
            .collect();
        if stuck.is_empty() {
            return;
        }
        tracing::info!(
            orders = stuck.len(),
            "saga recovery: driving unsettled orders"
        );
        let results: Vec<(OrderId, bool)> = futures::stream::iter(stuck)
            .map(|(order_id, metadata)| async move {
                (order_id, self.recover(order_id, metadata).await)
            })
            .buffer_unordered(self.config().recovery_concurrency.max(1))
            .collect()
            .await;
        for (order_id, settled) in results {
            if settled {
                scan.open.remove(&order_id);
            } else if let Some(open) = scan.open.get_mut(&order_id) {
                open.since = Instant::now();
            }
        }
    }

    /// Drives one order; true once it is settled.
    async fn recover(&self, order_id: OrderId, placed_by: Metadata) -> bool {
        // The order's own trace, under a span of the scan: steps and compensations run
        // minutes later still carry the trace of the request that placed the order.
        let span = tracing::trace_span!(target: TRACE_TARGET, "saga recovery", %order_id);
        if let Some(trace) = placed_by.trace {
            // Only fails when no OpenTelemetry layer is installed.
            span.set_parent(trace.to_otel()).ok();
        }
        let trace = TraceContext::from_otel(&span.context())
            .or_else(|| placed_by.trace.map(TraceContext::child));
        let metadata = Metadata {
            causation_id: placed_by.command_id,
            command_id: Uuid::now_v7(),
            trace,
            ..placed_by
        };
        let order = match self.load(order_id).await {
            Ok(Some(order)) => super::driver::Driven { order, token: None },
            Ok(None) => return true,
            Err(error) => {
                tracing::warn!(%order_id, %error, "saga recovery cannot read the order");
                return false;
            }
        };
        match self.drive(order, metadata).instrument(span).await {
            Ok(driven) => {
                let status = driven.order.status();
                tracing::info!(%order_id, status = status.as_str(), "saga recovery drove an order");
                status != crate::domain::order::OrderStatus::Pending
            }
            Err(error) => {
                tracing::warn!(%order_id, %error, "saga recovery could not settle an order yet");
                false
            }
        }
    }
}
