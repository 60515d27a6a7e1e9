# Shared by the shell tests that drive the real `gpuaas server` (and reconciler, and the
# Kubernetes API double) over HTTP. Source it after setting NAME (the test's name, for
# messages and the saved logs). It sets WORK (a fresh directory, removed at exit with the
# processes in PIDS and the database PG_DB when set), and defines:
#   fail MSG          the reason, the last body and the tails of $WORK/{FAIL_LOGS}.log, exit 1
#   req M PATH [BODY] [TOKEN]   HTTP request to $BASE: sets STATUS and BODY
#   expect STATUS WHAT, jf JQ_FILTER (on BODY), wait_for SECONDS WHAT COMMAND...
#   wait_port VAR FILE PID WHAT, iso EPOCH, kc KUBECTL_ARGS (against $WORK/kubeconfig), stop_all
# Daemons are started on port 0 with --port-file (--health-port-file for the reconciler): the
# kernel picks a free port in the daemon's own bind and the daemon reports it, so no other
# process can take the port between a choice and the bind (src/common/portfile.h).
# A test may define it_cleanup_extra to stop more of its own at exit.
# shellcheck shell=bash
WORK=$(mktemp -d)
PIDS=()
FAIL_LOGS=${FAIL_LOGS:-reconciler server}

stop_all() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
}
it_cleanup() {
  stop_all
  if declare -F it_cleanup_extra >/dev/null; then it_cleanup_extra || true; fi
  if [ -n "${GPUAAS_TEST_OUTPUT:-}" ]; then
    mkdir -p "$GPUAAS_TEST_OUTPUT/$NAME"
    cp "$WORK"/*.log "$WORK"/*.txt "$GPUAAS_TEST_OUTPUT/$NAME/" 2>/dev/null || true
  fi
  rm -rf "$WORK"
  if [ -n "${PG_DB:-}" ]; then
    psql -q -X "$GPUAAS_TEST_PG_URL" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
  fi
}
trap it_cleanup EXIT

fail() { # to stderr: fail may run inside $(...)
  exec >&2
  echo "FAIL ($NAME): $*"
  echo "--- last body: ${BODY:-}"
  local f
  for f in $FAIL_LOGS; do echo "--- $f log (tail):"; tail -15 "$WORK/$f.log" 2>/dev/null || true; done
  exit 1
}
# Sets VAR to the port in FILE, which the daemon PID writes (atomically: whole or absent) once
# it listens; fails at once when PID exits before that. Remove FILE before starting PID.
wait_port() { # wait_port VAR FILE PID WHAT
  wait_for 10 "$4 to listen ($2)" port_written "$2" "$3" "$4"
  printf -v "$1" '%s' "$(cat "$2")"
  [[ ${!1} =~ ^[0-9]+$ ]] || fail "$4 wrote \"${!1}\" to $2, not a port"
}
port_written() { # port_written FILE PID WHAT: FILE is there; fails when PID exited first
  [ -s "$1" ] && return 0
  kill -0 "$2" 2>/dev/null || fail "$3 exited before it listened"
  return 1
}
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
req() { # req METHOD PATH [BODY] [TOKEN]: sets STATUS and BODY
  local args=(-s -S -X "$1" -o "$WORK/body" -w '%{http_code}' --max-time 10)
  [ -n "${4-}" ] && args+=(-H "Authorization: Bearer $4")
  [ -n "${3-}" ] && args+=(--data-binary "$3")
  # the server refuses a state-changing request that is not JSON, body or not (CSRF)
  [ "$1" != GET ] && args+=(-H "Content-Type: application/json")
  STATUS=$(curl "${args[@]}" "$BASE$2") || STATUS=000
  BODY=$(cat "$WORK/body")
}
expect() { [ "$STATUS" = "$1" ] || fail "$2: status $STATUS, want $1"; }
jf() { jq -r "$1" <<<"$BODY"; }
# SECONDS is what the wait may take on an idle machine. A loaded 2-core machine (a ctest -j2
# beside a build) is given five times that in wall-clock time: the bound only decides how
# long a broken run takes to fail, and a count of polls would shrink as each poll slows.
wait_for() { # wait_for SECONDS WHAT COMMAND...
  local what=$2 end=$((SECONDS + $1 * 5))
  shift 2
  while :; do
    "$@" && return 0
    [ "$SECONDS" -lt "$end" ] || break
    sleep 0.1
  done
  fail "timed out waiting for $what"
}
kc() { KUBECONFIG=$WORK/kubeconfig kubectl "$@" >>"$WORK/kubectl.log" 2>&1; }

# Runs the test's run_suite on SQLite, then on a fresh PostgreSQL database of the server at
# GPUAAS_TEST_PG_URL (required in CI, else skipped with a note). DB_URL names the database.
run_on_both_backends() {
  DB_URL=sqlite://$WORK/gpuaas.db
  run_suite
  if [ -n "${GPUAAS_TEST_PG_URL:-}" ]; then
    PG_DB=gpuaas_${NAME}_$$
    psql -q -X "$GPUAAS_TEST_PG_URL" -c "CREATE DATABASE $PG_DB" >/dev/null
    DB_URL=${GPUAAS_TEST_PG_URL%/*}/$PG_DB
    run_suite
  elif [ "${CI:-}" = true ]; then
    echo "$NAME: GPUAAS_TEST_PG_URL is unset in CI"; exit 1
  else
    echo "$NAME: SKIP PostgreSQL run: GPUAAS_TEST_PG_URL is not set"
  fi
}

# Every Kubernetes API call the reconciler made (the double's --request-log FILE) is one its
# role grants: the list in src/kube/kube_calls.c (tests/it/kube_calls.sh checks the other
# direction).
check_kube_calls_subset() { # check_kube_calls_subset REQUEST_LOG
  "$BIN" deploy kube-calls --platform openshift >"$WORK/kube-calls.txt"
  python3 "$SRC/tests/lib/deploy_check.py" requests "$WORK/kube-calls.txt" "$1" --subset ||
    fail "the reconciler made Kubernetes API calls src/kube/kube_calls.c does not list"
}

# The reference node (config/gpuaas.example.yaml) as a `pool:` section, for the
# configurations the tests write.
reference_pool() {
  cat <<'POOL'
pool:
  nodes:
    - name: sno-1
      cpu: 127
      memory_gib: 754
      storage_gib: 3100
      gpus:
        - model: NVIDIA RTX PRO 6000 Blackwell Server Edition
          memory_gib: 96
          mig:
            1g.24gb: 4
        - model: NVIDIA RTX PRO 6000 Blackwell Server Edition
          memory_gib: 96
          whole: true
POOL
}

# Starts `gpuaas server --config CONFIG` on 127.0.0.1 and a port the kernel picks (the
# configuration's server.listen is overridden) with the first admin's password admin-secret-1,
# waits until it listens, sets PORT, BASE and ADMIN (an admin token).
start_server() { # start_server CONFIG
  rm -f "$WORK/server.port"
  GPUAAS_ADMIN_PASSWORD=admin-secret-1 "$BIN" server --config "$1" --listen 127.0.0.1:0 \
    --port-file "$WORK/server.port" >>"$WORK/server.log" 2>&1 &
  PIDS+=($!)
  wait_port PORT "$WORK/server.port" $! "the server"
  BASE=http://127.0.0.1:$PORT
  ADMIN=$(login admin admin-secret-1)
}
login() { # login USER PASSWORD: prints a token
  req POST /api/v1/auth/login "{\"username\":\"$1\",\"password\":\"$2\"}"
  expect 200 "login $1"
  jf .token
}
add_user() { # add_user NAME: creates NAME (password NAME-pass-123) as the admin, prints a token
  req POST /api/v1/users "{\"username\":\"$1\",\"password\":\"$1-pass-123\"}" "$ADMIN"
  expect 201 "create $1"
  login "$1" "$1-pass-123"
}
