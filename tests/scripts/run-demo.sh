#!/usr/bin/env bash
# `make run`: starts gpuaas on SQLite with the example configuration (after the Makefile has
# built it), prints the URL and the admin password, and, when the Kubernetes pieces are
# built, a reconciler against a real cluster ($KUBECONFIG) or the built-in Kubernetes double.
# Ctrl-C (or SIGTERM) stops everything this script started.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
GPUAAS=$BUILD/gpuaas
CONFIG=${GPUAAS_CONFIG:-config/gpuaas.example.yaml}
VAR=var
[ -x "$GPUAAS" ] || { echo "run-demo: $GPUAAS is missing; run 'make build' first" >&2; exit 1; }
mkdir -p "$VAR"
chmod 0700 "$VAR"

pids=()
stop_all() {
    trap - INT TERM EXIT
    echo
    echo "Stopping..."
    local i
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill -TERM "${pids[$i]}" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    echo "Stopped."
}
trap 'stop_all; exit 0' INT TERM
trap stop_all EXIT

listen=$(awk '/^server:/{s=1;next} /^[^ #]/{s=0} s&&$1=="listen:"{print $2;exit}' "$CONFIG")
listen=${listen:-127.0.0.1:8080}
url="http://$listen"
[ "${listen%%:*}" = "0.0.0.0" ] && url="http://127.0.0.1:${listen##*:}"

# With the Kubernetes double as the cluster (no KUBECONFIG), the server is told so
# (cluster.simulated: true): the portal and the CLI then say that no workspace runs instead
# of linking to a host that does not exist.
simulate=0
if [ -z "${KUBECONFIG:-}" ] && [ -x "$BUILD/gpuaas-kubesim" ] && "$GPUAAS" reconciler --help >/dev/null 2>&1; then
    simulate=1
    sed -E 's/^(  simulated: ).*/\1true/' "$CONFIG" >"$VAR/server.yaml"
    grep -q '^  simulated: true' "$VAR/server.yaml" ||
        printf '\ncluster:\n  simulated: true\n' >>"$VAR/server.yaml"
    CONFIG=$VAR/server.yaml
fi

log=$VAR/server.log
: >"$log"
"$GPUAAS" server --config "$CONFIG" --database "sqlite://$VAR/gpuaas.db" 2> >(tee -a "$log" >&2) &
pids+=($!)

ready=0
for _ in $(seq 1 100); do
    if curl -fsS -o /dev/null "$url/healthz" 2>/dev/null; then ready=1; break; fi
    kill -0 "${pids[0]}" 2>/dev/null || break
    sleep 0.1
done
if [ "$ready" != 1 ]; then
    echo "run-demo: the server did not come up; see $log" >&2
    exit 1
fi

# The admin password: printed once by the server on first start and kept in a 0600 file
# next to the database.
password=""
for f in "$VAR"/*password*; do
    [ -f "$f" ] && { password=$(head -n1 "$f"); pwfile=$f; break; }
done
if [ -z "$password" ]; then
    password=$(grep -oE 'password[=: "]+[^ "]+' "$log" | head -n1 | sed -E 's/^password[=: "]+//')
fi

if [ -x "$BUILD/gpuaas-kubesim" ] && "$GPUAAS" reconciler --help >/dev/null 2>&1; then
    if [ "$simulate" = 1 ]; then
        echo "KUBECONFIG is unset: starting the Kubernetes test double as a demo cluster" \
             "(no real pods run; the portal says so)."
        simdir=$VAR/kubesim
        mkdir -p "$simdir"
        "$BUILD/gpuaas-kubesim" --listen 127.0.0.1:${GPUAAS_KUBESIM_PORT:-18443} --kubeconfig-out "$simdir/kubeconfig" 2>"$simdir/kubesim.log" &
        pids+=($!)
        for _ in $(seq 1 50); do [ -s "$simdir/kubeconfig" ] && break; sleep 0.1; done
        export KUBECONFIG=$simdir/kubeconfig
        # The demo cluster's node is the reference node of the example configuration, as the
        # NVIDIA GPU operator would label it once MIG is configured (tests/data/nodes).
        # (kubectl's own validation needs /openapi/v2, which the double does not serve; the
        # double validates every object against the real schema itself)
        kubectl create --validate=false -f tests/data/nodes/success.json >/dev/null 2>>"$simdir/kubesim.log" ||
            echo "warning: could not register the demo node; see $simdir/kubesim.log" >&2
    else
        echo "Using the Kubernetes cluster from KUBECONFIG=$KUBECONFIG"
    fi
    # The reconciler reads the database URL from the same configuration as the server.
    GPUAAS_RECONCILER_DB="sqlite://$VAR/gpuaas.db"
    sed -E "s#^(  url: ).*#\1$GPUAAS_RECONCILER_DB#" "$CONFIG" > "$VAR/reconciler.yaml"
    "$GPUAAS" reconciler --config "$VAR/reconciler.yaml" 2>>"$VAR/reconciler.log" &
    pids+=($!)
    echo "Reconciler running (log: $VAR/reconciler.log)."
else
    echo "The reconciler or the Kubernetes double is not built: serving bookings only."
fi

echo
echo "gpuaas is running at $url"
if [ -n "$password" ]; then
    echo "Log in as admin with password: $password${pwfile:+  (also in $pwfile)}"
else
    echo "Admin password: set on first start; kept in $VAR/ next to the database" \
         "(or GPUAAS_ADMIN_PASSWORD)."
fi
echo "  $GPUAAS login --server $url --username admin"
echo "Press Ctrl-C to stop."
wait "${pids[0]}"
