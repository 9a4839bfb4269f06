#!/usr/bin/env bash
# make demo-fleet: start three emulators (staging and two customers' production servers),
# then validate -> plan -> apply -> plan the fleet of examples/fleet/. Exits non-zero if the
# last plan is not empty on every server.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
state_dir=${PISYNC_DEMO_DIR:-$root/.demo/fleet}
rm -rf "$state_dir"
mkdir -p "$state_dir"
servers=(staging prod-acme prod-globex)
pids=()
trap 'for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# the example, with each server's url pointing at its emulator
cp -R examples/fleet/. "$state_dir/repo"
cp -R schemas "$state_dir/schemas"
for name in "${servers[@]}"; do
  port=$(free_port)
  pi-emulator --host 127.0.0.1 --port "$port" --seed examples/fleet/seed.json >"$state_dir/$name.log" 2>&1 &
  pids+=($!)
  url="http://127.0.0.1:$port/pi/api/v2"
  sed -i.bak "/^  $name:\$/,/url:/ s#url: .*#url: $url#" "$state_dir/repo/pisync.yaml"
  upper=$(echo "$name" | tr 'a-z-' 'A-Z_')
  export "PISYNC_${upper}_USERNAME=admin" "PISYNC_${upper}_PASSWORD=dashboard"
  for _ in $(seq 1 100); do
    if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/_emulator/health', timeout=1)" 2>/dev/null; then
      break
    fi
    if ! kill -0 "${pids[-1]}" 2>/dev/null; then
      echo "the emulator of $name did not start:" >&2; cat "$state_dir/$name.log" >&2; exit 1
    fi
    sleep 0.1
  done
done
rm -f "$state_dir/repo/pisync.yaml.bak"
unset PISYNC_URL PISYNC_USERNAME PISYNC_PASSWORD PISYNC_TOKEN
cd "$state_dir/repo"

# bold banners only on a terminal, and never with NO_COLOR
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
banner() { printf '\n%s==> %s%s\n\n' "$bold" "$*" "$plain"; }
banner "pisync validate  (every server's effective state)"
pisync validate
banner "pisync show-desired --server staging  (what staging gets: the base and its overlay)"
pisync show-desired --server staging
banner "pisync plan --out fleet.json  (three servers at once)"
pisync plan --out fleet.json
banner "pisync apply fleet.json  (each server's plan, with its own stale check)"
pisync apply fleet.json
banner "pisync plan --all-servers  (again: should be empty on every server)"
set +e
pisync plan --all-servers --detailed-exitcode
code=$?
set -e
if [ "$code" -ne 0 ]; then
  echo "demo failed: the second plan is not empty on every server (exit $code)" >&2
  exit 1
fi
# the last line says so
printf '\n%s==> %s%s\n' "$bold" "demo complete: planned and applied 3 servers, and the re-plan is empty on every server" "$plain"
