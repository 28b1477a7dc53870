#!/usr/bin/env bash
# A minimal OpenTelemetry Collector for the tracing test (tests/it/full_tracing.rs): the OTLP
# receiver and the debug exporter, built once from the Go module proxy with the official
# collector builder (manifest: scripts/otelcol/builder.yaml) into .cache/otelcol/.
#
#   scripts/otelcol.sh build   build it unless it is there; print its path
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${SHOP_SERVICES_CACHE:-$ROOT/.cache}/otelcol"
BIN="$CACHE/otelcol-shop"
BUILDER_VERSION="v0.165.0"

case "${1:-build}" in
  build)
    if [[ ! -x "$BIN" ]]; then
      command -v go >/dev/null || { echo "[otelcol] Go is needed to build the collector" >&2; exit 1; }
      mkdir -p "$CACHE"
      GOBIN="$CACHE/bin" go install "go.opentelemetry.io/collector/cmd/builder@$BUILDER_VERSION" >&2
      work="$(mktemp -d)"
      cp "$ROOT/scripts/otelcol/builder.yaml" "$work/"
      (cd "$work" && "$CACHE/bin/builder" --config builder.yaml >&2)
      mv "$work/dist/otelcol-shop" "$BIN"
      rm -rf "$work"
    fi
    echo "$BIN"
    ;;
  *)
    echo "usage: scripts/otelcol.sh build" >&2
    exit 2
    ;;
esac
