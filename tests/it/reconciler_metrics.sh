#!/usr/bin/env bash
# The metrics behind the alerts, each seen to change in a real run: `gpuaas server` and
# `gpuaas reconciler --health-listen` on a private PostgreSQL (tests/scripts/pg.sh) against the
# Kubernetes API double.
#  - provisioning: while the double refuses every ResourceQuota write (500), a session's
#    attempts fail (reason api_error) and, after reconciler.max_attempts (2), it is FAILED
#    (attempts_exhausted); meanwhile it counts as provisioning, due for at least 60 s (it
#    began 60 s ago). Once the fault is cleared a second session starts (outcome ready);
#  - reasons: sessions whose pods stay unschedulable or cannot pull their image fail their
#    attempts (not ready within reconciler.provision_timeout_seconds, 2 s) with those reasons;
#  - drift: its NetworkPolicies deleted by hand are re-applied (drift_repairs_total by kind);
#  - GC: a namespace labelled ours for no booking is deleted (gc_actions_total);
#  - pool: the server exports configured and advertised units per resource;
#  - expiry: the notAfter of the client certificate in the reconciler's kubeconfig, and the exp
#    claim of its bearer token (a JWT);
#  - database: gpuaas_database_up is 1 on both; PostgreSQL stopped: 0 on both while /metrics
#    still answers 200; started again: 1 on both.
# Bounds: the reconciler runs every second and retries after 1 s, each step below needs a few
# passes: 30 s each is ample on a loaded 2-core machine. PostgreSQL refuses connections at
# once when stopped, so the next pass or scrape sees it (30 s).
set -euo pipefail
BUILD=${GPUAAS_BUILD:-build}
SRC=${GPUAAS_SRC:-.}
BIN=$BUILD/gpuaas
SIM=$BUILD/gpuaas-kubesim
for b in "$BIN" "$SIM"; do [ -x "$b" ] || { echo "reconciler_metrics: $b not built"; exit 1; }; done
for c in kubectl jq openssl curl python3; do
  command -v $c >/dev/null || { echo "reconciler_metrics: $c is required"; exit 1; }
done
NAME=reconciler_metrics
FAIL_LOGS="reconciler server kubesim"
# shellcheck source=../lib/it_common.sh
. "$SRC/tests/lib/it_common.sh"
it_cleanup_extra() { bash "$SRC/tests/scripts/pg.sh" stop "$WORK/pg" >/dev/null 2>&1 || true; }

