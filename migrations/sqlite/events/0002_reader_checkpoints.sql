-- How far readers of the global order (the Kafka relay) have durably got.
CREATE TABLE reader_checkpoints (
    reader   TEXT    PRIMARY KEY,
    position INTEGER NOT NULL
);
