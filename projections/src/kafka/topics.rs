//! Creating the topics a projector subscribes to. A consumer does not see a topic created
//! after it subscribed until its next metadata refresh, so a projector started before the
//! relay first published to, say, `shop.wallet` would miss that topic for minutes.

use crate::error::ProjectionError;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;
use std::time::Duration;

/// Creates every topic in `topics` that does not exist yet, with the broker's default
/// partition count and replication.
pub(crate) async fn ensure(brokers: &str, topics: &[String]) -> Result<(), ProjectionError> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .map_err(ProjectionError::kafka("create an admin client"))?;
    // -1: the broker's defaults (KIP-464), so deployments keep their own settings.
    let new_topics: Vec<NewTopic> = topics
        .iter()
        .map(|topic| NewTopic::new(topic, -1, TopicReplication::Fixed(-1)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = admin
        .create_topics(&new_topics, &options)
        .await
        .map_err(ProjectionError::kafka("create topics"))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                tracing::warn!(topic, %code, "cannot create a topic");
                return Err(ProjectionError::Kafka {
                    operation: "create topics",
                    source: rdkafka::error::KafkaError::AdminOp(code),
                });
            }
        }
    }
    Ok(())
}
