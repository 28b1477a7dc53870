//! Opening the stores the configuration names: SQLite files (embedded) or MySQL (full).

use crate::settings::Settings;
use anyhow::Context;
use event_store::EventStore;
use event_store::mysql::MySqlEventStore;
use event_store::sqlite::SqliteEventStore;
use std::sync::Arc;

/// The event store, and its MySQL pool when there is one (the relay's leader lock uses it).
pub struct EventStoreHandle {
    pub store: Arc<dyn EventStore>,
    pub mysql: Option<sqlx::MySqlPool>,
}

/// Opens and migrates the event store of `SHOP_DATABASE_URL`.
pub async fn open_event_store(settings: &Settings) -> anyhow::Result<EventStoreHandle> {
    let url = &settings.database_url;
    if settings.is_mysql() {
        let store = MySqlEventStore::open(url.expose(), settings.database_pool)
            .await
            .with_context(|| format!("cannot open the event store SHOP_DATABASE_URL={url}"))?;
        let pool = store.pool().clone();
        return Ok(EventStoreHandle {
            store: Arc::new(store),
            mysql: Some(pool),
        });
    }
    let path = settings.sqlite_path();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    }
    let store = SqliteEventStore::open(url.expose(), settings.sqlite_sync.into())
        .await
        .with_context(|| format!("cannot open the event store SHOP_DATABASE_URL={url}"))?;
    Ok(EventStoreHandle {
        store: Arc::new(store),
        mysql: None,
    })
}

/// Opens and migrates the read models (beside the SQLite store, or in the MySQL database).
pub async fn open_read_models(settings: &Settings) -> anyhow::Result<sqlx::AnyPool> {
    let url = settings.read_model_url();
    projections::open_read_db(&url).await.with_context(|| {
        format!(
            "cannot open the read models at {}",
            crate::secret::SecretUrl::from(url.as_str())
        )
    })
}
