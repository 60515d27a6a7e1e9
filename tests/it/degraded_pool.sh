#!/usr/bin/env bash
# The cluster advertises less than the configuration declares, end to end: the real
# `gpuaas server` and `gpuaas reconciler` against the Kubernetes API test double. Bookings
# are made while the node advertises the whole pool; then the node is replaced by one whose
# MIG configuration lost a slice (tests/data/nodes/degraded.json: 3 of 4 slices). Checks:
# the reconciler publishes the drift, the server admits no more than what is advertised,
# the bookings admitted before are kept (never dropped) and the ones that cannot all run
# as booked are flagged to admins (GET /api/v1/pool: beyond_advertised), not to users, and the
# server's /metrics shows the configured units above the advertised ones (GpuaasPoolDegraded).
set -euo pipefail
BUILD=${GPUAAS_BUILD:-build}
SRC=${GPUAAS_SRC:-.}
BIN=$BUILD/gpuaas
SIM=$BUILD/gpuaas-kubesim
for b in "$BIN" "$SIM"; do [ -x "$b" ] || { echo "degraded_pool: $b not built"; exit 1; }; done
for c in kubectl jq python3; do
  command -v $c >/dev/null || { echo "degraded_pool: $c is required"; exit 1; }
done

NAME=degraded_pool
# shellcheck source=../lib/it_common.sh
. "$SRC/tests/lib/it_common.sh"

