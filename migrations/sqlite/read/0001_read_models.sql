-- Read models for the embedded (SQLite) backend. Every table here is rebuildable from the
-- event store, so nothing in it is the source of truth.

-- How far each projection has applied the global event order. Written in the same
-- transaction as the rows it covers, which makes every projection effectively-once.
CREATE TABLE IF NOT EXISTS projection_checkpoints (
    name     TEXT PRIMARY KEY NOT NULL,
    position INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS balances (
    user_id INTEGER PRIMARY KEY NOT NULL,
    balance INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS products (
    product_id INTEGER PRIMARY KEY NOT NULL,
    name       TEXT    NOT NULL,
    price      INTEGER NOT NULL,
    stock      INTEGER NOT NULL
);

-- valid_from / valid_until are RFC 3339 UTC strings, NULL when the coupon has no bound.
CREATE TABLE IF NOT EXISTS coupons (
    coupon_id       INTEGER PRIMARY KEY NOT NULL,
    name            TEXT    NOT NULL,
    discount_kind   TEXT    NOT NULL CHECK (discount_kind IN ('fixed', 'percent')),
    discount_value  INTEGER NOT NULL,
    total_quantity  INTEGER NOT NULL,
    issued_quantity INTEGER NOT NULL,
    valid_from      TEXT NULL,
    valid_until     TEXT NULL
);

-- EXPIRED is not stored: it depends on the clock, so the query API derives it.
CREATE TABLE IF NOT EXISTS user_coupons (
    user_coupon_id INTEGER PRIMARY KEY NOT NULL,
    coupon_id      INTEGER NOT NULL,
    user_id        INTEGER NOT NULL,
    sequence       INTEGER NOT NULL,
    status         TEXT    NOT NULL CHECK (status IN ('AVAILABLE', 'USED')),
    issued_at      TEXT    NOT NULL,
    order_id       INTEGER NULL
);

-- "A user's coupons, in issue order" is the only query on this table.
CREATE INDEX IF NOT EXISTS user_coupons_by_user ON user_coupons (user_id, user_coupon_id);
