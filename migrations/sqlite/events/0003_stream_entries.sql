-- Keyed entries of a stream's state (a coupon's holders), written in the same transaction
-- as the events that changed them, so an aggregate's in-memory state and snapshot stay
-- the same size however many keys its stream has. Derived from the events: a rebuild
-- could recompute them, but nothing else ever writes them.
CREATE TABLE stream_entries (
    stream_id   TEXT NOT NULL,
    entry_key   TEXT NOT NULL,
    entry_value BLOB NOT NULL,
    PRIMARY KEY (stream_id, entry_key)
) WITHOUT ROWID;
