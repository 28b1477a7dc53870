-- The product-name search index on MySQL/MariaDB: the same tables and columns as
-- migrations/sqlite/read/0004_search.sql (see there for what each holds). Binary
-- collations, because the folding is done once in Rust (events/src/search_text.rs): a
-- case- or accent-insensitive collation would match differently than SQLite does, and
-- could even make two distinct grams collide on the primary key.

CREATE TABLE search_products (
    product_id BIGINT NOT NULL PRIMARY KEY,
    name       TEXT   NOT NULL,
    compact    TEXT   CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    spaced     TEXT   CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    chars      BIGINT NOT NULL,
    price      BIGINT NOT NULL,
    stock      BIGINT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE search_grams (
    gram       VARCHAR(2) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    product_id BIGINT     NOT NULL,
    PRIMARY KEY (gram, product_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
