#!/usr/bin/env python3
"""The engines the product search could have used, measured in SQLite over the same
names (what chose the in-memory gram index, see docs/performance.md "Product search"):

- gram table: `search_grams(gram, product_id)` with every character and adjacent pair,
  candidates by the query's grams, each term checked with INSTR, the ranked page and the
  total in one statement (a window count) - the first design, the same SQL on MySQL;
- FTS5 trigram: SQLite's trigram tokenizer (no 2-character query can use it: `라떼`);
- LIKE: `%q%` over the names, page and count, a full scan.

  engines.py NAMES_FILE POPULAR_QUERIES TAIL_QUERIES [N]   (N queries of each, default 200)

Prints one JSON line per engine and mix: mean µs per query (one connection, in-process).
"""
import json
import os
import sqlite3
import sys
import tempfile
import time
import unicodedata


def words(text):
    folded, out, word = unicodedata.normalize("NFKC", text).lower(), [], ""
    for c in folded:
        if c.isalnum():
            word += c
        elif word:
            out.append(word)
            word = ""
    if word:
        out.append(word)
    return out


def pairs(term):
    return {term[i:i + 2] for i in range(len(term) - 1)} if len(term) > 1 else {term}


def build(db, names):
    db.executescript("""
        CREATE TABLE p (product_id INTEGER PRIMARY KEY, name TEXT, compact TEXT, spaced TEXT,
                        chars INTEGER, price INTEGER, stock INTEGER);
        CREATE TABLE g (gram TEXT, product_id INTEGER, PRIMARY KEY (gram, product_id)) WITHOUT ROWID;
        CREATE VIRTUAL TABLE f USING fts5(compact, tokenize = 'trigram', content = 'p',
                                          content_rowid = 'product_id');
    """)
    rows, grams = [], []
    for i, name in enumerate(names, 1):
        w = words(name)
        c = "".join(w)
        rows.append((i, name, c, "".join(" " + x for x in w), len(c), 5000, 10))
        grams.extend((x, i) for x in set(c) | pairs(c))
    db.executemany("INSERT INTO p VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    db.executemany("INSERT INTO g VALUES (?, ?)", grams)
    db.execute("INSERT INTO f (rowid, compact) SELECT product_id, compact FROM p")
    db.commit()


RANK = ("ORDER BY CASE WHEN p.compact = ? THEN 0 WHEN INSTR(p.compact, ?) = 1 THEN 1 "
        "WHEN {starts} THEN 2 ELSE 3 END, p.chars, p.product_id LIMIT 20")


def gram_table(q):
    terms = words(q)
    grams = sorted(set().union(*(pairs(t) for t in terms)))
    compact = "".join(terms)
    sql = ("SELECT p.product_id, p.name, p.price, p.stock, COUNT(*) OVER () FROM p WHERE product_id IN "
           f"(SELECT product_id FROM g WHERE gram IN ({','.join('?' * len(grams))}) "
           "GROUP BY product_id HAVING COUNT(*) = ?)")
    args = grams + [len(grams)]
    for t in terms:
        sql += " AND INSTR(p.compact, ?) > 0"
        args.append(t)
    sql += " " + RANK.format(starts=" AND ".join("INSTR(p.spaced, ?) > 0" for _ in terms))
    return [(sql, args + [compact, compact] + [" " + t for t in terms])]


def fts5(q):
    terms = words(q)
    compact = "".join(terms)
    match = " AND ".join('"' + t + '"' for t in terms)
    sql = ("SELECT p.product_id, p.name, p.price, p.stock, COUNT(*) OVER () FROM f "
           "JOIN p ON p.product_id = f.rowid WHERE f MATCH ? "
           + RANK.format(starts=" AND ".join("INSTR(p.spaced, ?) > 0" for _ in terms)))
    return [(sql, [match, compact, compact] + [" " + t for t in terms])]


def like(q):
    pattern = "%" + q + "%"
    return [("SELECT product_id, name, price, stock FROM p WHERE name LIKE ? ORDER BY product_id LIMIT 20", [pattern]),
            ("SELECT COUNT(*) FROM p WHERE name LIKE ?", [pattern])]


def mean_us(db, statements_of, queries):
    started = time.perf_counter()
    for q in queries:
        for sql, args in statements_of(q):
            db.execute(sql, args).fetchall()
    return (time.perf_counter() - started) / len(queries) * 1e6


def main():
    names_path, popular_path, tail_path = sys.argv[1:4]
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 200
    names = [line.rstrip("\n") for line in open(names_path, encoding="utf-8")]
    mixes = {
        "popular": [l.rstrip("\n") for l in open(popular_path, encoding="utf-8")][:n],
        "tail": [l.rstrip("\n") for l in open(tail_path, encoding="utf-8")][:n],
    }
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(os.path.join(tmp, "engines.db"))
        build(db, names)
        for engine, statements in (("sqlite-gram-table", gram_table), ("sqlite-fts5-trigram", fts5), ("sqlite-like", like)):
            for mix, queries in mixes.items():
                # FTS5's trigram index cannot serve a term under 3 characters: it scans.
                usable = [q for q in queries if engine != "sqlite-fts5-trigram" or min(map(len, words(q))) >= 3]
                us = mean_us(db, statements, usable)
                print(json.dumps({"engine": engine, "mix": mix, "queries": len(usable), "us_per_query": round(us)}))


if __name__ == "__main__":
    main()
