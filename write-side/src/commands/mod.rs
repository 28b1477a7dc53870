//! The application services: one file per command, each turning a validated request into
//! an aggregate command on the right stream and running it through the executor.

mod charge_points;
mod issue_coupon;
mod register_coupon;
mod register_product;
mod restock;

pub use register_coupon::NewCoupon;
pub use register_product::NewProduct;

use crate::domain::coupon::Coupon;
use crate::domain::order::Order;
use crate::domain::product::Product;
use crate::domain::wallet::Wallet;
use crate::executor::{ExecuteError, Executor, ExecutorConfig};
use crate::ids::IdAllocator;
use event_store::{EventStore, StoreError};
use std::sync::Arc;

/// An order's stream is decided in one burst (the saga's few commit cycles, within
/// milliseconds) and seldom again; a later command loads its few events. Kept hot for the
/// default minute, every order placed in that minute held a mailbox and its state: at
/// 1,500 orders/s, ~90,000 of them, most of the command API's memory and page faults.
const ORDER_IDLE_EVICTION: std::time::Duration = std::time::Duration::from_secs(5);

pub struct CommandServices {
    pub wallets: Executor<Wallet>,
    pub products: Executor<Product>,
    pub coupons: Executor<Coupon>,
    pub orders: Executor<Order>,
    pub ids: IdAllocator,
}

impl CommandServices {
    pub fn new(store: Arc<dyn EventStore>, config: ExecutorConfig) -> Self {
        Self {
            wallets: Executor::new(store.clone(), config.clone()),
            products: Executor::new(store.clone(), config.clone()),
            coupons: Executor::new(store.clone(), config.clone()),
            orders: Executor::new(
                store.clone(),
                ExecutorConfig {
                    idle_eviction: config.idle_eviction.min(ORDER_IDLE_EVICTION),
                    ..config
                },
            ),
            ids: IdAllocator::new(store),
        }
    }

    pub fn store(&self) -> &Arc<dyn EventStore> {
        self.wallets.store()
    }

    /// At shutdown: waits up to `within` for every executor's background writes.
    pub async fn drain(&self, within: std::time::Duration) -> bool {
        let (wallets, products, coupons, orders) = tokio::join!(
            self.wallets.drain(within),
            self.products.drain(within),
            self.coupons.drain(within),
            self.orders.drain(within),
        );
        wallets && products && coupons && orders
    }
}

/// Ids are drawn before deciding; a failure to draw one is a store failure.
fn id_error<E>(error: StoreError) -> ExecuteError<E> {
    ExecuteError::Store(Arc::new(error))
}
