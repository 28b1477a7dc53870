-- Keyed entries of a stream's state (a coupon's holders), written in the same transaction
-- as the events that changed them, so an aggregate's in-memory state and snapshot stay
-- the same size however many keys its stream has.
CREATE TABLE stream_entries (
    stream_id   VARCHAR(191)   NOT NULL,
    entry_key   VARCHAR(191)   NOT NULL,
    entry_value VARBINARY(1024) NOT NULL,
    PRIMARY KEY (stream_id, entry_key)
) ENGINE = InnoDB;
