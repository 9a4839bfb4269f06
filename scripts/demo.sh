#!/usr/bin/env bash
# make demo: start the emulator with the example organisation, then plan -> apply -> plan.
# Exits non-zero if the last plan is not empty.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
state_dir=$root/.demo
mkdir -p "$state_dir"
port=${PISYNC_DEMO_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}

pi-emulator --host 127.0.0.1 --port "$port" --seed examples/seed.json >"$state_dir/emulator.log" 2>&1 &
emulator=$!
trap 'kill $emulator 2>/dev/null || true; wait $emulator 2>/dev/null || true' EXIT

for _ in $(seq 1 100); do
  if python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/_emulator/health', timeout=1)" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$emulator" 2>/dev/null; then
    echo "the emulator did not start:" >&2; cat "$state_dir/emulator.log" >&2; exit 1
  fi
  sleep 0.1
done

export PISYNC_URL="http://127.0.0.1:$port/pi/api/v2"
export PISYNC_USERNAME=admin PISYNC_PASSWORD=dashboard
export FINANCE_DB_PASSWORD=demo-secret-not-shown
cd examples

# bold banners only on a terminal, and never with NO_COLOR
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
banner() { printf '\n%s==> %s%s\n\n' "$bold" "$*" "$plain"; }
banner "pisync validate"
pisync validate
banner "pisync plan  (against the emulator at $PISYNC_URL)"
pisync plan
banner "pisync apply --auto-approve"
pisync apply --auto-approve
banner "pisync plan  (again: should be empty)"
set +e
pisync plan --detailed-exitcode
code=$?
set -e
if [ "$code" -ne 0 ]; then
  echo "demo failed: the second plan is not empty (exit $code)" >&2
  exit 1
fi
banner "demo complete: planned, applied, and the re-plan is empty"
