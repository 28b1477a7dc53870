//! The event-store contract against MySQL/MariaDB (`scripts/services.sh up` starts one),
//! one fresh database per test. `SHOP_TEST_MYSQL_URL` names the server
//! (default `mysql://shop:shop@127.0.0.1:3306`).
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

mod contract;

use std::sync::Arc;
use write_side::store::EventStore;
use write_side::store::mysql::MySqlEventStore;

async fn fresh_mysql() -> Arc<dyn EventStore> {
    let server = std::env::var("SHOP_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://shop:shop@127.0.0.1:3306".to_owned());
    let url = format!("{server}/shop_t_{}", uuid::Uuid::new_v4().simple());
    Arc::new(MySqlEventStore::open(&url, 16).await.unwrap())
}

store_contract!(fresh_mysql);
