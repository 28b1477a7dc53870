#!/usr/bin/env bash
# The one test entry point (README and .ci/run call it): formatting, lints, then every
# test of the workspace: unit, given/when/then, store contract, HTTP end-to-end and the
# crash test that SIGKILLs a real `shop` process.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

echo "== cargo test (workspace)"
cargo test --workspace --all-targets

echo "== all tests passed"
