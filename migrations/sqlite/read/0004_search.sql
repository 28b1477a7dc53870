-- The product-name search index (embedded backend); same tables and columns as
-- migrations/mysql/0006_search.sql, so one set of SQL serves both. Written by the search
-- projection from the catalog events; how names fold into it is events/src/search_text.rs.

-- One row per product: the name as registered, its folded forms and what a hit shows.
-- `compact` is the folded words without separators (what a term must be a substring of),
-- `spaced` each folded word after one space (for "a word starts with the term"), `chars`
-- the length of `compact` (a shorter name a query covers more of ranks first).
CREATE TABLE IF NOT EXISTS search_products (
    product_id INTEGER PRIMARY KEY NOT NULL,
    name       TEXT    NOT NULL,
    compact    TEXT    NOT NULL,
    spaced     TEXT    NOT NULL,
    chars      INTEGER NOT NULL,
    price      INTEGER NOT NULL,
    stock      INTEGER NOT NULL
);

-- Every character and every adjacent pair of characters of each product's compact name:
-- a query's grams select the candidates by primary-key range scans, which SQLite and
-- MySQL alike run without a full scan, for Korean without spaces as for English.
CREATE TABLE IF NOT EXISTS search_grams (
    gram       TEXT    NOT NULL,
    product_id INTEGER NOT NULL,
    PRIMARY KEY (gram, product_id)
) WITHOUT ROWID;
