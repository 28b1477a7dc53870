-- The last stream version each projection applied, per stream. Projectors fed by Kafka see
-- each stream in order but the streams of a topic interleaved, and may see a message twice
-- after a restart or rebalance: an event applies only when its version is above the one
-- stored here, checked and moved in the same transaction as the rows it changes. The query
-- API also reads it to wait for a write (read your writes) by stream and version.
CREATE TABLE IF NOT EXISTS projected_streams (
    projection TEXT    NOT NULL,
    stream_id  TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    PRIMARY KEY (projection, stream_id)
);
