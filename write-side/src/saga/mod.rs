//! The order saga. An order is placed (`OrderPlaced`, priced from the products' current
//! prices); then the participant steps run side by side: stock is reserved for every line
//! (all or nothing) and, beside it, the user's coupon is used and the points due after
//! its discount are deducted. Once all went through, one append records the rest
//! (`OrderStockReserved`, `OrderCouponApplied`, `OrderPaid`, `OrderCompleted`): three
//! commit cycles an order instead of one per step. Any refusal cancels the order with a
//! reason and compensates everything (stock released, coupon restored, points
//! refunded; each a no-op where nothing was done).
//!
//! The Order stream is the saga's durable progress: the placement is recorded before any
//! step and a cancel before compensating, so a driver that reads the order knows where to
//! go on. Every participant step is idempotent by order id, so sending one again after a
//! crash does nothing twice. Orders nobody settled (a crash, a store outage) are found by
//! the recovery scan (`recovery`) and driven again.

mod compensate;
mod driver;
mod error;
mod failpoint;
mod participants;
mod place;
mod recovery;

pub use driver::Driven;
pub use error::SagaError;
pub use place::{PlaceError, PlaceOrder, PlaceOutcome};
pub use recovery::{RECOVERY_READER, run_recovery};

use crate::commands::CommandServices;
use crate::domain::order::PlacedOrder;
use crate::in_flight::InFlight;
use events::{Krw, OrderId, ProductId, StreamId};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct SagaConfig {
    /// How long `POST /v1/orders` waits for the outcome before answering 202 PENDING.
    pub answer_within: Duration,
    /// Attempts per participant step when it fails for a passing reason (contention, a
    /// store error); after that the order is left to the recovery scan.
    pub step_attempts: usize,
    /// The recovery scan drives an unsettled order only once it has seen it open for
    /// this long, so it does not race a live driver in another process.
    pub recover_after: Duration,
    /// How often the recovery scan reads new order events and looks for stuck orders.
    pub scan_interval: Duration,
    /// Most orders the recovery scan drives at once.
    pub recovery_concurrency: usize,
}

impl Default for SagaConfig {
    fn default() -> Self {
        Self {
            answer_within: Duration::from_secs(3),
            step_attempts: 8,
            recover_after: Duration::from_secs(5),
            scan_interval: Duration::from_millis(500),
            recovery_concurrency: 32,
        }
    }
}

/// Most product prices the saga keeps (a few MB).
const PRICES_KEPT: u64 = 100_000;

/// Drives orders; cheap to clone.
#[derive(Clone)]
pub struct OrderSaga {
    inner: Arc<Inner>,
}

struct Inner {
    services: Arc<CommandServices>,
    config: SagaConfig,
    /// Orders a driver in this process is working on; the recovery scan leaves them be.
    in_flight: InFlight<OrderId>,
    /// The drivers running in this process (each `place` spawns one, so the saga goes on
    /// after its caller was answered): `drain` waits for them at shutdown.
    drivers: tokio_util::task::TaskTracker,
    /// Orders a driver in this process settled (completed, or cancelled and compensated),
    /// so the recovery scan need not check their compensation again.
    settled: crate::memo::Memo<OrderId, ()>,
    /// Prices quoted so far. A product's price is set once, at registration (no command
    /// changes it), so a quote holds for good and an order of known products is priced
    /// without asking their mailboxes (each ask is a hop and, on MySQL, a version check).
    prices: crate::memo::Memo<ProductId, Krw>,
}

impl OrderSaga {
    pub fn new(services: Arc<CommandServices>, config: SagaConfig) -> Self {
        let settled = moka::sync::Cache::builder()
            .max_capacity(1_000_000)
            .time_to_live(Duration::from_secs(600))
            .build_with_hasher(crate::memo::hasher());
        Self {
            inner: Arc::new(Inner {
                services,
                config,
                in_flight: InFlight::default(),
                settled,
                prices: moka::sync::Cache::builder()
                    .max_capacity(PRICES_KEPT)
                    .build_with_hasher(crate::memo::hasher()),
                drivers: tokio_util::task::TaskTracker::new(),
            }),
        }
    }

    /// At shutdown, once no request can place an order any more: waits up to `within` for
    /// the drivers still running. Answers whether all finished; an order whose driver did
    /// not is pending in its stream, and the recovery scan of the next start drives it.
    pub async fn drain(&self, within: Duration) -> bool {
        let drivers = &self.inner.drivers;
        drivers.close();
        let finished = tokio::time::timeout(within, drivers.wait()).await.is_ok();
        if !finished {
            tracing::warn!(
                running = drivers.len(),
                "saga drivers still running at shutdown; the recovery scan takes them on"
            );
        }
        finished
    }

    pub fn services(&self) -> &Arc<CommandServices> {
        &self.inner.services
    }

    fn config(&self) -> &SagaConfig {
        &self.inner.config
    }

    /// Reads an order from its stream (not through its mailbox), e.g. after another driver
    /// moved it or when the recovery scan picks it up.
    pub async fn load(&self, order_id: OrderId) -> Result<Option<PlacedOrder>, SagaError> {
        Ok(self
            .load_with_token(order_id)
            .await?
            .map(|(order, _)| order))
    }

    /// `load`, with the token of the order's last event (to read it back as it is now).
    pub async fn load_with_token(
        &self,
        order_id: OrderId,
    ) -> Result<Option<(PlacedOrder, events::ConsistencyToken)>, SagaError> {
        use crate::domain::{order::Order, replay};
        let recorded = self
            .services()
            .store()
            .read_stream(&StreamId::order(order_id), 0)
            .await
            .map_err(|e| SagaError::Store(Arc::new(e)))?;
        let token = recorded.last().map(|last| {
            events::ConsistencyToken::new(
                last.global_position,
                StreamId::order(order_id),
                last.stream_version,
            )
        });
        let mut events = Vec::with_capacity(recorded.len());
        for event in recorded {
            let decoded =
                events::OrderEvent::decode(&event.event_type, event.schema_version, &event.payload)
                    .map_err(|e| SagaError::Corrupt {
                        order_id,
                        reason: e.to_string(),
                    })?;
            events.push(decoded);
        }
        let order = replay(Order::default(), &events).placed().cloned();
        Ok(order.zip(token))
    }

    fn is_in_flight(&self, order_id: OrderId) -> bool {
        self.inner.in_flight.contains(&order_id)
    }
}
