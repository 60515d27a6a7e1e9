#!/usr/bin/env bash
# The cache daemon's port is reachable from the node's pods (finding 16): one client address
# holds at most 8 connections, so an idle-connection flood from one pod leaves the other 56
# for probes, Prometheus and the reconciler; closing them frees the slots again.
set -euo pipefail
BUILD=${GPUAAS_BUILD:-build}
BIN=$BUILD/gpuaas
[ -x "$BIN" ] || { echo "cache_conn: $BIN not built"; exit 1; }
WORK=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -5 "$WORK/cache.log"; exit 1; }
cat >"$WORK/gpuaas.yaml" <<CFG
cache:
  enabled: true
  store_dir: $WORK/store
CFG
mkdir -p "$WORK/store"
# on every address, as on a node, and a port the kernel picks: written to cache.port once the
# daemon listens
"$BIN" cache --config "$WORK/gpuaas.yaml" --listen 0.0.0.0:0 --port-file "$WORK/cache.port" \
  >"$WORK/cache.log" 2>&1 &
PID=$!
for _ in $(seq 500); do # 50 s: only how long a broken start takes to fail
  [ -s "$WORK/cache.port" ] && break
  kill -0 "$PID" 2>/dev/null || fail "the daemon exited before it listened"
  sleep 0.1
done
PORT=$(cat "$WORK/cache.port" 2>/dev/null) || fail "the daemon did not listen"
# wait_status FROM WANT: polls /healthz from address FROM until curl's code is WANT. The
# bound (5 s) covers the daemon's start and its noticing closed sockets on a loaded machine;
# both take milliseconds.
wait_status() {
  for _ in $(seq 50); do
    [ "$(curl -s --interface "$1" -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$PORT/healthz" || true)" = "$2" ] && return 0
    sleep 0.1
  done
  return 1
}
wait_status 127.0.0.1 200 || fail "daemon did not start"
fds=()
for _ in $(seq 1 8); do exec {fd}<>"/dev/tcp/127.0.0.1/$PORT"; fds+=("$fd"); done
wait_status 127.0.0.1 000 || fail "a 9th connection from one address was served"
echo "ok   a 9th connection from one address is refused"
wait_status 127.0.0.2 200 || fail "another address was refused too"
echo "ok   another address is still served"
for fd in "${fds[@]}"; do exec {fd}>&-; done
wait_status 127.0.0.1 200 || fail "closed connections were not released"
echo "ok   closing the connections frees the slots"
echo "cache_conn: all passed"
