//! The event-store contract against SQLite, one fresh database file per test.
#![allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly

use event_store::EventStore;
use event_store::sqlite::{Durability, SqliteEventStore};
use std::sync::Arc;

async fn fresh_sqlite() -> Arc<dyn EventStore> {
    let dir = tempfile::tempdir().unwrap().keep();
    let url = format!("sqlite://{}/events.db", dir.display());
    Arc::new(
        SqliteEventStore::open(&url, Durability::Normal)
            .await
            .unwrap(),
    )
}

store_contract!(fresh_sqlite);