chmod 755 "$WORK" # PostgreSQL runs as the postgres user, which must reach its directory
DB_URL=$(bash "$SRC/tests/scripts/pg.sh" start "$WORK/pg") || fail "cannot start PostgreSQL"
PGPORT=${DB_URL##*:}
PGPORT=${PGPORT%%/*}

"$SIM" --listen 127.0.0.1:0 --kubeconfig-out "$WORK/kubeconfig" >>"$WORK/kubesim.log" 2>&1 &
PIDS+=($!)
wait_for 10 "the test double" test -s "$WORK/kubeconfig"
SIMURL=$(KUBECONFIG=$WORK/kubeconfig kubectl config view -o jsonpath='{.clusters[0].cluster.server}')
kc create --validate=false -f "$SRC/tests/data/nodes/success.json" || fail "cannot register the node"

# the reconciler's own kubeconfig carries a client certificate valid for 20 days (the double
# serves plain HTTP and ignores it; the reconciler reads its expiry)
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/client.key" -out "$WORK/client.crt" \
  -days 20 -subj /CN=system:gpuaas-reconciler 2>/dev/null || fail "cannot make a client certificate"
cp "$WORK/kubeconfig" "$WORK/rec-kubeconfig"
user=$(KUBECONFIG=$WORK/rec-kubeconfig kubectl config view -o jsonpath='{.contexts[0].context.user}')
KUBECONFIG=$WORK/rec-kubeconfig kubectl config set-credentials "$user" --embed-certs \
  --client-certificate="$WORK/client.crt" --client-key="$WORK/client.key" >/dev/null ||
  fail "cannot add the client certificate"
not_after=$(date -u -d "$(openssl x509 -in "$WORK/client.crt" -noout -enddate | cut -d= -f2)" +%s)
# and a bearer token shaped as a service account token (a JWT) that expires in 5 days (the
# double, started without --token, takes any token; the reconciler reads the exp claim)
token_exp=$(($(date +%s) + 5 * 86400))
jwt=$(python3 - "$token_exp" <<'PY'
import base64, json, sys
b = lambda o: base64.urlsafe_b64encode(json.dumps(o).encode()).rstrip(b"=").decode()
print(b({"alg": "RS256", "kid": "k"}) + "." + b({"exp": int(sys.argv[1]), "sub": "system:serviceaccount:gpuaas-system:gpuaas-reconciler"}) + ".c2lnbmF0dXJl")
PY
)
KUBECONFIG=$WORK/rec-kubeconfig kubectl config set-credentials "$user" --token="$jwt" >/dev/null ||
  fail "cannot add the token"

head -c 24 /dev/urandom | base64 >"$WORK/metrics-token"
cat >"$WORK/gpuaas.yaml" <<CFG
server:
  listen: 127.0.0.1:0 # start_server reads the port the server reports
  web_root: $WORK
  metrics_token_file: $WORK/metrics-token
database:
  url: $DB_URL
$(reference_pool)
reconciler:
  platform: openshift
  interval_seconds: 1
  gc_interval_seconds: 1
  retry_base_seconds: 1
  max_attempts: 2
  provision_timeout_seconds: 2
  ingress_domain: apps.test
  ingress_namespace: ingress
  storage_class: standard
cache:
  enabled: false
CFG
start_server "$WORK/gpuaas.yaml"
"$BIN" reconciler --config "$WORK/gpuaas.yaml" --kubeconfig "$WORK/rec-kubeconfig" \
  --health-listen 127.0.0.1:0 --health-port-file "$WORK/health.port" >"$WORK/reconciler.log" 2>&1 &
PIDS+=($!)
wait_port HP "$WORK/health.port" $! "the reconciler's health listener"

TOKEN=$(cat "$WORK/metrics-token")
scrape() { # scrape URL FILE: /metrics with the token into FILE, 0 when 200
  [ "$(curl -s -o "$2" -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $TOKEN" "$1/metrics" || echo 000)" = 200 ]
}
val() { # val FILE SERIES: the sample's value, "" when absent
  awk -v s="$2" '$1 == s { print $2 }' "$1"
}
cmp_n() { # cmp_n VALUE -eq|-ge N (VALUE may be a float; "" is false)
  [ -n "$1" ] || return 1
  case $2 in
  -eq) [ "${1%.*}" -eq "$3" ] ;;
  -ge) [ "${1%.*}" -ge "$3" ] ;;
  *) return 1 ;;
  esac
}
rec_is() { # rec_is SERIES OP N: the reconciler's sample compared (-eq, -ge)
  scrape "http://127.0.0.1:$HP" "$WORK/rec.txt" || return 1
  local v
  v=$(val "$WORK/rec.txt" "$1")
  cmp_n "$v" "$2" "$3"
}
srv_is() {
  scrape "$BASE" "$WORK/srv.txt" || return 1
  local v
  v=$(val "$WORK/srv.txt" "$1")
  cmp_n "$v" "$2" "$3"
}

wait_for 30 "the reconciler's database_up 1" rec_is gpuaas_database_up -eq 1
wait_for 10 "the server's database_up 1" srv_is gpuaas_database_up -eq 1
for s in 'gpuaas_reconciler_provision_attempts_total{outcome="ready"}' \
  'gpuaas_reconciler_provision_attempts_total{outcome="failed"}' \
  'gpuaas_reconciler_provision_failures_total{reason="api_error"}' \
  'gpuaas_reconciler_sessions_failed_total{reason="attempts_exhausted"}' \
  'gpuaas_reconciler_gc_actions_total{action="namespace_delete"}' gpuaas_reconciler_drifted_objects \
  gpuaas_reconciler_sessions_provisioning; do
  [ "$(val "$WORK/rec.txt" "$s")" = 0 ] || fail "$s is not 0 before any session: $(val "$WORK/rec.txt" "$s")"
done
grep -q '^gpuaas_reconciler_drift_repairs_total' "$WORK/rec.txt" && fail "repairs counted before any"
[ "$(val "$WORK/rec.txt" gpuaas_reconciler_kube_client_cert_expiry_timestamp_seconds)" = "$not_after" ] ||
  fail "client certificate expiry: $(val "$WORK/rec.txt" gpuaas_reconciler_kube_client_cert_expiry_timestamp_seconds), want $not_after"
[ "$(val "$WORK/rec.txt" gpuaas_reconciler_kube_token_expiry_timestamp_seconds)" = "$token_exp" ] ||
  fail "token expiry: $(val "$WORK/rec.txt" gpuaas_reconciler_kube_token_expiry_timestamp_seconds), want $token_exp"

# --- pool: the reference node advertises all 4 MIG slices and 1 whole GPU ---
pool_full() {
  srv_is 'gpuaas_pool_advertised_units{resource="nvidia.com/mig-1g.24gb"}' -eq 4 &&
    srv_is 'gpuaas_pool_configured_units{resource="nvidia.com/mig-1g.24gb"}' -eq 4 &&
    srv_is gpuaas_pool_observed_timestamp_seconds -ge "$(($(date +%s) - 60))"
}
wait_for 30 "the pool's units on the server's /metrics" pool_full

# --- provisioning fails while ResourceQuota writes are refused ---
curl -s -X POST "$SIMURL/_sim/faults" -d '{"fault":"500","path":"resourcequotas"}' >/dev/null || fail "set the fault"
now=$(date +%s)
book() { # book START END [TYPE] -> id
  req POST /api/v1/reservations "{\"gpu_type\":\"${3:-nvidia.com/gpu}\",\"gpu_count\":1,\"starts_at\":\"$(iso "$1")\",\"ends_at\":\"$(iso "$2")\"}" "$ADMIN"
  expect 201 "book"
  jf .id
}
A=$(book $((now - 60)) $((now + 1800)))
wait_for 30 "a failed attempt counted (api_error)" \
  rec_is 'gpuaas_reconciler_provision_failures_total{reason="api_error"}' -ge 1
# while it is retried it counts as provisioning, due since its start 60 s ago
prov_seen() {
  rec_is gpuaas_reconciler_sessions_provisioning -eq 1 && rec_is gpuaas_reconciler_provisioning_oldest_seconds -ge 60
}
wait_for 30 "the session counted as provisioning" prov_seen
wait_for 30 "the session FAILED after 2 attempts" \
  rec_is 'gpuaas_reconciler_sessions_failed_total{reason="attempts_exhausted"}' -eq 1
rec_is 'gpuaas_reconciler_provision_attempts_total{outcome="failed"}' -eq 2 ||
  fail "failed attempts: $(val "$WORK/rec.txt" 'gpuaas_reconciler_provision_attempts_total{outcome="failed"}'), want 2"
req GET "/api/v1/reservations/$A" "" "$ADMIN"
[ "$(jf .state)" = FAILED ] || fail "booking $A is $(jf .state), not FAILED"
srv_is 'gpuaas_bookings{state="FAILED"}' -eq 1 || fail "the server's FAILED bookings"

# --- the fault cleared: a session starts ---
curl -s -X DELETE "$SIMURL/_sim/faults" >/dev/null || fail "clear the fault"
B=$(book $((now - 60)) $((now + 1800)))
wait_for 30 "an attempt ended ready" rec_is 'gpuaas_reconciler_provision_attempts_total{outcome="ready"}' -eq 1
rec_is gpuaas_reconciler_sessions_provisioning -eq 0 || fail "still provisioning after ACTIVE"
req GET "/api/v1/reservations/$B" "" "$ADMIN"
[ "$(jf .state)" = ACTIVE ] || fail "booking $B is $(jf .state), not ACTIVE"
NS=$(jf .session.namespace)
[ -n "$NS" ] && [ "$NS" != null ] || fail "no session namespace"

# --- drift: the session's NetworkPolicies deleted are re-applied and counted ---
kc delete networkpolicy --all -n "$NS" || fail "cannot delete the NetworkPolicies"
wait_for 30 "NetworkPolicy repairs counted" \
  rec_is 'gpuaas_reconciler_drift_repairs_total{kind="NetworkPolicy"}' -ge 1

# --- GC: a namespace labelled ours for no booking ---
kc create namespace gpuaas-orphan-metrics || fail "cannot create the orphan namespace"
kc label namespace gpuaas-orphan-metrics app.kubernetes.io/managed-by=gpuaas gpuaas.io/reservation=999999 ||
  fail "cannot label the orphan namespace"
wait_for 30 "the orphan namespace's deletion counted" \
  rec_is 'gpuaas_reconciler_gc_actions_total{action="namespace_delete"}' -ge 1

# --- workspaces that cannot start: failures counted by the reason read from the pods ---
# (bookings 3 and 4 get namespaces gpuaas-3 and gpuaas-4; each fails 2 attempts of 2 s)
for rule in '{"fate":"unschedulable","namespace":"gpuaas-3"}' '{"fate":"pull","namespace":"gpuaas-4"}'; do
  curl -sf -X POST "$SIMURL/_sim/pods" -d "$rule" >/dev/null || fail "set the pod fate $rule"
done
C=$(book $((now - 60)) $((now + 1800)) nvidia.com/mig-1g.24gb)
D=$(book $((now - 60)) $((now + 1800)) nvidia.com/mig-1g.24gb)
[ "$C" = 3 ] && [ "$D" = 4 ] || fail "bookings $C and $D, want 3 and 4"
fates_counted() {
  rec_is 'gpuaas_reconciler_provision_failures_total{reason="unschedulable"}' -eq 2 &&
    rec_is 'gpuaas_reconciler_provision_failures_total{reason="image_pull"}' -eq 2 &&
    rec_is 'gpuaas_reconciler_sessions_failed_total{reason="attempts_exhausted"}' -eq 3
}
wait_for 30 "2 unschedulable and 2 image_pull failures, 3 sessions FAILED" fates_counted
rec_is 'gpuaas_reconciler_provision_attempts_total{outcome="failed"}' -eq 6 ||
  fail "failed attempts: $(val "$WORK/rec.txt" 'gpuaas_reconciler_provision_attempts_total{outcome="failed"}'), want 6"

# --- the database stops: both say so and /metrics still answers ---
bash "$SRC/tests/scripts/pg.sh" stop "$WORK/pg" || fail "cannot stop PostgreSQL"
wait_for 30 "the server's database_up 0 (and /metrics 200)" srv_is gpuaas_database_up -eq 0
wait_for 30 "the reconciler's database_up 0 (and /metrics 200)" rec_is gpuaas_database_up -eq 0
# started again on the same data and port (the URL names it): both recover. Another process
# could take the port while PostgreSQL is down: pg_ctl then fails and says so.
bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
as_pg "$bindir/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/server.log" -w \
  -o "-p $PGPORT -k $WORK/pg -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null ||
  fail "cannot start PostgreSQL again"
wait_for 30 "the server's database_up 1 again" srv_is gpuaas_database_up -eq 1
wait_for 30 "the reconciler's database_up 1 again" rec_is gpuaas_database_up -eq 1
echo "reconciler_metrics: ok"
