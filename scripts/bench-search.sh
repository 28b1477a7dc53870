#!/usr/bin/env bash
# The product search benchmark (issue 15): PRODUCTS (100,000) generated Korean, English
# and mixed names registered through the command API of a fresh embedded `shop serve`,
# then wrk against GET /v1/products/search at RATE (5,000) requests/s, with the CPU µs
# per request of the server process next to the floor (GET /healthz of the same process
# at the same pace), measured in the same run; beside it the seed's LIKE '%q%' search on
# MariaDB over the same names, and the SQLite engines that were not chosen.
#
#   scripts/bench-search.sh            # DURATION (10s), CONNECTIONS (64), RATE, PRODUCTS
#   SHOP_BIN=/path/to/shop scripts/bench-search.sh     # skips the release build
#
# Rows: floor (/healthz), popular (common words, prefixes, mixed queries: the result
# cache answers most), tail (2-4 character pieces of the generated names, mostly
# distinct: the in-memory index answers each); then floor and tail again with the
# connections in lockstep (WRK_PACING=lockstep in bench/wrk/wrk-search.lua). Needs wrk, python3, sqlite3 and, for the
# LIKE row, MariaDB from scripts/services.sh (skipped with LIKE=0; ENGINES=0 skips the
# SQLite engine rows).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
count=${PRODUCTS:-100000}
rate=${RATE:-5000}
duration=${DURATION:-10s}
connections=${CONNECTIONS:-64}
command -v wrk >/dev/null || { echo "bench: installing wrk" >&2; apt-get install -y --no-install-recommends wrk >/dev/null; }

if [[ -n ${SHOP_BIN:-} ]]; then
  shop=$SHOP_BIN
else
  cargo build --release --bin shop >&2
  shop=${CARGO_TARGET_DIR:-$root/target}/release/shop
fi

