#!/usr/bin/env bash
# The write-path benchmark: wrk against a fresh shop, CPU per request of the server
# processes next to the floor (`GET /healthz` of the same process) and, in full mode, next
# to the one-transaction monolith peer (bench/peers/monolith-go) on the same MariaDB.
#
#   scripts/bench-wrk.sh [embedded|full|peer] ...      (default: embedded; several modes run in turn)
#
# embedded: `shop serve` on a fresh SQLite file.
# full:     `scripts/services.sh up`, a fresh MySQL database, Kafka topic prefix and Redis
#           prefix; COMMAND_NODES (2) x `shop command-api`, relay, projector, query API.
#           wrk drives the first command node (the hot-coupon row drives both at once).
# peer:     the Go monolith peer on the same MariaDB (database peer_mono, reset first).
#
# Per command it prints requests/s, p50/p99, the answers by status and the CPU µs per
# request summed over the server processes (full: every shop process + mariadbd + Kafka +
# Redis; peer: the peer + mariadbd). Each row is first driven, unmeasured, for WARMUP (5s;
# 0: none). DURATION (8s), CONNECTIONS (64), SKIP_BUILD=1 reuses
# target/release/shop, SHOP_BIN=/path runs that binary, ONLY="floor issue ..." picks rows.
# Rows: floor, refusal, issue, issue-keyed, charge, order, order-keyed, hot-coupon (full: two
# nodes, one coupon); the keyed rows send a fresh Idempotency-Key per request (not the peer);
# opt-in: holders (ONLY="floor holders": one coupon issued to HOLDERS users, window by window).
# Everything it starts is stopped on exit, and a full run's database, Kafka topics and Redis
# keys are removed; the services of services.sh stay up.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
modes=("$@")
[[ ${#modes[@]} -gt 0 ]] || modes=(embedded)
for mode in "${modes[@]}"; do
  case $mode in
    embedded | full | peer) ;;
    *) echo "usage: $0 [embedded|full|peer] ..." >&2; exit 2 ;;
  esac
done

duration=${DURATION:-8s}
warmup=${WARMUP:-5s}
connections=${CONNECTIONS:-64}
only=${ONLY:-floor refusal issue issue-keyed charge order order-keyed hot-coupon}
wrk_dir=$root/bench/wrk
command -v wrk >/dev/null || { echo "bench: installing wrk" >&2; apt-get install -y --no-install-recommends wrk >/dev/null; }

if [[ -n ${SHOP_BIN:-} ]]; then
  shop=$SHOP_BIN
else
  [[ ${SKIP_BUILD:-0} == 1 ]] || cargo build --release --bin shop >&2
  shop=$root/target/release/shop
fi

pids=()
workdir=$(mktemp -d "${TMPDIR:-/tmp}/shop-wrk.XXXXXX")
dbs=()
prefixes=() # the Kafka topic and Redis key prefixes of full-mode runs, removed on exit
# shellcheck disable=SC2317  # invoked by traps
stop_all() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  pids=()
}
# shellcheck disable=SC2317
cleanup() {
  local status=$?
  stop_all
  for db in "${dbs[@]}"; do
    mariadb -h127.0.0.1 -ushop -pshop -e "DROP DATABASE IF EXISTS \`$db\`" 2>/dev/null || true
  done
  # Left behind, every run's 16 partitions would add to the broker's background work (and
  # to the next run's figures), and its keys to Redis' memory.
  for prefix in "${prefixes[@]}"; do
    scripts/services.sh kafka-run org.apache.kafka.tools.TopicCommand --bootstrap-server "${KAFKA_ADDR:-127.0.0.1:9092}" \
      --delete --if-exists --topic "$prefix\\..*" >/dev/null 2>&1 || true
    redis-cli -u "${REDIS_URL:-redis://127.0.0.1:6379}" --scan --pattern "$prefix:*" 2>/dev/null |
      xargs -r -n 500 redis-cli -u "${REDIS_URL:-redis://127.0.0.1:6379}" del >/dev/null 2>&1 || true
  done
  if [[ $status -ne 0 || ${KEEP_WORKDIR:-0} == 1 ]]; then echo "bench: logs in $workdir" >&2; else rm -rf "$workdir"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
wait_healthy() {
  for _ in $(seq 1 300); do
    curl -fsS -o /dev/null "$1/healthz" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { echo "bench: the process behind $1 exited (logs: $workdir)" >&2; return 1; }
    sleep 0.1
  done
  echo "bench: $1/healthz never answered" >&2
  return 1
}
start() { local name=$1; shift; "$@" >"$workdir/$name.log" 2>&1 & pids+=("$!"); }
post() { # post URL JSON: prints the body, fails on a non-2xx
  curl -fsS -X POST "$1" -H 'content-type: application/json' -H "Authorization: Bearer $token" -d "$2"
}
wants() { [[ " $only " == *" $1 "* ]]; }

token=bench-admin-token
export SHOP_ADMIN_TOKEN=$token SHOP_DEMO_DATA=false SHOP_LOG=${SHOP_LOG:-warn}
export SHOP_USER_RATE_PER_SEC=0

# measure LABEL PIDS URL [wrk args]: one wrk run; one result line (JSON) into $results.
results=$workdir/results.jsonl
measure() {
  local label=$1 cpu_pids=$2 url=$3
  shift 3
  local line before after
  if [[ $warmup != 0 && $label != holders* ]]; then
    # Unmeasured first: a JVM (Kafka) flushes compiled code that went cold while idle and
    # compiles it again under load, and caches fill; seconds of that would count against
    # the row. The warm-up's users (issue rows) are not the measured run's.
    WRK_USER_BASE=1900000000 wrk -t1 -c"$connections" -d"$warmup" "$@" "$url" >/dev/null 2>&1 || true
  fi
  before=$(ticks "$cpu_pids")
  line=$("$wrk_dir/cpu-per-request.sh" "$cpu_pids" "$url" -t1 -c"$connections" -d"$duration" "$@")
  after=$(ticks "$cpu_pids")
  python3 - "$mode" "$label" "$line" "$before" "$after" "$(getconf CLK_TCK)" >>"$results" <<'EOF'
import json, sys
mode, label, line, before, after, hz = sys.argv[1:]
r = json.loads(line)
try:
    lua = json.loads(r["wrk_last"])
except ValueError:
    lua = {}
# CPU µs per request of each process (name:ticks pairs before and after the run).
b = dict(x.rsplit("=", 1) for x in before.split())
a = dict(x.rsplit("=", 1) for x in after.split())
reqs = max(r["requests"], 1)
split = {k: round((int(a[k]) - int(b.get(k, 0))) / int(hz) * 1e6 / reqs, 1) for k in a}
r.update(mode=mode, label=label, lua=lua, split=split)
print(json.dumps(r))
EOF
  tail -n1 "$results" >&2
}

ticks() { # ticks PIDS: "name#pid=utime+stime" per process (for the per-process split)
  local p
  for p in ${1//,/ }; do
    [[ -r /proc/$p/stat ]] || continue
    local name
    name=$(tr '\0' ' ' </proc/"$p"/cmdline | awk '{n=$1; sub(".*/", "", n); r=$2; if (n ~ /^java/) r="kafka"; else if (n !~ /^shop/) r=""; print n (r ? "-" r : "")}')
    echo "$name#$p=$(awk '{print $14+$15}' /proc/"$p"/stat)"
  done
}

coupon() { # coupon TOTAL: registers an active coupon, prints its id
  post "$1/v1/coupons" "{\"name\":\"bench\",\"discount\":{\"kind\":\"fixed\",\"value\":1000},\"totalQuantity\":$2,\"validFrom\":\"2020-01-01T00:00:00Z\",\"validUntil\":\"2099-01-01T00:00:00Z\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["couponId"])'
}

# run_rows BASE CPU_PIDS [SECOND_BASE]: the rows, against one service.
run_rows() {
  local base=$1 cpu=$2 second=${3:-}
  wants floor && measure floor "$cpu" "$base/healthz"
  if wants refusal; then
    local sold
    sold=$(coupon "$base" 1)
    curl -fsS -o /dev/null -X POST "$base/v1/coupons/$sold/issue" -H 'content-type: application/json' -d '{"userId":1}'
    WRK_COUPON=$sold measure refusal "$cpu" "$base" -s "$wrk_dir/wrk-issue.lua"
  fi
  if wants issue; then
    local big
    big=$(coupon "$base" 10000000)
    WRK_COUPON=$big measure issue "$cpu" "$base" -s "$wrk_dir/wrk-issue.lua"
  fi
  if wants holders; then
    # One coupon, wrk windows one after another until it has HOLDERS (1,000,000) holders:
    # the µs per issue of the first window (the first ~100,000) against the last.
    local many n=0 issued=0
    many=$(coupon "$base" 10000000)
    while ((issued < ${HOLDERS:-1000000})); do
      n=$((n + 1))
      WRK_COUPON=$many WRK_USER_BASE=$((700000000 + n * 10000000)) \
        measure "holders window $n" "$cpu" "$base" -s "$wrk_dir/wrk-issue.lua"
      issued=$((issued + $(tail -n1 "$results" | python3 -c 'import json,sys; print(json.load(sys.stdin)["lua"].get("201", 0))')))
      echo "bench: the coupon has $issued holders" >&2
    done
  fi
  if wants issue-keyed && [[ $mode != peer ]]; then
    local keyed
    keyed=$(coupon "$base" 10000000)
    WRK_KEYS=1 WRK_COUPON=$keyed WRK_USER_BASE=300000000 \
      measure issue-keyed "$cpu" "$base" -s "$wrk_dir/wrk-issue.lua"
  fi
  wants charge && WRK_USERS=100000 measure charge "$cpu" "$base" -s "$wrk_dir/wrk-charge.lua"
  if wants order; then
    "$wrk_dir/setup-orders.sh" "$base" "$token" >"$workdir/setup-orders-$mode.log"
    WRK_USERS=5000 WRK_PRODUCTS=20 measure order "$cpu" "$base" -s "$wrk_dir/wrk-order.lua"
  fi
  if wants order-keyed && [[ $mode != peer ]]; then
    wants order || "$wrk_dir/setup-orders.sh" "$base" "$token" >"$workdir/setup-orders-$mode.log"
    WRK_KEYS=1 WRK_USERS=5000 WRK_PRODUCTS=20 measure order-keyed "$cpu" "$base" -s "$wrk_dir/wrk-order.lua"
  fi
  if wants hot-coupon && [[ -n $second ]]; then
    # Two wrk at once, one per command node, on one coupon: the rush must stay exact. The
    # row counts both nodes' requests against the CPU of every process over the run. The
    # second node's wrk keeps step with `measure`: a warm-up as long as its warm-up, then
    # the measured run, so both measure the same seconds (it used to start its measured
    # run with the first's warm-up, so its cold start set the row's p99 and most of its
    # requests fell outside the CPU window).
    local hot out2
    hot=$(coupon "$base" 10000000)
    out2=$workdir/hot-second.txt
    (
      if [[ $warmup != 0 ]]; then
        WRK_COUPON=$hot WRK_USER_BASE=1800000000 wrk -t1 -c"$connections" -d"$warmup" \
          -s "$wrk_dir/wrk-issue.lua" "$second" >/dev/null 2>&1 || true
      fi
      WRK_COUPON=$hot WRK_USER_BASE=500000000 wrk -t1 -c"$connections" -d"$duration" --latency \
        -s "$wrk_dir/wrk-issue.lua" "$second" >"$out2" 2>&1
    ) &
    local second_wrk=$!
    WRK_COUPON=$hot measure hot-coupon "$cpu" "$base" -s "$wrk_dir/wrk-issue.lua"
    wait "$second_wrk"
    python3 - "$results" "$(tail -n1 "$out2")" <<'EOF'
import json, sys
path, second = sys.argv[1:]
rows = [json.loads(l) for l in open(path)]
r, other = rows[-1], json.loads(second)
both = r["requests"] + sum(other.get(k, 0) for k in ("201", "409", "503", "other"))
r["us_per_req"] = round(r["server_cpu_s"] * 1e6 / max(both, 1), 1)
r["split"] = {k: round(v * r["requests"] / max(both, 1), 1) for k, v in r["split"].items()}
r["rps"] = r["rps"] + other["rps"]
r["label"] = "hot-coupon (2 nodes)"
lua = r["lua"]
for k in ("201", "409", "503", "other"):
    lua[k] = lua.get(k, 0) + other.get(k, 0)
lua["p99_ms"] = max(lua.get("p99_ms", 0), other.get("p99_ms", 0))
lua["p50_ms"] = max(lua.get("p50_ms", 0), other.get("p50_ms", 0))
rows[-1] = r
with open(path, "w") as f:
    f.writelines(json.dumps(x) + "\n" for x in rows)
EOF
  fi
}

service_pids() { # the PIDs of the shared services, comma-separated
  local p list=()
  for p in $(pgrep -x mariadbd) $(pgrep -x redis-server) $(pgrep -f 'kafka\.Kafka'); do list+=("$p"); done
  (IFS=,; echo "${list[*]}")
}

for mode in "${modes[@]}"; do
  case $mode in
    embedded)
      cport=$(free_port) qport=$(free_port)
      # Without the services' variables, whatever the caller exported (or a `full` mode
      # run before this one): `shop serve` with SHOP_REDIS_URL or SHOP_KAFKA_BROKERS set is
      # no longer the embedded service (2-3 times the CPU per order, measured).
      start serve env -u SHOP_REDIS_URL -u SHOP_KAFKA_BROKERS SHOP_DATABASE_URL="sqlite://$workdir/shop.db" \
        SHOP_COMMAND_ADDR="127.0.0.1:$cport" SHOP_QUERY_ADDR="127.0.0.1:$qport" "$shop" serve
      wait_healthy "http://127.0.0.1:$cport" "${pids[0]}"
      run_rows "http://127.0.0.1:$cport" "${pids[0]}"
      ;;
    full)
      scripts/services.sh up >&2
      eval "$(scripts/services.sh env)"
      id=$(date +%s)$$
      dbs+=("shop_wrk_$id")
      export SHOP_DATABASE_URL="${SHOP_DATABASE_URL%/*}/shop_wrk_$id"
      export SHOP_KAFKA_TOPIC_PREFIX="wrk$id." SHOP_REDIS_PREFIX="wrk$id:"
      prefixes+=("wrk$id")
      KAFKA_ADDR=$SHOP_KAFKA_BROKERS REDIS_URL=$SHOP_REDIS_URL
      "$shop" migrate >"$workdir/migrate.log" 2>&1
      urls=()
      for i in $(seq 1 "${COMMAND_NODES:-2}"); do
        port=$(free_port)
        start "command-api-$i" env SHOP_COMMAND_ADDR="127.0.0.1:$port" "$shop" command-api
        wait_healthy "http://127.0.0.1:$port" "${pids[-1]}"
        urls+=("http://127.0.0.1:$port")
      done
      start relay "$shop" relay
      start projector "$shop" projector
      qport=$(free_port)
      start query-api env SHOP_QUERY_ADDR="127.0.0.1:$qport" "$shop" query-api
      wait_healthy "http://127.0.0.1:$qport" "${pids[-1]}"
      cpu=$(IFS=,; echo "${pids[*]}"),$(service_pids)
      run_rows "${urls[0]}" "$cpu" "${urls[1]:-}"
      unset SHOP_DATABASE_URL SHOP_KAFKA_TOPIC_PREFIX SHOP_REDIS_PREFIX
      ;;
    peer)
      scripts/services.sh up >&2
      command -v go >/dev/null || { echo "bench: the peer needs Go (https://go.dev/dl)" >&2; exit 1; }
      (cd bench/peers/monolith-go && go build -o "$workdir/peer-mono" .) >&2
      mariadb -h127.0.0.1 -ushop -pshop -e "SELECT 1" >/dev/null
      port=$(free_port)
      start peer env PEER_RESET=1 PEER_ADMIN_TOKEN=$token PEER_ADDR="127.0.0.1:$port" \
        PEER_DATABASE_URL="shop:shop@tcp(127.0.0.1:3306)/peer_mono" "$workdir/peer-mono"
      wait_healthy "http://127.0.0.1:$port" "${pids[-1]}"
      run_rows "http://127.0.0.1:$port" "${pids[-1]},$(pgrep -x mariadbd | paste -sd,)"
      ;;
  esac
  stop_all
done

echo
python3 - "$results" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
floor = {r["mode"]: r["us_per_req"] for r in rows if r["label"] == "floor"}
print(f"{'mode':9} {'command':20} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'CPU us/req':>10} {'x floor':>8}  answers")
for r in rows:
    lua = r["lua"]
    answers = " ".join(f"{k}:{v}" for k, v in lua.items() if not k.endswith("_ms") and k != "rps")
    f = floor.get(r["mode"])
    x = f"{r['us_per_req'] / f:.1f}" if f else ""
    p50 = lua.get("p50_ms", "")
    p99 = lua.get("p99_ms", r["p99"])
    print(f"{r['mode']:9} {r['label']:20} {r['rps']:>9.0f} {p50!s:>8} {p99!s:>8} {r['us_per_req']:>10} {x:>8}  {answers}")
    if len(r.get("split", {})) > 1:
        print(" " * 31 + "CPU us/req by process: " + ", ".join(f"{k.split('#')[0]} {v}" for k, v in sorted(r["split"].items(), key=lambda kv: -kv[1])))
EOF
