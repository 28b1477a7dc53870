-- The product-name search index (embedded backend); same tables and columns as
-- migrations/mysql/0006_search.sql, so one set of SQL serves both. Written by the search
-- projection from the catalog events; how names fold is events/src/search_text.rs. Each
-- query API process keeps the grams of these names in memory (read-side/src/search_index)
-- and follows new rows by `seq`.

-- One row per product: the name as registered, its folded forms and what a hit shows.
-- `compact` is the folded words without separators (what a term must be a substring of),
-- `spaced` each folded word after one space (for "a word starts with the term"), `chars`
-- the length of `compact`. `seq` numbers the rows in the order their transactions
-- committed (see search_head), so a reader that has seen up to n misses nothing by
-- reading `seq > n` next.
CREATE TABLE IF NOT EXISTS search_products (
    product_id INTEGER PRIMARY KEY NOT NULL,
    name       TEXT    NOT NULL,
    compact    TEXT    NOT NULL,
    spaced     TEXT    NOT NULL,
    chars      INTEGER NOT NULL,
    price      INTEGER NOT NULL,
    stock      INTEGER NOT NULL,
    seq        INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS search_products_seq ON search_products (seq);

-- One row (id 1): the last `seq` handed out, moved in the transaction that inserts the
-- rows, so concurrent projector batches take turns on it and commit in `seq` order; and
-- the generation of this copy of the index, new whenever it is built from nothing (a
-- rebuild), so readers know to reload rather than follow `seq`.
CREATE TABLE IF NOT EXISTS search_head (
    id         INTEGER PRIMARY KEY NOT NULL,
    generation TEXT    NOT NULL,
    seq        INTEGER NOT NULL
);
