#!/usr/bin/env bash
# GPU utilization end to end: the real `gpuaas server` and `gpuaas reconciler` (against the
# Kubernetes API test double) with reconciler.dcgm_url pointing at a local HTTP server
# (python3 http.server) that serves DCGM exporter text in the real format to a bearer token.
# The first scrapes fail (a wrong token: 401; then no file yet: 404), then the file names two
# ACTIVE sessions (MIG slices under
# `namespace`, a whole GPU under `exported_namespace` as scraped through a ServiceMonitor), a
# namespace that is not a session and one of a booking that is not ACTIVE yet. Checks: the
# busy fractions and framebuffer figures the API reports per session and per resource, that
# a user sees only their own sessions, the scrape counters in /metrics, that the URL's
# credentials never reach the log, and that an exporter that never answers neither delays
# provisioning nor SIGTERM.
set -euo pipefail
BUILD=${GPUAAS_BUILD:-build}
SRC=${GPUAAS_SRC:-.}
BIN=$BUILD/gpuaas
SIM=$BUILD/gpuaas-kubesim
for b in "$BIN" "$SIM"; do [ -x "$b" ] || { echo "dcgm_utilization: $b not built"; exit 1; }; done
command -v python3 >/dev/null || { echo "dcgm_utilization: python3 is required"; exit 1; }

