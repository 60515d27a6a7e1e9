#!/usr/bin/env bash
# The restore drill of docs/install.md §9, on two private PostgreSQL servers: bookings made on
# database A, a logical dump (pg_dump -Fc), a session created *after* the dump, then the dump
# restored into a fresh database B (pg_restore --clean --if-exists --no-owner, as the guide
# does) and the server and reconciler started on B against the same cluster (the Kubernetes
# API double). Checks:
#   - the server starts on the restored database; users, tokens and bookings from before the
#     dump are intact, their session namespace stays;
#   - the session created after the dump is gone from the database (404) and the reconciler's
#     GC deletes its namespace, which nothing holds any more;
#   - the guide's id fix-up (the reservation id sequence moved past every id the cluster
#     still has a namespace for) makes the next booking's id larger than the lost one's, so
#     it can never be handed the lost session's namespace and volumes (a namespace labelled
#     with its id counts as its own); the test shows the restored sequence alone would reuse it.
set -euo pipefail
BUILD=${GPUAAS_BUILD:-build}
SRC=${GPUAAS_SRC:-.}
BIN=$BUILD/gpuaas
SIM=$BUILD/gpuaas-kubesim
for b in "$BIN" "$SIM"; do [ -x "$b" ] || { echo "pg_restore: $b not built"; exit 1; }; done
for c in kubectl jq python3 pg_dump pg_restore psql; do
  command -v $c >/dev/null || { echo "pg_restore: $c is required"; exit 1; }
done
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  [ "${CI:-}" = true ] && { echo "pg_restore: PostgreSQL server binaries are required in CI"; exit 1; }
  echo "pg_restore: SKIP: no PostgreSQL server binaries"
  exit 0
fi

NAME=pg_restore
# shellcheck source=../lib/it_common.sh
. "$SRC/tests/lib/it_common.sh"
it_cleanup_extra() {
  bash "$SRC/tests/scripts/pg.sh" stop "$WORK/pga" || true
  bash "$SRC/tests/scripts/pg.sh" stop "$WORK/pgb" || true
}

chmod 755 "$WORK" # the servers run as the postgres user, which must reach their directories
URL_A=$(bash "$SRC/tests/scripts/pg.sh" start "$WORK/pga") || fail "PostgreSQL A"
URL_B=$(bash "$SRC/tests/scripts/pg.sh" start "$WORK/pgb") || fail "PostgreSQL B"

"$SIM" --listen 127.0.0.1:0 --kubeconfig-out "$WORK/kubeconfig" >>"$WORK/kubesim.log" 2>&1 &
SIMPID=$!
wait_for 10 "the test double" test -s "$WORK/kubeconfig"
kc create --validate=false -f "$SRC/tests/data/nodes/success.json" || fail "cannot register the node"

config() { # config DB_URL
  cat <<CFG
server:
  listen: 127.0.0.1:0 # start_server: the kernel picks the port
  web_root: $WORK
database:
  url: $1
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
}
config "$URL_A" >"$WORK/a.yaml"
config "$URL_B" >"$WORK/b.yaml"
run_platform() { # run_platform CONFIG: server and reconciler
  start_server "$1"
  "$BIN" reconciler --config "$1" --kubeconfig "$WORK/kubeconfig" >>"$WORK/reconciler.log" 2>&1 &
  PIDS+=($!)
}
book() { # book START_OFFSET -> id
  local now
  now=$(date +%s)
  req POST /api/v1/reservations "{\"gpu_type\":\"nvidia.com/mig-1g.24gb\",\"gpu_count\":1,\"starts_at\":\"$(iso $((now + $1)))\",\"ends_at\":\"$(iso $((now + $1 + 3600)))\",\"purpose\":\"restore drill\"}" "$ALICE"
  expect 201 "book at +$1 s"
  jf .id
}
has_ns() { KUBECONFIG=$WORK/kubeconfig kubectl get namespace "$1" >/dev/null 2>&1; }
no_ns() {
  local phase
  phase=$(KUBECONFIG=$WORK/kubeconfig kubectl get namespace "$1" -o jsonpath='{.status.phase}' 2>/dev/null) || return 0
  [ "$phase" = Terminating ]
}

# --- database A: a future booking and a running session, then the dump ---
run_platform "$WORK/a.yaml"
ALICE=$(add_user alice)
FUTURE=$(book 7200)
RUNNING=$(book -60)
wait_for 30 "namespace gpuaas-$RUNNING" has_ns "gpuaas-$RUNNING"
pg_dump -Fc -f "$WORK/gpuaas.dump" "$URL_A" || fail "pg_dump"
# --- after the dump: another session, which the dump does not know ---
LOST=$(book -30)
wait_for 30 "namespace gpuaas-$LOST" has_ns "gpuaas-$LOST"
stop_all

# --- restore into the fresh database B, as docs/install.md §9 does ---
pg_restore --clean --if-exists --no-owner -d "$URL_B" "$WORK/gpuaas.dump" 2>"$WORK/pg_restore.txt" ||
  fail "pg_restore: $(cat "$WORK/pg_restore.txt")"
next=$(psql -X -A -t -q "$URL_B" -c "SELECT nextval(pg_get_serial_sequence('reservations','id'))")
[ "$next" -le "$LOST" ] || fail "the restored sequence would not reuse the lost id ($next > $LOST): the drill no longer shows the hazard"
psql -X -q "$URL_B" -c "SELECT setval(pg_get_serial_sequence('reservations','id'), (SELECT max(id) FROM reservations))" >/dev/null
# the guide's fix-up: past every id a session namespace in the cluster still carries
max_ns=$(KUBECONFIG=$WORK/kubeconfig kubectl get namespaces -l app.kubernetes.io/managed-by=gpuaas \
  -o jsonpath='{range .items[*]}{.metadata.labels.gpuaas\.io/reservation}{"\n"}{end}' | sort -n | tail -1)
[ "$max_ns" = "$LOST" ] || fail "highest reservation label in the cluster: $max_ns, want $LOST"
case "$max_ns" in '' | *[!0-9]*) fail "not a reservation id: $max_ns" ;; esac
psql -X -q "$URL_B" \
  -c "SELECT setval(pg_get_serial_sequence('reservations','id'), GREATEST($max_ns, (SELECT max(id) FROM reservations)))" \
  >/dev/null || fail "sequence fix-up"

# --- the platform on B ---
run_platform "$WORK/b.yaml"
for id in "$FUTURE" "$RUNNING"; do
  req GET "/api/v1/reservations/$id" "" "$ALICE"
  expect 200 "booking $id from before the dump, with alice's token from before the dump"
done
req GET "/api/v1/reservations/$LOST" "" "$ADMIN"
expect 404 "the booking made after the dump"
wait_for 30 "the lost session's namespace collected" no_ns "gpuaas-$LOST"
has_ns "gpuaas-$RUNNING" || fail "the restored running session lost its namespace"
NEW=$(book 3600)
[ "$NEW" -gt "$LOST" ] || fail "new booking got id $NEW, not past the lost $LOST"
grep -q "gpuaas-$LOST" "$WORK/reconciler.log" || fail "the reconciler did not report the collected namespace"
kill "$SIMPID" 2>/dev/null || true
echo "pg_restore: ok (kept $FUTURE $RUNNING, lost $LOST collected, next id $NEW)"
