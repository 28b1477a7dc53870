-- What a command sent with an `Idempotency-Key` answered, written in the same transaction
-- as the events it caused (see the MySQL migration of the same name).
CREATE TABLE idempotency_keys (
    scope           TEXT    NOT NULL,
    idem_key        TEXT    NOT NULL,
    fingerprint     BLOB    NOT NULL,
    stream_id       TEXT    NOT NULL,
    stream_version  INTEGER NOT NULL,
    global_position INTEGER NOT NULL,
    outcome         BLOB    NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (scope, idem_key)
) WITHOUT ROWID;
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
