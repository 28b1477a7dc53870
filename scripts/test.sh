#!/usr/bin/env bash
# The one test entry point (README and .ci/run call it): starts the services the tests need
# (MariaDB, Redis, Kafka: scripts/services.sh up, which installs them if missing), checks
# formatting and lints, then runs every test of the workspace: unit and given/when/then
# tests, the event-store contract on SQLite and MySQL, the relay and projectors against
# real Kafka and Redis, HTTP end-to-end tests in-process, and end-to-end tests across real
# `shop` processes (crash, Kafka outage, dead Redis).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# One full run builds everything once; incremental caches would only add tens of GB.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

echo "== services"
scripts/services.sh up

# Tests make fresh databases, topics and Redis keys per test (shop_t_*, t<id>.*, t<id>:*);
# clear what earlier runs left so the servers do not fill up, and again after a run that
# passed (a failed run keeps them to look at), so a benchmark right after the tests does
# not pay for a few hundred idle partitions.
clear_test_leftovers() {
  mysql_port="${SHOP_MYSQL_PORT:-3306}"
  mariadb -ushop -pshop -h127.0.0.1 -P"$mysql_port" -N -B \
    -e "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'shop\\_t\\_%'" |
    while read -r db; do
      mariadb -ushop -pshop -h127.0.0.1 -P"$mysql_port" -e "DROP DATABASE \`$db\`"
    done
  redis-cli -p "${SHOP_REDIS_PORT:-6379}" --scan --pattern 't*:*' |
    xargs -r -n 500 redis-cli -p "${SHOP_REDIS_PORT:-6379}" del >/dev/null
  if scripts/services.sh kafka-run org.apache.kafka.tools.TopicCommand \
    --bootstrap-server "127.0.0.1:${SHOP_KAFKA_PORT:-9092}" --list 2>/dev/null | grep -qE '^t[0-9a-f]{32}\.'; then
    scripts/services.sh kafka-run org.apache.kafka.tools.TopicCommand \
      --bootstrap-server "127.0.0.1:${SHOP_KAFKA_PORT:-9092}" --delete --topic 't[0-9a-f]{32}\..*' >/dev/null 2>&1 || true
  fi
}
echo "== clearing what earlier test runs left on the servers"
clear_test_leftovers

echo "== cargo fmt --check"
cargo fmt --all -- --check

# `failpoints` builds the test-only crash points the order saga's crash tests arm
# (tests/it/order_saga_crash.rs, tests/it/rebuild_crash.rs); release builds never have them.
echo "== cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --features shop/failpoints -- -D warnings

# The official AsyncAPI parser must accept the event contract (the drift test in
# events/tests/it/contract.rs keeps the document equal to what the code generates).
echo "== AsyncAPI document (@asyncapi/parser)"
if ! npm ls --prefix scripts/contract >/dev/null 2>&1; then
  npm ci --prefix scripts/contract --no-audit --no-fund
fi
node scripts/contract/asyncapi-validate.mjs docs/asyncapi.json

# The tracing test exports spans to a real OpenTelemetry Collector, built once from the Go
# module proxy into .cache/otelcol/ (a few minutes the first time, nothing after).
echo "== OpenTelemetry Collector for the tracing test (scripts/otelcol.sh)"
SHOP_TEST_OTELCOL="$(scripts/otelcol.sh build)"
export SHOP_TEST_OTELCOL

echo "== cargo test (workspace)"
cargo test --workspace --all-targets --features shop/failpoints

echo "== schemathesis against both APIs' /openapi.json (scripts/fuzz.sh)"
scripts/fuzz.sh

echo "== clearing what this run left on the servers"
clear_test_leftovers
echo "== all tests passed"
