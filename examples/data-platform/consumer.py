"""A downstream data platform's consumer of shop's events, written from the published
contract alone (docs/asyncapi.json and docs/events.md), not from shop's code.

It reads every topic the AsyncAPI document names from the beginning, checks each
message's headers and value against the document's schemas, applies each stream's events
exactly once by (stream-id, stream-version) as docs/events.md says, and keeps a daily
sales table in SQLite.

    consumer.py consume --brokers HOST:PORT --contract asyncapi.json --db sales.db \
        [--prefix shop.] [--timezone UTC] [--idle-exit SECONDS]
    consumer.py report --db sales.db --day YYYY-MM-DD [--limit 5]
"""

import argparse
import json
import re
import signal
import sqlite3
import sys
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import yaml
from confluent_kafka import Consumer, KafkaError
from jsonschema import Draft7Validator, FormatChecker

SCHEMA = """
CREATE TABLE IF NOT EXISTS streams (
    stream_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
    order_id INTEGER PRIMARY KEY,
    status TEXT NOT NULL,
    day TEXT
);
CREATE TABLE IF NOT EXISTS daily_sales (
    day TEXT NOT NULL,
    product_id INTEGER NOT NULL,
    quantity INTEGER NOT NULL,
    revenue INTEGER NOT NULL,
    PRIMARY KEY (day, product_id)
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS rejected (
    topic TEXT, partition INTEGER, offset INTEGER, reason TEXT
);
"""


class Contract:
    """Topics and per-message validators, from the AsyncAPI document."""

    def __init__(self, path, prefix):
        with open(path, encoding="utf-8") as f:
            # YAML is a superset of JSON: the document may be either.
            document = yaml.safe_load(f)
        self.topics = []
        for channel in document["channels"].values():
            address = channel["address"]
            default = document["components"]["parameters"]["prefix"]["default"]
            self.topics.append(address.replace("{prefix}", prefix if prefix is not None else default))
        checker = FormatChecker()
        self.messages = {}
        for name, message in document["components"]["messages"].items():
            self.messages[name] = (
                Draft7Validator(message["headers"], format_checker=checker),
                Draft7Validator(message["payload"], format_checker=checker),
            )

    def problems(self, headers, value):
        event_type = headers.get("event-type")
        if event_type not in self.messages:
            return [f"unknown event type {event_type!r}"]
        header_schema, payload_schema = self.messages[event_type]
        found = [f"header {'/'.join(map(str, e.path))}: {e.message}" for e in header_schema.iter_errors(headers)]
        found += [f"value {'/'.join(map(str, e.path))}: {e.message}" for e in payload_schema.iter_errors(value)]
        return found


def bump(db, name, by=1):
    db.execute(
        "INSERT INTO counters (name, value) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
        (name, by),
    )


def apply(db, event_type, value, timezone):
    """Applies one event, already deduplicated, to the sales tables."""
    if event_type == "OrderCompleted":
        completed = datetime.fromisoformat(value["completedAt"].replace("Z", "+00:00"))
        day = completed.astimezone(timezone).date().isoformat()
        # A primary key, not an upsert: an order applied twice is a bug to stop on.
        db.execute("INSERT INTO orders (order_id, status, day) VALUES (?, 'completed', ?)", (value["orderId"], day))
        for line in value["lines"]:
            db.execute(
                "INSERT INTO daily_sales (day, product_id, quantity, revenue) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (day, product_id) DO UPDATE SET "
                "quantity = quantity + excluded.quantity, revenue = revenue + excluded.revenue",
                (day, line["productId"], line["quantity"], line["quantity"] * line["unitPrice"]),
            )
    elif event_type == "OrderCancelled":
        db.execute("INSERT INTO orders (order_id, status) VALUES (?, 'cancelled')", (value["orderId"],))


