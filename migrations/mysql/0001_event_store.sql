-- The event store on MySQL/MariaDB. Global positions come from the one-row counter
-- `event_head`, bumped inside every append transaction: its row lock is held until commit,
-- so positions are handed out in commit order and a reader of "position > n" can never
-- skip a transaction that commits late. (AUTO_INCREMENT would not give that guarantee.)
CREATE TABLE events (
    global_position BIGINT       NOT NULL PRIMARY KEY,
    event_id        BINARY(16)   NOT NULL,
    stream_id       VARCHAR(191) NOT NULL,
    stream_version  BIGINT       NOT NULL,
    event_type      VARCHAR(100) NOT NULL,
    schema_version  BIGINT       NOT NULL,
    payload         BLOB         NOT NULL,
    metadata        TEXT         NOT NULL,
    recorded_at     BIGINT       NOT NULL, -- microseconds since the Unix epoch, UTC
    UNIQUE KEY events_event_id (event_id),
    UNIQUE KEY events_stream_version (stream_id, stream_version)
) ENGINE = InnoDB;

CREATE TABLE event_head (
    id       TINYINT NOT NULL PRIMARY KEY,
    position BIGINT  NOT NULL
) ENGINE = InnoDB;
INSERT INTO event_head (id, position) VALUES (1, 0);

CREATE TABLE snapshots (
    stream_id       VARCHAR(191) NOT NULL PRIMARY KEY,
    stream_version  BIGINT       NOT NULL,
    global_position BIGINT       NOT NULL,
    schema_version  BIGINT       NOT NULL,
    payload         MEDIUMBLOB   NOT NULL,
    taken_at        BIGINT       NOT NULL
) ENGINE = InnoDB;

CREATE TABLE id_sequences (
    name       VARCHAR(100) NOT NULL PRIMARY KEY,
    next_value BIGINT       NOT NULL
) ENGINE = InnoDB;

-- How far readers of the global order (the Kafka relay) have durably got.
CREATE TABLE reader_checkpoints (
    reader   VARCHAR(191) NOT NULL PRIMARY KEY,
    position BIGINT       NOT NULL
) ENGINE = InnoDB;
