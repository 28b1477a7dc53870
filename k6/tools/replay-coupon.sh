#!/usr/bin/env bash
# Replay time against stream length, embedded: a coupon stream of N issues, then the first
# command after a restart with the stream's snapshot and, after deleting the snapshots,
# without it (full replay). Prints one line per N.
#
#   k6/tools/replay-coupon.sh 1000 10000 50000      # SHOP_BIN defaults to target/release/shop
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bin=${SHOP_BIN:-$root/target/release/shop}
[[ $# -ge 1 ]] || { echo "usage: $0 N [N ...]" >&2; exit 2; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

pid=""
dir=""
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  if [[ -n $pid ]]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  if [[ -n $dir ]]; then rm -rf "$dir"; fi
}
trap cleanup EXIT

for n in "$@"; do
  dir=$(mktemp -d)
  cport=$(free_port)
  qport=$(free_port)
  url=http://127.0.0.1:$cport
  start() {
    SHOP_DATABASE_URL=sqlite://$dir/shop.db SHOP_DEMO_DATA=false SHOP_ADMIN_TOKEN=replay \
      SHOP_COMMAND_ADDR=127.0.0.1:$cport SHOP_QUERY_ADDR=127.0.0.1:$qport SHOP_LOG=warn \
      "$bin" serve >>"$dir/log" 2>&1 &
    pid=$!
    until curl -fs -o /dev/null "$url/healthz"; do sleep 0.05; done
  }
  stop() { kill -TERM "$pid"; wait "$pid" || true; pid=""; }
  issue() {
    curl -s -o /dev/null -w '%{http_code} %{time_total}s' -XPOST "$url/v1/coupons/1/issue" \
      -H 'content-type: application/json' -d "{\"userId\":$1}"
  }
  start
  curl -fs -o /dev/null -XPOST "$url/v1/coupons" -H 'Authorization: Bearer replay' \
    -H 'content-type: application/json' \
    -d "{\"name\":\"long\",\"discount\":{\"kind\":\"fixed\",\"value\":1},\"totalQuantity\":$((n + 100))}"
  SHOP_COMMAND_URL=$url COUPON=1 N=$n k6 run -q "$root/k6/tools/fill-coupon.js" >/dev/null 2>&1
  stop
  snapshot=$(python3 -c "import sqlite3; c=sqlite3.connect('$dir/shop.db'); print(c.execute(\"select coalesce(max(stream_version), 0) from snapshots where stream_id='coupon-1'\").fetchone()[0])")
  start
  with_cold=$(issue $((n + 1)))
  with_warm=$(issue $((n + 2)))
  stop
  python3 -c "import sqlite3; c=sqlite3.connect('$dir/shop.db'); c.execute('delete from snapshots'); c.commit()"
  start
  without_cold=$(issue $((n + 3)))
  without_warm=$(issue $((n + 4)))
  stop
  echo "stream of $((n + 1)) events, snapshot at $snapshot | with snapshot: cold $with_cold, warm $with_warm | without: cold $without_cold, warm $without_warm"
  rm -rf "$dir"
  dir=""
done
