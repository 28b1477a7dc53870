-- Read models on MySQL/MariaDB: the same tables and columns as the embedded SQLite read
-- models (migrations/sqlite/read), so one set of SQL serves both. Every table here is
-- rebuildable from the event store; nothing in it is the source of truth.

-- How far each in-process projection has applied the global event order (embedded feed).
-- Projectors fed by Kafka track their place with consumer offsets and `projected_streams`.
CREATE TABLE projection_checkpoints (
    name     VARCHAR(64) NOT NULL PRIMARY KEY,
    position BIGINT      NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- The last stream version each projection applied, per stream: an event applies only when
-- its version is above this one, checked and moved in the transaction that applies it, so
-- a message Kafka delivers twice changes nothing. Also read for read-your-writes waits.
CREATE TABLE projected_streams (
    projection VARCHAR(64)  NOT NULL,
    stream_id  VARCHAR(191) NOT NULL,
    version    BIGINT       NOT NULL,
    PRIMARY KEY (projection, stream_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE balances (
    user_id BIGINT NOT NULL PRIMARY KEY,
    balance BIGINT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE products (
    product_id BIGINT NOT NULL PRIMARY KEY,
    name       TEXT   NOT NULL,
    price      BIGINT NOT NULL,
    stock      BIGINT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- valid_from / valid_until are RFC 3339 UTC strings, NULL when the coupon has no bound.
CREATE TABLE coupons (
    coupon_id       BIGINT      NOT NULL PRIMARY KEY,
    name            TEXT        NOT NULL,
    discount_kind   VARCHAR(16) NOT NULL CHECK (discount_kind IN ('fixed', 'percent')),
    discount_value  BIGINT      NOT NULL,
    total_quantity  BIGINT      NOT NULL,
    issued_quantity BIGINT      NOT NULL,
    valid_from      VARCHAR(40) NULL,
    valid_until     VARCHAR(40) NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- EXPIRED is not stored: it depends on the clock, so the query API derives it.
CREATE TABLE user_coupons (
    user_coupon_id BIGINT      NOT NULL PRIMARY KEY,
    coupon_id      BIGINT      NOT NULL,
    user_id        BIGINT      NOT NULL,
    sequence       BIGINT      NOT NULL,
    status         VARCHAR(16) NOT NULL CHECK (status IN ('AVAILABLE', 'USED')),
    issued_at      VARCHAR(40) NOT NULL,
    order_id       BIGINT      NULL,
    -- "A user's coupons, in issue order" is the only query on this table.
    KEY user_coupons_by_user (user_id, user_coupon_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
