-- The product-name search index on MySQL/MariaDB: the same tables and columns as
-- migrations/sqlite/read/0004_search.sql (see there for what each holds). The folded
-- columns are binary: the folding is done once in Rust (events/src/search_text.rs) and
-- must compare the same here as in SQLite.

CREATE TABLE search_products (
    product_id BIGINT NOT NULL PRIMARY KEY,
    name       TEXT   NOT NULL,
    compact    TEXT   CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    spaced     TEXT   CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    chars      BIGINT NOT NULL,
    price      BIGINT NOT NULL,
    stock      BIGINT NOT NULL,
    seq        BIGINT NOT NULL,
    UNIQUE KEY search_products_seq (seq)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE search_head (
    id         BIGINT      NOT NULL PRIMARY KEY,
    generation VARCHAR(64) NOT NULL,
    seq        BIGINT      NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
