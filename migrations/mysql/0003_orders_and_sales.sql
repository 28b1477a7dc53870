-- Orders and the sales ranking on MySQL/MariaDB; the same tables and columns as
-- migrations/sqlite/read/0003_orders_and_sales.sql. Rebuildable from the event store.

-- One row per order, as the saga has moved it so far. Amounts are integer won; reason is
-- the kebab-case cancel reason (NULL unless CANCELLED); timestamps are RFC 3339 UTC text.
CREATE TABLE orders (
    order_id        BIGINT      NOT NULL PRIMARY KEY,
    user_id         BIGINT      NOT NULL,
    status          VARCHAR(16) NOT NULL CHECK (status IN ('PENDING', 'COMPLETED', 'CANCELLED')),
    total_amount    BIGINT      NOT NULL,
    discount_amount BIGINT      NOT NULL,
    paid_amount     BIGINT      NOT NULL,
    reason          VARCHAR(32) NULL,
    placed_at       VARCHAR(40) NOT NULL,
    updated         VARCHAR(40) NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- An order names a product at most once (the aggregate refuses duplicate lines).
CREATE TABLE order_lines (
    order_id   BIGINT NOT NULL,
    product_id BIGINT NOT NULL,
    quantity   BIGINT NOT NULL,
    unit_price BIGINT NOT NULL,
    PRIMARY KEY (order_id, product_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- Units sold per product per calendar day in SHOP_TIMEZONE, from OrderCompleted. The
-- covering index is the one the original service's analysis asked for; InnoDB's clustered
-- primary key holds the same columns, so either serves the ranking's range scan.
CREATE TABLE daily_sales (
    sold_date     DATE   NOT NULL,
    product_id    BIGINT NOT NULL,
    sold_quantity BIGINT NOT NULL,
    PRIMARY KEY (sold_date, product_id),
    KEY daily_sales_covering (sold_date, product_id, sold_quantity)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