NAME=dcgm_utilization
FAIL_LOGS="reconciler server dcgm"
# shellcheck source=../lib/it_common.sh
. "$SRC/tests/lib/it_common.sh"
DCGM_PID=
it_cleanup_extra() {
  [ -n "$DCGM_PID" ] && kill -TERM "$DCGM_PID" 2>/dev/null && wait "$DCGM_PID" 2>/dev/null
}
near() { # near ACTUAL WANT EPS WHAT
  awk -v a="$1" -v w="$2" -v e="$3" 'BEGIN { d = a - w; if (d < 0) d = -d; exit !(a != "null" && d <= e) }' ||
    fail "$4: $1, want $2"
}
run_suite() {
  # --- a fresh test double, no DCGM answer yet, the configuration ---
  rm -f "$WORK/dcgm/metrics" "$WORK/kubeconfig"
  echo "wrong-token" >"$WORK/token"
  # every request is logged with its RBAC verb: checked against kube_calls.c at the end
  "$SIM" --listen 127.0.0.1:0 --kubeconfig-out "$WORK/kubeconfig" \
    --request-log "$WORK/kube-requests.log" >>"$WORK/kubesim.log" 2>&1 &
  PIDS+=($!)
  wait_for 10 "the test double" test -s "$WORK/kubeconfig"
  # The reference node as the GPU operator labels it, so the cluster advertises the pool.
  kc create --validate=false -f "$SRC/tests/data/nodes/success.json" ||
    fail "cannot register the node with the test double"

  cat >"$WORK/gpuaas.yaml" <<EOF
log_level: debug
server:
  listen: 127.0.0.1:0 # start_server: the kernel picks the port
  web_root: $WORK/web
database:
  url: $DB_URL
$(reference_pool)
session:
  max_gpus: 4
  start_grace_seconds: 600
reconciler:
  interval_seconds: 30
  gc_interval_seconds: 300
  platform: openshift
  leader_election: true
  ingress_domain: apps.test
  storage_class: standard
  dcgm_url: http://scraper:s3cret-pw@127.0.0.1:$DPORT/metrics?token=s3cret-q
  dcgm_interval_seconds: 1
  dcgm_timeout_seconds: 60
  dcgm_token_file: $WORK/token
EOF

  start_server "$WORK/gpuaas.yaml"
  ALICE=$(add_user alice)
  BOB=$(add_user bob)

  # --- bookings: two sessions now, one later ---
  now=$(date +%s)
  start=$((now - 60)) end=$((now + 3600))
  book() { # book TOKEN GPU_TYPE COUNT START END -> id
    req POST /api/v1/reservations "{\"gpu_type\":\"$2\",\"gpu_count\":$3,\"starts_at\":\"$(iso "$4")\",\"ends_at\":\"$(iso "$5")\",\"purpose\":\"dcgm test\"}" "$1"
    expect 201 "book $2"
    jf .id
  }
  A=$(book "$ALICE" nvidia.com/mig-1g.24gb 2 $start $end)
  B=$(book "$BOB" nvidia.com/gpu 1 $start $end)
  LATER=$(book "$ALICE" nvidia.com/mig-1g.24gb 1 $((now + 7200)) $((now + 10800)))

  rm -f "$WORK/rec.port"
  "$BIN" reconciler --config "$WORK/gpuaas.yaml" --kubeconfig "$WORK/kubeconfig" \
    --health-listen 127.0.0.1:0 --health-port-file "$WORK/rec.port" >"$WORK/reconciler.log" 2>&1 &
  REC_PID=$!
  PIDS+=("$REC_PID")
  wait_port REC_PORT "$WORK/rec.port" "$REC_PID" "the reconciler's health listener"
  active() { req GET "/api/v1/reservations/$1" "" "$ADMIN"; [ "$(jf .state)" = ACTIVE ]; }
  wait_for 30 "session $A ACTIVE" active "$A"
  wait_for 30 "session $B ACTIVE" active "$B"
  req GET "/api/v1/reservations/$A" "" "$ADMIN"
  NS_A=$(jf .session.namespace)
  req GET "/api/v1/reservations/$B" "" "$ADMIN"
  NS_B=$(jf .session.namespace)
  [ "$NS_A" = "gpuaas-$A" ] && [ "$NS_B" = "gpuaas-$B" ] || fail "session namespaces $NS_A $NS_B"

  # --- a wrong token (401), then no file yet (404): the scrapes fail, are counted, and the
  # reconciler goes on ---
  failures() { req GET /metrics "" "$ADMIN"; awk '/^gpuaas_dcgm_scrape_failures_total /{print $2}' <<<"$BODY"; }
  logged() { grep -q "msg=\"DCGM scrape failed\".*error=\"HTTP status $1\"" "$WORK/reconciler.log"; }
  wait_for 15 "a scrape refused for its token" logged 401
  echo "tok-s3cret-2" >"$WORK/token"
  wait_for 15 "a scrape of a missing file" logged 404
  f=$(failures)
  [ -n "$f" ] && [ "$f" -ge 2 ] || fail "failed scrapes counted: $f"
  req GET "/api/v1/utilization?from=$(iso "$start")&to=$(iso "$end")" "" "$ADMIN"
  expect 200 "utilization before any measurement"
  [ "$(jf "[.sessions[] | select(.id == $A)][0].busy_fraction")" = null ] || fail "busy fraction before any measurement"

  # --- the exporter answers: real-format lines, as the DCGM exporter writes them ---
  H='gpu="0",UUID="GPU-604ac76c-d9cf-fef3-62e9-d92044ab6e52",device="nvidia0",modelName="NVIDIA RTX PRO 6000 Blackwell Server Edition"'
  W='gpu="1",UUID="GPU-11111111-0000-0000-0000-000000000000",device="nvidia1",modelName="NVIDIA RTX PRO 6000 Blackwell Server Edition"'
  cat >"$WORK/dcgm/metrics.tmp" <<EOF
# HELP DCGM_FI_DEV_SM_CLOCK SM clock frequency (in MHz).
# TYPE DCGM_FI_DEV_SM_CLOCK gauge
DCGM_FI_DEV_SM_CLOCK{$H,Hostname="sim-node"} 139
# HELP DCGM_FI_DEV_FB_USED Framebuffer memory used (in MiB).
# TYPE DCGM_FI_DEV_FB_USED gauge
DCGM_FI_DEV_FB_USED{$H,GPU_I_PROFILE="1g.24gb",GPU_I_ID="3",Hostname="sim-node",DCGM_FI_DRIVER_VERSION="575.51.03",container="app",namespace="$NS_A",pod="app-0"} 10240
DCGM_FI_DEV_FB_USED{$H,GPU_I_PROFILE="1g.24gb",GPU_I_ID="4",Hostname="sim-node",DCGM_FI_DRIVER_VERSION="575.51.03",container="app",namespace="$NS_A",pod="app-1"} 2048
DCGM_FI_DEV_FB_USED{$W,Hostname="sim-node",exported_container="workspace",exported_namespace="$NS_B",exported_pod="workspace-0",namespace="nvidia-gpu-operator",pod="nvidia-dcgm-exporter-x7k2p"} 40000
DCGM_FI_DEV_FB_USED{$H,GPU_I_PROFILE="1g.24gb",GPU_I_ID="5",Hostname="sim-node",container="c",namespace="team-x",pod="p"} 999
# HELP DCGM_FI_PROF_GR_ENGINE_ACTIVE Ratio of time the graphics engine is active.
# TYPE DCGM_FI_PROF_GR_ENGINE_ACTIVE gauge
DCGM_FI_PROF_GR_ENGINE_ACTIVE{$H,GPU_I_PROFILE="1g.24gb",GPU_I_ID="3",Hostname="sim-node",DCGM_FI_DRIVER_VERSION="575.51.03",container="app",namespace="$NS_A",pod="app-0"} 0.42
DCGM_FI_PROF_GR_ENGINE_ACTIVE{$H,GPU_I_PROFILE="1g.24gb",GPU_I_ID="4",Hostname="sim-node",DCGM_FI_DRIVER_VERSION="575.51.03",container="app",namespace="$NS_A",pod="app-1"} 0.18
DCGM_FI_PROF_GR_ENGINE_ACTIVE{$W,Hostname="sim-node",exported_container="workspace",exported_namespace="$NS_B",exported_pod="workspace-0",namespace="nvidia-gpu-operator",pod="nvidia-dcgm-exporter-x7k2p"} 0.9
DCGM_FI_PROF_GR_ENGINE_ACTIVE{$H,GPU_I_PROFILE="1g.24gb",GPU_I_ID="5",Hostname="sim-node",container="c",namespace="team-x",pod="p"} 1
DCGM_FI_PROF_GR_ENGINE_ACTIVE{$H,GPU_I_PROFILE="1g.24gb",GPU_I_ID="6",Hostname="sim-node",container="c",namespace="gpuaas-$LATER",pod="p"} 1
DCGM_FI_PROF_GR_ENGINE_ACTIVE{$H,GPU_I_PROFILE="1g.24gb",GPU_I_ID="7",Hostname="sim-node",DCGM_FI_DRIVER_VERSION="575.51.03"} 0
EOF
  mv "$WORK/dcgm/metrics.tmp" "$WORK/dcgm/metrics"

  U="/api/v1/utilization?from=$(iso $start)&to=$(iso $((now + 10800)))"
  measured3() { # three scrapes or more recorded for both sessions
    req GET "$U" "" "$ADMIN"
    jq -e --argjson a "$A" --argjson b "$B" \
      '[.sessions[] | select((.id == $a or .id == $b) and .measured_hours >= 3 / 3600)] | length == 2' \
      <<<"$BODY" >/dev/null
  }
  wait_for 20 "activity recorded for both sessions" measured3

  # --- admin view: per session and per resource ---
  req GET "$U" "" "$ADMIN"
  expect 200 "admin utilization"
  sess() { jf "[.sessions[] | select(.id == $1)][0].$2"; }
  near "$(sess "$A" busy_fraction)" 0.30 0.002 "busy fraction of the MIG session (0.42 and 0.18 over 2 slices)"
  near "$(sess "$B" busy_fraction)" 0.90 0.002 "busy fraction of the whole-GPU session (exported_namespace)"
  [ "$(sess "$A" fb_used_max_mib)" = 12288 ] || fail "framebuffer of the MIG session"
  [ "$(sess "$B" fb_used_last_mib)" = 40000 ] || fail "framebuffer of the whole-GPU session"
  [ "$(sess "$A" user)" = alice ] && [ "$(sess "$B" user)" = bob ] || fail "session owners"
  [ "$(sess "$A" resource)" = nvidia.com/mig-1g.24gb ] || fail "session resource"
  near "$(sess "$A" booked_unit_hours)" "$(awk -v s=$((end - start)) 'BEGIN{print 2 * s / 3600}')" 0.001 "booked unit-hours"
  [ "$(sess "$LATER" busy_fraction)" = null ] || fail "a booking that is not ACTIVE has no activity"
  [ "$(sess "$LATER" measured_hours)" = 0 ] || [ "$(sess "$LATER" measured_hours)" = 0.0 ] ||
    fail "a booking that is not ACTIVE was measured: $(sess "$LATER" measured_hours)"
  res() { jf "[.resources[] | select(.resource == \"$1\")][0].$2"; }
  near "$(res nvidia.com/mig-1g.24gb busy_fraction)" 0.30 0.002 "MIG resource busy fraction"
  near "$(res nvidia.com/gpu busy_fraction)" 0.90 0.002 "whole-GPU resource busy fraction"
  near "$(res nvidia.com/mig-1g.24gb measured_unit_hours)" "$(sess "$A" measured_hours | awk '{print 2 * $1}')" 0.0001 \
    "measured unit-hours are the session's measured hours times its units"
  [ "$(res nvidia.com/mig-1g.24gb ratio)" != null ] || fail "the booked ratio is still there"
  [ "$(res cpu busy_fraction)" = null ] || fail "cpu has no busy fraction"

  # --- the same in Prometheus's terms: the reconciler counts measured and busy unit-seconds
  # per resource (busy / measured = the busy fraction above), the server the units booked, and
  # the two sessions' start lag is in the histogram ---
  rmetrics=$(curl -s --max-time 10 "http://127.0.0.1:$REC_PORT/metrics") || fail "reconciler /metrics"
  rm_val() { awk -v k="$1" '$1 == k {print $2}' <<<"$rmetrics"; }
  for r in nvidia.com/mig-1g.24gb:0.30 nvidia.com/gpu:0.90; do
    m=$(rm_val "gpuaas_reconciler_gpu_measured_unit_seconds_total{resource=\"${r%:*}\"}")
    b=$(rm_val "gpuaas_reconciler_gpu_busy_unit_seconds_total{resource=\"${r%:*}\"}")
    awk -v m="${m:-0}" 'BEGIN {exit !(m > 0)}' || fail "measured unit-seconds of ${r%:*}: '$m'"
    near "$(awk -v m="$m" -v b="$b" 'BEGIN {print b / m}')" "${r#*:}" 0.002 "busy / measured unit-seconds of ${r%:*}"
  done
  # the MIG session holds 2 slices: its measured unit-seconds are twice its measured seconds
  near "$(rm_val 'gpuaas_reconciler_gpu_measured_unit_seconds_total{resource="nvidia.com/mig-1g.24gb"}')" \
    "$(rm_val 'gpuaas_reconciler_gpu_measured_unit_seconds_total{resource="nvidia.com/gpu"}' | awk '{print 2 * $1}')" \
    2.5 "2 slices count twice (both sessions measured in the same scrapes, to a scrape's rounding)"
  [ "$(rm_val gpuaas_reconciler_start_lag_seconds_count)" = 2 ] ||
    fail "start lag observations: $(rm_val gpuaas_reconciler_start_lag_seconds_count), want 2 (A and B)"
  [ "$(rm_val 'gpuaas_reconciler_start_lag_seconds_bucket{le="+Inf"}')" = 2 ] || fail "start lag +Inf bucket"
  req GET /metrics "" "$ADMIN"
  [ "$(awk '$1 == "gpuaas_units_booked{resource=\"nvidia.com/mig-1g.24gb\"}" {print $2}' <<<"$BODY")" = 2 ] &&
    [ "$(awk '$1 == "gpuaas_units_booked{resource=\"nvidia.com/gpu\"}" {print $2}' <<<"$BODY")" = 1 ] ||
    fail "units booked: $(grep '^gpuaas_units_booked' <<<"$BODY" | tr '\n' ' ')"

  # --- tenant isolation: a user sees only their own sessions, no per-resource figures ---
  req GET "$U" "" "$ALICE"
  expect 200 "alice's utilization"
  [ "$(jf '[.sessions[].user] | unique | join(",")')" = alice ] || fail "alice sees only her sessions"
  [ "$(jf '.sessions | length')" = 2 ] || fail "alice has two sessions in the range"
  near "$(sess "$A" busy_fraction)" 0.30 0.002 "alice's own busy fraction"
  [ "$(jf 'has("resources")')" = false ] || fail "a user gets no per-resource figures"
  req GET "$U" "" "$BOB"
  expect 200 "bob's utilization"
  [ "$(jf "[.sessions[] | select(.id == $A)] | length")" = 0 ] || fail "bob sees alice's session activity"
  [ "$(jf '.sessions | length')" = 1 ] || fail "bob has one session"
  req GET "/api/v1/utilization?from=$(iso $end)&to=$(iso $start)" "" "$ALICE"
  expect 400 "to before from"
  req GET "$U" ""
  expect 401 "no token"

  # --- counters, and no credentials in the log ---
  req GET /metrics "" "$ADMIN"
  ok=$(awk '/^gpuaas_dcgm_scrapes_total /{print $2}' <<<"$BODY")
  bad=$(awk '/^gpuaas_dcgm_scrape_failures_total /{print $2}' <<<"$BODY")
  [ "$ok" -gt "$bad" ] && [ "$bad" -ge 2 ] || fail "scrape counters: $ok scrapes, $bad failures"
  [ "$(awk '/^gpuaas_dcgm_last_success_timestamp_seconds /{print $2}' <<<"$BODY")" -ge "$now" ] ||
    fail "last successful scrape time"
  grep -q "url=http://127.0.0.1:$DPORT/metrics " "$WORK/reconciler.log" || fail "the scrape URL is logged without credentials"
  ! grep -q 's3cret' "$WORK/reconciler.log" "$WORK/server.log" || fail "a credential of the DCGM URL reached a log"

  # --- an exporter that hangs (the scrape may take 60 s): sessions are still provisioned at
  # once, and SIGTERM is not held up by the scrape in flight ---
  touch "$WORK/dcgm/hang"
  wait_for 10 "a scrape that hangs" test -e "$WORK/dcgm/hanging"
  C=$(book "$BOB" nvidia.com/mig-1g.24gb 1 $((now - 30)) $end)
  wait_for 20 "session $C ACTIVE while the DCGM exporter hangs" active "$C"
  t0=$(date +%s%N)
  kill -TERM "$REC_PID"
  wait "$REC_PID" || fail "reconciler exit status $? after SIGTERM during a hanging scrape"
  ms=$((($(date +%s%N) - t0) / 1000000))
  [ "$ms" -lt 10000 ] || fail "SIGTERM took $ms ms with a scrape in flight"
  rm -f "$WORK/dcgm/hang" "$WORK/dcgm/hanging"
echo "dcgm_utilization: $DB_URL ok (sessions $A $B $C, $ok scrapes, $bad failed; SIGTERM during a hanging scrape: $ms ms)"
  cat "$WORK/reconciler.log" >>"$WORK/reconciler-all.log"
  stop_all
}

mkdir -p "$WORK/dcgm" "$WORK/web"
# http.server's handler, answering /metrics only to "Authorization: Bearer <the token>", on a
# port the kernel picks, written to PORT_FILE (temporary file, then rename) once it listens.
cat >"$WORK/dcgm_server.py" <<'EOF'
import http.server, os, sys, time
root, port_file, token = sys.argv[1], sys.argv[2], sys.argv[3]
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        path = os.path.join(root, "metrics")
        # While the file "hang" exists, answer nothing (and say so with "hanging").
        while os.path.exists(os.path.join(root, "hang")):
            open(os.path.join(root, "hanging"), "w").close()
            time.sleep(0.1)
        if self.headers.get("Authorization") != "Bearer " + token:
            self.send_error(401)
        elif self.path.split("?")[0] != "/metrics" or not os.path.exists(path):
            self.send_error(404)
        else:
            with open(path, "rb") as f:
                data = f.read()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write("%d\n" % srv.server_address[1])
os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
EOF
python3 "$WORK/dcgm_server.py" "$WORK/dcgm" "$WORK/dcgm.port" tok-s3cret-2 >"$WORK/dcgm.log" 2>&1 &
DCGM_PID=$!
wait_port DPORT "$WORK/dcgm.port" $DCGM_PID "the DCGM endpoint"

run_on_both_backends
check_kube_calls_subset "$WORK/kube-requests.log"
