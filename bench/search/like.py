#!/usr/bin/env python3
"""SQL for the LIKE baseline on MariaDB: the seed service's product search as Spring Data
would have run it (`findByNameContaining(q, PageRequest.of(0, 20))`: a page ordered by
id, then the count query), over the same names the benchmark registers.

  like.py schema NAMES_FILE     CREATE TABLE products ... and the rows, 1,000 per INSERT
  like.py queries QUERIES_FILE  two statements per query: the page and the count
"""
import sys


def quote(text):
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def pattern(q):
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return quote("%" + escaped + "%")


def main():
    kind, path = sys.argv[1:3]
    lines = [line.rstrip("\n") for line in open(path, encoding="utf-8") if line.strip()]
    if kind == "schema":
        print("DROP TABLE IF EXISTS products;")
        print("CREATE TABLE products (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, "
              "name VARCHAR(255) NOT NULL, price BIGINT NOT NULL, stock INT NOT NULL) "
              "ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;")
        for start in range(0, len(lines), 1000):
            rows = ",".join(f"({quote(n)}, {1000 + (i % 50) * 100}, 100)"
                            for i, n in enumerate(lines[start:start + 1000], start))
            print(f"INSERT INTO products (name, price, stock) VALUES {rows};")
        print("ANALYZE TABLE products;")
        return
    for q in lines:
        p = pattern(q)
        print(f"SELECT id, name, price, stock FROM products WHERE name LIKE {p} ORDER BY id LIMIT 0, 20;")
        print(f"SELECT COUNT(id) FROM products WHERE name LIKE {p};")


if __name__ == "__main__":
    main()
