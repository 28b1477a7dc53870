-- What a command sent with an `Idempotency-Key` answered, written in the same transaction
-- as the events it caused, so a retry with the key finds the first outcome instead of
-- deciding again, and a crash can never leave the events without their record (or the
-- record without its events). Scope is the caller and the route; rows older than the
-- retention (`SHOP_IDEMPOTENCY_RETENTION_HOURS`, at least 24 h) are swept.
CREATE TABLE idempotency_keys (
    scope           VARCHAR(191)    NOT NULL,
    idem_key        VARCHAR(200)    NOT NULL,
    fingerprint     BINARY(32)      NOT NULL, -- SHA-256 of the route and the request
    stream_id       VARCHAR(191)    NOT NULL, -- where the command's events went
    stream_version  BIGINT          NOT NULL,
    global_position BIGINT          NOT NULL, -- of the command's last event (or the stream's)
    outcome         VARBINARY(8192) NOT NULL, -- the reply, encoded by the aggregate
    created_at      BIGINT          NOT NULL, -- microseconds since the Unix epoch, UTC
    PRIMARY KEY (scope, idem_key),
    KEY idempotency_keys_created_at (created_at)
) ENGINE = InnoDB;
