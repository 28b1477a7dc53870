#!/usr/bin/env python3
"""Registers products through the command API, THREADS connections at once (keep-alive).

  load.py COMMAND_URL ADMIN_TOKEN NAMES_FILE [THREADS]

Prints the number registered and the rate; fails on any answer but 201.
"""
import http.client
import json
import sys
import threading
import time
import urllib.parse


def main():
    url, token, path = sys.argv[1:4]
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else 16
    names = [line.rstrip("\n") for line in open(path, encoding="utf-8")]
    target = urllib.parse.urlparse(url)
    lock = threading.Lock()
    state = {"next": 0, "failed": None}

    def work():
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
        headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
        while True:
            with lock:
                i = state["next"]
                if i >= len(names) or state["failed"]:
                    return
                state["next"] = i + 1
            body = json.dumps({"name": names[i], "price": 1000 + (i % 50) * 100, "stock": 100})
            conn.request("POST", "/v1/products", body=body.encode(), headers=headers)
            response = conn.getresponse()
            answer = response.read()
            if response.status != 201:
                state["failed"] = f"{names[i]!r}: {response.status} {answer[:200]!r}"
                return

    started = time.time()
    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if state["failed"]:
        sys.exit(f"load: {state['failed']}")
    took = time.time() - started
    print(f"load: registered {len(names)} products in {took:.1f} s ({len(names) / took:.0f}/s)", file=sys.stderr)


if __name__ == "__main__":
    main()
