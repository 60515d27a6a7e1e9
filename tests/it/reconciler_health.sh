#!/usr/bin/env bash
# The reconciler's /healthz, /readyz and /metrics (gpuaas reconciler --health-listen) against
# the Kubernetes API double: healthy while passes complete; /metrics needs the scrape token of
# server.metrics_token_file and reports the leader, passes and their durations; when the API
# server stalls (the double answers every request after 8 s) no pass completes and /healthz
# turns 503 once 5 intervals (5 s here) went by without one, then 200 again when the API
# answers. Bounds: 15 s to see the 503 (5 s limit + one 8 s request in flight), 40 s to
# recover (the stalled requests finish within 8 s each; a pass then takes milliseconds).
set -euo pipefail
BUILD=${GPUAAS_BUILD:-build}
SRC=${GPUAAS_SRC:-.}
BIN=$BUILD/gpuaas
SIM=$BUILD/gpuaas-kubesim
for b in "$BIN" "$SIM"; do [ -x "$b" ] || { echo "reconciler_health: $b not built"; exit 1; }; done
NAME=reconciler_health
FAIL_LOGS="reconciler kubesim"
# shellcheck source=../lib/it_common.sh
. "$SRC/tests/lib/it_common.sh"

"$SIM" --listen 127.0.0.1:0 --kubeconfig-out "$WORK/kubeconfig" >>"$WORK/kubesim.log" 2>&1 &
PIDS+=($!)
wait_for 10 "the test double" test -s "$WORK/kubeconfig"
SIMURL=$(KUBECONFIG=$WORK/kubeconfig kubectl config view -o jsonpath='{.clusters[0].cluster.server}')
kc create --validate=false -f "$SRC/tests/data/nodes/success.json" || fail "cannot register the node"
head -c 24 /dev/urandom | base64 >"$WORK/metrics-token"
cat >"$WORK/gpuaas.yaml" <<CFG
server:
  listen: 127.0.0.1:0 # no server runs here
  web_root: $WORK
  metrics_token_file: $WORK/metrics-token
database:
  url: sqlite://$WORK/gpuaas.db
$(reference_pool)
reconciler:
  platform: openshift
  interval_seconds: 1
  gc_interval_seconds: 1
  ingress_domain: apps.test
  ingress_namespace: ingress
  storage_class: standard
cache:
  enabled: false
CFG
"$BIN" reconciler --config "$WORK/gpuaas.yaml" --kubeconfig "$WORK/kubeconfig" \
  --health-listen 127.0.0.1:0 --health-port-file "$WORK/health.port" >"$WORK/reconciler.log" 2>&1 &
PIDS+=($!)
wait_port HP "$WORK/health.port" $! "the reconciler's health listener"
H=http://127.0.0.1:$HP
code() { curl -s -o "$WORK/body" -w '%{http_code}' --max-time 5 "$@" || echo 000; }
healthy() { [ "$(code "$H/healthz")" = 200 ]; }
ready() { [ "$(code "$H/readyz")" = 200 ]; }
wait_for 10 "/readyz" ready
wait_for 10 "/healthz 200 (passes complete)" healthy
grep -q "ok: leader" "$WORK/body" || fail "healthz: $(cat "$WORK/body")"

[ "$(code "$H/metrics")" = 401 ] || fail "/metrics answered without the token"
[ "$(code -H "Authorization: Bearer wrong-token-wrong-token" "$H/metrics")" = 401 ] || fail "/metrics took a wrong token"
[ "$(code -H "Authorization: Bearer $(cat "$WORK/metrics-token")" "$H/metrics")" = 200 ] || fail "/metrics with the token"
grep -q '^gpuaas_reconciler_leader 1$' "$WORK/body" || fail "no leader gauge"
passes=$(sed -n 's/^gpuaas_reconciler_passes_total \([0-9]*\)$/\1/p' "$WORK/body")
[ "${passes:-0}" -ge 1 ] || fail "no passes counted"
count=$(sed -n 's/^gpuaas_reconciler_pass_duration_seconds_count \([0-9]*\)$/\1/p' "$WORK/body")
[ "$count" = "$passes" ] || fail "histogram count $count, passes $passes"
grep -q '^gpuaas_reconciler_pass_duration_seconds_bucket{le="+Inf"} ' "$WORK/body" || fail "no histogram"
grep -q '^gpuaas_reconciler_last_pass_timestamp_seconds ' "$WORK/body" || fail "no last pass time"

# the API server stalls: every request answers after 8 s
curl -s -X POST "$SIMURL/_sim/faults" -d '{"fault":"latency:8000"}' >/dev/null || fail "set the fault"
stalled() { [ "$(code "$H/healthz")" = 503 ]; }
wait_for 15 "/healthz 503 while no pass completes" stalled
grep -q "no pass completed for" "$WORK/body" || fail "503 without the reason: $(cat "$WORK/body")"
curl -s -X DELETE "$SIMURL/_sim/faults" >/dev/null || fail "clear the fault"
wait_for 40 "/healthz 200 again" healthy
echo "reconciler_health: ok"
