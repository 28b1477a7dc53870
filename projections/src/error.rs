use events::CodecError;

/// A Kafka message that does not follow the event contract (docs/events.md).
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("header {0} is missing")]
    MissingHeader(&'static str),
    #[error("header {name} has an invalid value {value:?}")]
    BadHeader { name: &'static str, value: String },
    #[error("the message has no value")]
    NoValue,
    #[error(transparent)]
    Decode(#[from] CodecError),
}

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
    #[error("unsupported read database URL {0:?}: expected sqlite:// or mysql://")]
    UnsupportedUrl(String),
    /// Two rebuilds of one read database would share (and drop) one shadow.
    #[error("another rebuild of this read database is running")]
    RebuildRunning,
    #[error("cannot lock or remove the rebuild's shadow file {path}: {source}")]
    ShadowFile {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot decode event at position {position}: {source}")]
    Decode {
        position: i64,
        #[source]
        source: events::CodecError,
    },
    #[error(transparent)]
    Feed(#[from] FeedError),
    #[error("Kafka {operation} failed: {source}")]
    Kafka {
        operation: &'static str,
        #[source]
        source: rdkafka::error::KafkaError,
    },
    #[error("message {topic}/{partition}@{offset} is not a valid event: {source}")]
    Message {
        topic: String,
        partition: i32,
        offset: i64,
        #[source]
        source: MessageError,
    },
    /// Another projector moved the stream between our read and our write (two consumers
    /// briefly own one partition during a rebalance). The batch rolls back and is retried.
    #[error(
        "projection {projection} lost a race: {updated} of {expected} stream versions were \
         where it left them"
    )]
    StreamsMoved {
        projection: &'static str,
        expected: usize,
        updated: u64,
    },
    /// A stream the batch took for new (not remembered, first seen at version 1) had been
    /// recorded already: Kafka is redelivering. The batch rolls back and is retried with
    /// every stream loaded.
    #[error("projection {projection} took a stream for new that it had recorded already")]
    StreamRecordedAlready { projection: &'static str },
    /// The embedded checkpoint moved under the projector (a rebuild swapped its copy in);
    /// the batch rolls back and the projector goes on from the new checkpoint.
    #[error("the checkpoint of {projection} is no longer at {expected}")]
    CheckpointMoved {
        projection: &'static str,
        expected: i64,
    },
    /// A rebuild is swapping Redis views in (`{p}views:rebuilding` is set); view updates
    /// wait for it.
    #[error("the Redis views are being rebuilt; view updates wait for it")]
    RebuildInProgress,
    #[error("rebuilding {projection} failed: {reason}")]
    Rebuild {
        projection: &'static str,
        reason: String,
    },
    #[error("Redis {operation} failed: {source}")]
    Redis {
        operation: &'static str,
        #[source]
        source: redis::RedisError,
    },
}

impl ProjectionError {
    pub(crate) fn db(operation: &'static str) -> impl FnOnce(sqlx::Error) -> ProjectionError {
        move |source| ProjectionError::Database { operation, source }
    }

    pub(crate) fn kafka(
        operation: &'static str,
    ) -> impl FnOnce(rdkafka::error::KafkaError) -> ProjectionError {
        move |source| ProjectionError::Kafka { operation, source }
    }

    pub(crate) fn redis(
        operation: &'static str,
    ) -> impl FnOnce(redis::RedisError) -> ProjectionError {
        move |source| ProjectionError::Redis { operation, source }
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