run_suite() {
  rm -f "$WORK/kubeconfig"
  # every request is logged with its RBAC verb: checked against kube_calls.c at the end
  "$SIM" --listen 127.0.0.1:0 --kubeconfig-out "$WORK/kubeconfig" \
    --request-log "$WORK/kube-requests.log" >>"$WORK/kubesim.log" 2>&1 &
  PIDS+=($!)
  wait_for 10 "the test double" test -s "$WORK/kubeconfig"
  kc create --validate=false -f "$SRC/tests/data/nodes/success.json" || fail "cannot register the node"

  # the example configuration (the reference node), on this database, with the drift
  # observed every second (start_server picks the port)
  sed -e "s#^  url: .*#  url: $DB_URL#" \
    -e "s#^  web_root: .*#  web_root: $WORK#" -e "s#^  gc_interval_seconds: .*#  gc_interval_seconds: 1#" \
    "$SRC/config/gpuaas.example.yaml" >"$WORK/gpuaas.yaml"
  grep -q "^  url: $DB_URL" "$WORK/gpuaas.yaml" && grep -q "^  gc_interval_seconds: 1$" "$WORK/gpuaas.yaml" ||
    fail "the example configuration changed shape"
  "$BIN" config check --config "$WORK/gpuaas.yaml" >/dev/null || fail "configuration refused: $("$BIN" config check --config "$WORK/gpuaas.yaml" 2>&1)"

  start_server "$WORK/gpuaas.yaml"
  ALICE=$(add_user alice)

  "$BIN" reconciler --config "$WORK/gpuaas.yaml" --kubeconfig "$WORK/kubeconfig" >"$WORK/reconciler.log" 2>&1 &
  PIDS+=($!)
  MIG=nvidia.com/mig-1g.24gb
  adv_is() { # adv_is N: the pool shows N advertised units of the MIG type
    req GET /api/v1/pool "" "$ADMIN"
    [ "$(jf "[.resources[] | select(.name == \"$MIG\")][0].advertised")" = "$1" ]
  }
  wait_for 20 "the full pool published as advertised" adv_is 4
  mig_units() { # mig_units configured|advertised: the server's /metrics sample for the MIG type
    curl -s --max-time 5 -H "Authorization: Bearer $ADMIN" "$BASE/metrics" |
      awk -v s="gpuaas_pool_$1_units{resource=\"$MIG\"}" '$1 == s { print $2 }'
  }
  [ "$(mig_units configured)" = 4 ] && [ "$(mig_units advertised)" = 4 ] ||
    fail "/metrics: configured $(mig_units configured), advertised $(mig_units advertised), want 4 and 4"

  # --- bookings while all 4 slices are advertised: 4 in window W, 1 in window W2 ---
  now=$(date +%s)
  w1=$(((now / 3600 + 2) * 3600)) w2=$((w1 + 7200))
  book() { # book COUNT START -> id
    req POST /api/v1/reservations "{\"gpu_type\":\"$MIG\",\"gpu_count\":$1,\"starts_at\":\"$(iso "$2")\",\"ends_at\":\"$(iso $(($2 + 3600)))\"}" "$ALICE"
    expect 201 "book $1 at $(iso "$2")"
    jf .id
  }
  A=$(book 2 $w1)
  B=$(book 2 $w1)
  C=$(book 1 $w2)

  # --- the node loses a slice ---
  kc delete node sno-1 || fail "cannot delete the node"
  kc create --validate=false -f "$SRC/tests/data/nodes/degraded.json" || fail "cannot register the degraded node"
  wait_for 20 "the drift published" adv_is 3
  # what GpuaasPoolDegraded reads: configured above advertised
  [ "$(mig_units configured)" = 4 ] && [ "$(mig_units advertised)" = 3 ] ||
    fail "/metrics: configured $(mig_units configured), advertised $(mig_units advertised), want 4 and 3"
  [ "$(jf "[.resources[] | select(.name == \"$MIG\")][0].drift")" = -1 ] || fail "drift of the MIG type"
  [ "$(jf "[.resources[] | select(.name == \"$MIG\")][0].bookable")" = 3 ] || fail "bookable follows what is advertised"

  # --- flagged to admins: the two bookings of W use 4 > 3 slices; C fits ---
  [ "$(jf "[.resources[] | select(.name == \"$MIG\")][0].beyond_advertised | sort | join(\",\")")" = "$A,$B" ] ||
    fail "bookings beyond what is advertised: want $A,$B"
  [ "$(jf '[.resources[] | select(.name == "nvidia.com/gpu")][0] | has("beyond_advertised")')" = false ] ||
    fail "a resource advertised in full has no flagged list"
  req GET /api/v1/pool "" "$ALICE"
  expect 200 "alice reads the pool"
  [ "$(jf '[.resources[] | select(has("beyond_advertised"))] | length')" = 0 ] ||
    fail "a user sees the admins' list of flagged bookings"

  # --- never dropped: all three are still APPROVED ---
  for id in "$A" "$B" "$C"; do
    req GET "/api/v1/reservations/$id" "" "$ALICE"
    expect 200 "booking $id kept"
    [ "$(jf .state)" = APPROVED ] || fail "booking $id is $(jf .state) after the cluster shrank"
  done

  # --- admission is limited to what is advertised: 2 more fit beside C in W2, 3 do not ---
  req POST /api/v1/reservations "{\"gpu_type\":\"$MIG\",\"gpu_count\":3,\"starts_at\":\"$(iso $w2)\",\"ends_at\":\"$(iso $((w2 + 3600)))\"}" "$ALICE"
  expect 409 "a booking beyond the advertised capacity"
  [ "$(jf .error.code)" = capacity_conflict ] || fail "conflict code"
  D=$(book 2 $w2)

  # --- canceling one of W's bookings resolves the flag of the other ---
  req POST "/api/v1/reservations/$A/cancel" "" "$ALICE"
  expect 200 "cancel $A"
  req GET /api/v1/pool "" "$ADMIN"
  [ "$(jf "[.resources[] | select(.name == \"$MIG\")][0].beyond_advertised | length")" = 0 ] ||
    fail "flags after the overbooking is resolved"
  echo "degraded_pool: $DB_URL ok (flagged $A,$B; kept; admitted $D within 3 advertised slices)"
  stop_all
}

run_on_both_backends
check_kube_calls_subset "$WORK/kube-requests.log"
