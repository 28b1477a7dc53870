#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error("read model {operation} failed: {source}")]
    Database {
        operation: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("read model migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot decode event at position {position}: {source}")]
    Decode {
        position: i64,
        #[source]
        source: events::CodecError,
    },
    #[error(transparent)]
    Feed(#[from] FeedError),
}

impl ProjectionError {
    pub(crate) fn db(operation: &'static str) -> impl FnOnce(sqlx::Error) -> ProjectionError {
        move |source| ProjectionError::Database { operation, source }
    }
}

/// The event source failed; the projector retries.
#[derive(Debug, thiserror::Error)]
#[error("event feed failed: {0}")]
pub struct FeedError(#[source] Box<dyn std::error::Error + Send + Sync>);

impl FeedError {
    pub fn new(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self(Box::new(source))
    }
}
