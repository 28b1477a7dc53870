-- The event store. SQLite allows one writer at a time, so global positions are assigned in
-- commit order and a reader of "position > n" can never skip a late commit.
CREATE TABLE events (
    global_position INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        BLOB    NOT NULL UNIQUE,
    stream_id       TEXT    NOT NULL,
    stream_version  INTEGER NOT NULL,
    event_type      TEXT    NOT NULL,
    schema_version  INTEGER NOT NULL,
    payload         BLOB    NOT NULL,
    metadata        TEXT    NOT NULL,
    recorded_at     INTEGER NOT NULL, -- microseconds since the Unix epoch, UTC
    UNIQUE (stream_id, stream_version)
);

CREATE TABLE snapshots (
    stream_id      TEXT    PRIMARY KEY,
    stream_version INTEGER NOT NULL,
    -- global position of the stream's event at stream_version
    global_position INTEGER NOT NULL,
    schema_version INTEGER NOT NULL,
    payload        BLOB    NOT NULL,
    taken_at       INTEGER NOT NULL
);

CREATE TABLE id_sequences (
    name       TEXT    PRIMARY KEY,
    next_value INTEGER NOT NULL
);