def handle(db, contract, message, timezone):
    headers = {k: (v.decode("utf-8") if v is not None else "") for k, v in (message.headers() or [])}
    try:
        value = json.loads(message.value())
    except (TypeError, ValueError) as error:
        value, problems = None, [f"value is not JSON: {error}"]
    else:
        problems = contract.problems(headers, value)
    if problems:
        db.execute(
            "INSERT INTO rejected VALUES (?, ?, ?, ?)",
            (message.topic(), message.partition(), message.offset(), "; ".join(problems)),
        )
        print(f"rejected {message.topic()}@{message.offset()}: {problems}", file=sys.stderr)
        return
    bump(db, "delivered")
    stream, version = headers["stream-id"], int(headers["stream-version"])
    row = db.execute("SELECT version FROM streams WHERE stream_id = ?", (stream,)).fetchone()
    last = row[0] if row else 0
    if version <= last:
        # A copy of an event already applied (the relay publishes again after a crash).
        bump(db, "duplicates")
    elif version > last + 1:
        # An earlier send failed; the relay publishes the stream again from before the gap.
        bump(db, "gaps")
    else:
        apply(db, headers["event-type"], value, timezone)
        db.execute(
            "INSERT INTO streams (stream_id, version) VALUES (?, ?) "
            "ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version",
            (stream, version),
        )
        bump(db, "applied")


def consume(args):
    contract = Contract(args.contract, args.prefix)
    timezone = ZoneInfo(args.timezone)
    db = sqlite3.connect(args.db)
    db.executescript(SCHEMA)
    consumer = Consumer(
        {
            "bootstrap.servers": args.brokers,
            "group.id": args.group,
            # docs/events.md: a new consumer reads each topic from the beginning.
            "auto.offset.reset": "earliest",
            # Offsets are committed after the SQLite transaction that applied them.
            "enable.auto.commit": False,
            # Topics appear on the relay's first publish; find them soon after.
            "topic.metadata.refresh.interval.ms": 1000,
        }
    )
    # A regex subscription picks up topics created after we start.
    consumer.subscribe(["^" + "|".join(re.escape(t) for t in contract.topics) + "$"])
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    last_message = time.monotonic()
    try:
        while not stopping:
            batch = consumer.consume(num_messages=500, timeout=0.5)
            messages = []
            for message in batch:
                error = message.error()
                if error is None:
                    messages.append(message)
                elif error.code() not in (KafkaError._PARTITION_EOF, KafkaError.UNKNOWN_TOPIC_OR_PART):
                    print(f"kafka: {error}", file=sys.stderr)
            if messages:
                with db:
                    for message in messages:
                        handle(db, contract, message, timezone)
                consumer.commit(asynchronous=False)
                last_message = time.monotonic()
            elif args.idle_exit and time.monotonic() - last_message > args.idle_exit:
                break
    finally:
        consumer.close()
        db.close()


def report(args):
    db = sqlite3.connect(args.db)
    top = db.execute(
        "SELECT product_id, quantity, revenue FROM daily_sales WHERE day = ? "
        "ORDER BY quantity DESC, product_id ASC LIMIT ?",
        (args.day, args.limit),
    ).fetchall()
    counters = dict(db.execute("SELECT name, value FROM counters").fetchall())
    orders = db.execute("SELECT order_id, status FROM orders ORDER BY order_id").fetchall()
    rejected = db.execute("SELECT COUNT(*) FROM rejected").fetchone()[0]
    print(
        json.dumps(
            {
                "day": args.day,
                "top": [{"productId": p, "soldQuantity": q, "revenue": r} for p, q, r in top],
                "completed": [o for o, s in orders if s == "completed"],
                "cancelled": [o for o, s in orders if s == "cancelled"],
                "counters": counters,
                "rejected": rejected,
            }
        )
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("consume", help="read the topics into the SQLite sales tables")
    run.add_argument("--brokers", required=True)
    run.add_argument("--contract", required=True, help="the AsyncAPI document (JSON or YAML)")
    run.add_argument("--db", required=True)
    run.add_argument("--prefix", help="topic prefix (default: the document's)")
    run.add_argument("--group", default="data-platform")
    run.add_argument("--timezone", default="UTC", help="IANA zone whose calendar days sales count in")
    run.add_argument("--idle-exit", type=float, default=0, help="stop after this many seconds without a message")
    run.set_defaults(func=consume)
    rep = commands.add_parser("report", help="print a day's top products and the orders seen, as JSON")
    rep.add_argument("--db", required=True)
    rep.add_argument("--day", required=True)
    rep.add_argument("--limit", type=int, default=5)
    rep.set_defaults(func=report)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
