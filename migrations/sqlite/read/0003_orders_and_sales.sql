-- Orders and the sales ranking (embedded backend); same tables and columns as
-- migrations/mysql/0003_orders_and_sales.sql, so one set of SQL serves both.

-- One row per order, as the saga has moved it so far. Amounts are integer won; reason is
-- the kebab-case cancel reason (NULL unless CANCELLED); timestamps are RFC 3339 UTC text.
CREATE TABLE IF NOT EXISTS orders (
    order_id        INTEGER PRIMARY KEY NOT NULL,
    user_id         INTEGER NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('PENDING', 'COMPLETED', 'CANCELLED')),
    total_amount    INTEGER NOT NULL,
    discount_amount INTEGER NOT NULL,
    paid_amount     INTEGER NOT NULL,
    reason          TEXT    NULL,
    placed_at       TEXT    NOT NULL,
    updated         TEXT    NOT NULL
);

-- An order names a product at most once (the aggregate refuses duplicate lines).
CREATE TABLE IF NOT EXISTS order_lines (
    order_id   INTEGER NOT NULL,
    product_id INTEGER NOT NULL,
    quantity   INTEGER NOT NULL,
    unit_price INTEGER NOT NULL,
    PRIMARY KEY (order_id, product_id)
);

-- Units sold per product per calendar day in SHOP_TIMEZONE ('YYYY-MM-DD'), from
-- OrderCompleted. The covering index answers the ranking's range scan from the index alone.
CREATE TABLE IF NOT EXISTS daily_sales (
    sold_date     TEXT    NOT NULL,
    product_id    INTEGER NOT NULL,
    sold_quantity INTEGER NOT NULL,
    PRIMARY KEY (sold_date, product_id)
);
CREATE INDEX IF NOT EXISTS daily_sales_covering ON daily_sales (sold_date, product_id, sold_quantity);
