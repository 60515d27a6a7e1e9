#!/usr/bin/env bash
# Browser tests: starts a real `gpuaas server` on a temporary SQLite database, serving the
# built UI, then runs every tests/browser/*.mjs in headless Chromium (playwright-core with
# the system /usr/bin/chromium; no browser download). Screenshots go to
# $GPUAAS_TEST_OUTPUT/screenshots. Prints "N passed, M failed"; exits non-zero on failure.
# GPUAAS_URL=http://... runs the tests against an already running server instead (then the
# simulated-cluster tests need GPUAAS_SIM_URL and GPUAAS_SIM_DB too, or they fail).
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
build=${GPUAAS_BUILD:-$root/build}
out=${GPUAAS_TEST_OUTPUT:-$root/test-output}
export GPUAAS_TEST_OUTPUT=$out GPUAAS_BUILD=$build
mkdir -p "$out/screenshots"

[ -x /usr/bin/chromium ] || { echo "web-test: /usr/bin/chromium is missing (apt-get install chromium)"; echo "0 passed, 1 failed"; exit 1; }
[ -f web/dist/index.html ] && [ -d web/node_modules/playwright-core ] && [ -d web/node_modules/axe-core ] || bash tests/scripts/web-build.sh || { echo "0 passed, 1 failed"; exit 1; }

tmp=$(mktemp -d /tmp/gpuaas-web-test.XXXXXX)
pid=
sim_pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
  if [ -n "$sim_pid" ]; then kill "$sim_pid" 2>/dev/null; wait "$sim_pid" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

if [ -z "${GPUAAS_URL:-}" ]; then
  [ -x "$build/gpuaas" ] || { echo "web-test: $build/gpuaas is missing (make build)"; echo "0 passed, 1 failed"; exit 1; }
  # Both servers listen on ports the kernel picks (listen 127.0.0.1:0) and write them to
  # --port-file once listening: no other process can take a port between a choice and a bind.
  export GPUAAS_ADMIN_PASSWORD="admin-$RANDOM-$RANDOM"
  export GPUAAS_TEST_DB=$tmp/gpuaas.db
  sed -e "s|^  listen: .*|  listen: 127.0.0.1:0|" \
      -e "s|^  web_root: .*|  web_root: $root/web/dist|" \
      -e "s|^  url: sqlite:.*|  url: sqlite://$GPUAAS_TEST_DB|" \
      -e "s|^log_level: .*|log_level: warn|" \
      config/gpuaas.example.yaml >"$tmp/gpuaas.yaml"
  "$build/gpuaas" server --config "$tmp/gpuaas.yaml" --port-file "$tmp/server.port" \
    >"$out/web-test-server.log" 2>&1 &
  pid=$!
  # A second server for a simulated cluster (cluster.simulated: true, as `make run` sets for
  # the Kubernetes double): the portal must say that no workspace runs.
  export GPUAAS_SIM_DB=$tmp/gpuaas-sim.db
  sed -e "s|^  listen: .*|  listen: 127.0.0.1:0|" \
      -e "s|^  web_root: .*|  web_root: $root/web/dist|" \
      -e "s|^  url: sqlite:.*|  url: sqlite://$GPUAAS_SIM_DB|" \
      -e "s|^  simulated: .*|  simulated: true|" \
      -e "s|^log_level: .*|log_level: warn|" \
      config/gpuaas.example.yaml >"$tmp/gpuaas-sim.yaml"
  "$build/gpuaas" server --config "$tmp/gpuaas-sim.yaml" --port-file "$tmp/sim-server.port" \
    >"$out/web-test-sim-server.log" 2>&1 &
  sim_pid=$!
  for f in "$tmp/server.port" "$tmp/sim-server.port"; do
    for _ in $(seq 250); do # 50 s: only how long a broken start takes to fail
      [ -s "$f" ] && break
      kill -0 "$pid" 2>/dev/null && kill -0 "$sim_pid" 2>/dev/null || break
      sleep 0.2
    done
    if [ ! -s "$f" ]; then
      echo "web-test: a gpuaas server did not start; its logs:"; tail -20 "$out"/web-test-*server.log
      echo "0 passed, 1 failed"; exit 1
    fi
  done
  export GPUAAS_URL=http://127.0.0.1:$(cat "$tmp/server.port")
  export GPUAAS_SIM_URL=http://127.0.0.1:$(cat "$tmp/sim-server.port")
fi

passed=0 failed=0
for t in tests/browser/*.mjs; do
  echo "-- $t"
  TZ=Europe/Berlin node "$t" | tee "$tmp/result"
  rc=${PIPESTATUS[0]}
  line=$(grep -E '^RESULT passed=[0-9]+ failed=[0-9]+$' "$tmp/result" | tail -1)
  if [ -z "$line" ]; then failed=$((failed + 1)); echo "FAILED: $t exited $rc without a result"; continue; fi
  p=${line#RESULT passed=}; p=${p%% *}; f=${line##*failed=}
  passed=$((passed + p)) failed=$((failed + f))
  [ "$rc" = 0 ] || [ "$f" != 0 ] || failed=$((failed + 1))
done
echo "screenshots: $out/screenshots"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
