#!/usr/bin/env bash
# Runs the data-platform consumer in its own virtualenv (.venv beside this script),
# installing requirements.txt into it first when it is missing or the pins changed.
#   examples/data-platform/run.sh consume --brokers 127.0.0.1:9092 --contract docs/asyncapi.json --db sales.db
#   examples/data-platform/run.sh report --db sales.db --day 2026-11-25
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${DATA_PLATFORM_VENV:-$here/.venv}"
python="${PYTHON:-python3}"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/python" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt" >&2
  echo "$want" >"$stamp"
fi
exec "$venv/bin/python" "$here/consumer.py" "$@"