workdir=$(mktemp -d "${TMPDIR:-/tmp}/shop-search.XXXXXX")
pid=
db=shop_bench_like_$$
# shellcheck disable=SC2317  # invoked by traps
cleanup() {
  local status=$?
  if [[ -n $pid ]]; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  mariadb -h127.0.0.1 -ushop -pshop -e "DROP DATABASE IF EXISTS \`$db\`" 2>/dev/null || true
  if [[ $status -ne 0 || ${KEEP_WORKDIR:-0} == 1 ]]; then echo "bench: logs in $workdir" >&2; else rm -rf "$workdir"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
rss_mib() { awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }

python3 bench/search/names.py "$count" >"$workdir/names.txt"
python3 bench/search/names.py queries popular 5000 >"$workdir/popular.txt"
python3 bench/search/names.py queries tail 50000 >"$workdir/tail.txt"

token=bench-admin-token
cport=$(free_port) qport=$(free_port)
SHOP_DATABASE_URL="sqlite://$workdir/shop.db" SHOP_COMMAND_ADDR="127.0.0.1:$cport" \
  SHOP_QUERY_ADDR="127.0.0.1:$qport" SHOP_ADMIN_TOKEN=$token SHOP_DEMO_DATA=false \
  SHOP_SQLITE_SYNC=normal SHOP_LOG=${SHOP_LOG:-warn} "$shop" serve >"$workdir/serve.log" 2>&1 &
pid=$!
command_url=http://127.0.0.1:$cport query_url=http://127.0.0.1:$qport
for _ in $(seq 1 300); do curl -fsS -o /dev/null "$query_url/healthz" 2>/dev/null && break; sleep 0.1; done

python3 bench/search/load.py "$command_url" "$token" "$workdir/names.txt" 16
for _ in $(seq 1 600); do
  indexed=$(sqlite3 "$workdir/shop-read.db" "SELECT COUNT(*) FROM search_products" 2>/dev/null || echo 0)
  [[ $indexed -ge $count ]] && break
  sleep 0.2
done
echo "bench: $indexed products in the search projection" >&2
rss_before=$(rss_mib "$pid")
load_ms=$(curl -fsS -o /dev/null -w '%{time_total}' "$query_url/v1/products/search?q=%EB%9D%BC%EB%96%BC" |
  awk '{printf "%.0f", $1 * 1000}')
rss_after=$(rss_mib "$pid")
echo "bench: first search (loads the in-memory index) took $load_ms ms; RSS $rss_before -> $rss_after MiB" >&2

results=$workdir/results.jsonl
measure() { # measure LABEL [env...]: one paced wrk run against the query API
  local label=$1
  shift
  local line
  line=$(env WRK_RATE="$rate" WRK_CONNECTIONS="$connections" "$@" \
    bench/wrk/cpu-per-request.sh "$pid" "$query_url" -t1 -c"$connections" -d"$duration" -s bench/wrk/wrk-search.lua)
  python3 -c 'import json,sys; r=json.loads(sys.argv[2]); r["label"]=sys.argv[1]; r["lua"]=json.loads(r["wrk_last"]); print(json.dumps(r))' \
    "$label" "$line" >>"$results"
  tail -n1 "$results" >&2
}
measure floor WRK_PATH=/healthz
measure popular WRK_QUERIES="$workdir/popular.txt"
measure tail WRK_QUERIES="$workdir/tail.txt"
measure floor-again WRK_PATH=/healthz
# The pacing measured before 2026-12-02 (bench/wrk/wrk-search.lua says why it is not the
# headline): 64 requests at once every 12.8 ms.
measure floor-lockstep WRK_PATH=/healthz WRK_PACING=lockstep
measure tail-lockstep WRK_QUERIES="$workdir/tail.txt" WRK_PACING=lockstep

like=$workdir/like.jsonl
if [[ ${LIKE:-1} == 1 ]]; then
  scripts/services.sh up >&2
  mariadb -h127.0.0.1 -ushop -pshop -e "CREATE DATABASE \`$db\` DEFAULT CHARSET utf8mb4"
  python3 bench/search/like.py schema "$workdir/names.txt" | mariadb -h127.0.0.1 -ushop -pshop "$db"
  for mix in popular tail; do
    head -n "${LIKE_QUERIES:-200}" "$workdir/$mix.txt" >"$workdir/like-$mix.txt"
    python3 bench/search/like.py queries "$workdir/like-$mix.txt" >"$workdir/like-$mix.sql"
    mariadb -h127.0.0.1 -ushop -pshop "$db" <"$workdir/like-$mix.sql" >/dev/null # warm the buffer pool
    server=$(pgrep -x mariadbd | head -n1)
    before=$(ticks "$server") started=$(date +%s.%N)
    mariadb -h127.0.0.1 -ushop -pshop "$db" <"$workdir/like-$mix.sql" >/dev/null
    ended=$(date +%s.%N) after=$(ticks "$server")
    python3 - "$mix" "$(wc -l <"$workdir/like-$mix.txt")" "$before" "$after" "$started" "$ended" "$(getconf CLK_TCK)" >>"$like" <<'PY'
import json, sys
mix, n, before, after, started, ended, hz = sys.argv[1:]
n = int(n)
print(json.dumps({"engine": "mariadb-like", "mix": mix, "queries": n,
                  "ms_per_search": round((float(ended) - float(started)) * 1e3 / n, 2),
                  "server_cpu_us_per_search": round((int(after) - int(before)) / int(hz) * 1e6 / n)}))
PY
    tail -n1 "$like" >&2
  done
fi
engines=$workdir/engines.jsonl
if [[ ${ENGINES:-1} == 1 ]]; then
  python3 bench/search/engines.py "$workdir/names.txt" "$workdir/popular.txt" "$workdir/tail.txt" | tee "$engines" >&2
fi

echo
python3 - "$results" "$like" "$engines" "$count" "$rate" "$load_ms" "$rss_before" "$rss_after" <<'EOF'
import json, os, sys
results, like, engines, count, rate, load_ms, rss_before, rss_after = sys.argv[1:]
rows = [json.loads(l) for l in open(results)]
floor = min(r["us_per_req"] for r in rows if r["label"].startswith("floor"))
print(f"search over {int(count):,} products, wrk paced at {int(rate):,} req/s "
      f"(index load on the first search: {load_ms} ms, RSS {rss_before} -> {rss_after} MiB)")
print(f"{'row':14} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'p99.9 ms':>8} {'CPU us/req':>10} {'- floor':>8}  answers")
for r in rows:
    lua = r["lua"]
    extra = "" if r["label"].startswith("floor") else f"{r['us_per_req'] - floor:.1f}"
    print(f"{r['label']:14} {r['rps']:>7.0f} {lua['p50_ms']:>7} {lua['p99_ms']:>7} {lua['p999_ms']:>8} "
          f"{r['us_per_req']:>10} {extra:>8}  200:{lua['200']} other:{lua['other']}")
for path, unit in ((like, "ms_per_search"), (engines, "us_per_query")):
    if os.path.exists(path) and os.path.getsize(path):
        for line in open(path):
            e = json.loads(line)
            cpu = f", server CPU {e['server_cpu_us_per_search']} us/search" if "server_cpu_us_per_search" in e else ""
            print(f"{e['engine']:20} {e['mix']:8} {e['queries']:>4} queries: {e[unit]} {unit.replace('_', ' ')}{cpu}")
EOF
