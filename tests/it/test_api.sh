#!/usr/bin/env bash
# Black-box API test: runs the real `gpuaas server` on a free loopback port and exercises every
# route and error code of API.md over HTTP with curl, on SQLite and (when GPUAAS_TEST_PG_URL is
# set) on PostgreSQL. Fails on the first unexpected answer.
set -euo pipefail
BUILD=${GPUAAS_BUILD:-build}
SRC=${GPUAAS_SRC:-.}
BIN=$BUILD/gpuaas
[ -x "$BIN" ] || { echo "test_api: $BIN not built"; exit 1; }

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
  if [ -n "${PG_DB:-}" ]; then
    psql -q -X "$GPUAAS_TEST_PG_URL" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; echo "--- last body: $BODY"; echo "--- server log (tail):"; tail -20 "$WORK/server.err" 2>/dev/null || true; exit 1; }


# req METHOD PATH [BODY] [TOKEN] [CONTENT_TYPE]: sets STATUS, BODY and HEADERS. A request
# that changes something sends the content type even without a body (the server's CSRF rule);
# CONTENT_TYPE "" sends none. REQ_EXTRA (an array) adds curl arguments.
REQ_EXTRA=()
req() {
  local method=$1 path=$2 body=${3-} token=${4-} ctype=${5-application/json}
  local args=(-s -S -X "$method" -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' --max-time 10)
  args+=("${REQ_EXTRA[@]}")
  [ -n "$token" ] && args+=(-H "Authorization: Bearer $token")
  [ -n "${REQ_COOKIE-}" ] && args+=(-H "Cookie: $REQ_COOKIE")
  if [ -n "$body" ]; then
    [ -n "$ctype" ] && args+=(-H "Content-Type: $ctype")
    args+=(--data-binary "$body")
  elif [ -n "$ctype" ] && [ "$method" != GET ] && [ "$method" != HEAD ]; then
    args+=(-H "Content-Type: $ctype")
  fi
  STATUS=$(curl "${args[@]}" "$BASE$path") || STATUS=000
  BODY=$(cat "$WORK/body")
  HEADERS=$(cat "$WORK/headers")
  record "$method" "$path" "$body" "$([ -n "$body" ] && echo "$ctype")"
}
# record METHOD PATH BODY REQUEST_TYPE: keeps the exchange for the OpenAPI check (check_openapi).
record() {
  local x; x=$(mktemp "$WORK/exchanges/XXXXXX")
  { printf '%s\n%s\n%s\n%s\n' "$1" "$2" "$STATUS" "$4"
    grep -i '^Content-Type:' "$WORK/headers" | tail -1 | sed 's/^[^:]*: *//' | tr -d '\r'
  } >"$x.meta"
  printf '%s' "$3" >"$x.req"
  cp "$WORK/body" "$x.res"
  rm -f "$x"
}
# Every answer recorded so far against the served OpenAPI document: its status is declared and
# its body matches the schema; accepted request bodies match the requestBody schema.
check_openapi() {
  t "openapi schemas"
  python3 "$SRC/tests/lib/openapi_api_check.py" "$WORK/openapi.json" "$WORK/exchanges" ||
    fail "answers do not match /api/v1/openapi.json"
}
expect() { # expect STATUS [ERROR_CODE [FIELD]]
  [ "$STATUS" = "$1" ] || fail "$LAST: status $STATUS, want $1"
  if [ -n "${2-}" ]; then
    local code; code=$(jq -r '.error.code' <<<"$BODY")
    [ "$code" = "$2" ] || fail "$LAST: error code $code, want $2"
  fi
  if [ -n "${3-}" ]; then
    local field; field=$(jq -r '.error.field' <<<"$BODY")
    [ "$field" = "$3" ] || fail "$LAST: error field $field, want $3"
  fi
}
t() { LAST="$*"; }
jf() { jq -r "$1" <<<"$BODY"; }
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

db_exec() {
  case $DB_URL in
    sqlite:*) sqlite3 "${DB_URL#sqlite:}" "$1" ;;
    *) psql -q -X "$DB_URL" -c "$1" >/dev/null ;;
  esac
}

# Starts the server on a port the kernel picks (--listen 127.0.0.1:0); the server writes it to
# --port-file once it listens, and PORT and BASE are set from it.
start_server() {
  rm -f "$WORK/server.port"
  rm -rf "$WORK/web" "$WORK/exchanges"; mkdir -p "$WORK/web" "$WORK/exchanges"
  # The authenticating proxy is 127.0.0.2 (curl --interface); the tests' own requests come
  # from 127.0.0.1, an ordinary client.
  printf 'prometheus-scrape-token-%s\n' "$RANDOM$RANDOM" >"$WORK/metrics-token"
  sed -e "s|^\(\s*listen:\).*|\1 127.0.0.1:0\n  trusted_header: X-Remote-User\n  trusted_sources: 127.0.0.2\n  trusted_groups_header: X-Remote-Groups\n  max_connections_per_client: 40\n  metrics_token_file: $WORK/metrics-token|" \
    -e "s|^\(\s*web_root:\).*|\1 $WORK/web|" \
    -e "s|^auth:|auth:\n  sso_auto_create_group: gpu-users|" \
    -e "s|^\(\s*request_timeout_seconds:\).*|\1 5|" \
    "$SRC/config/gpuaas.example.yaml" >"$WORK/gpuaas.yaml"
  grep -q 'sso_auto_create_group' "$WORK/gpuaas.yaml" || printf 'auth:\n  sso_auto_create_group: gpu-users\n' >>"$WORK/gpuaas.yaml"
  GPUAAS_ADMIN_PASSWORD=admin-secret-1 "$BIN" server --config "$WORK/gpuaas.yaml" \
    --database "$DB_URL" --port-file "$WORK/server.port" >"$WORK/server.out" 2>"$WORK/server.err" &
  SERVER_PID=$!
  # a start takes well under a second on an idle machine; 50 s of wall-clock time only bounds
  # how long a broken start takes to fail
  local end=$((SECONDS + 50))
  until [ -s "$WORK/server.port" ]; do
    kill -0 "$SERVER_PID" 2>/dev/null || fail "server exited before it listened"
    [ "$SECONDS" -lt "$end" ] || fail "server did not start"
    sleep 0.1
  done
  PORT=$(cat "$WORK/server.port")
  BASE=http://127.0.0.1:$PORT
}

login() { # login USER PASSWORD -> prints token
  req POST /api/v1/auth/login "{\"username\":\"$1\",\"password\":\"$2\"}"
  [ "$STATUS" = 200 ] || fail "login $1: status $STATUS"
  jf .token
}

# proxy_get PATH USER [GROUPS]: GET through the authenticating proxy (127.0.0.2).
proxy_get() {
  local args=(-s --interface 127.0.0.2 -o "$WORK/body" -w '%{http_code}' -H "X-Remote-User: $2")
  [ -n "${3-}" ] && args+=(-H "X-Remote-Groups: $3")
  STATUS=$(curl "${args[@]}" "$BASE$1") || STATUS=000
  BODY=$(cat "$WORK/body")
}

user_id() { # user_id NAME -> prints the id
  req GET /api/v1/users "" "$ADMIN"
  jq -r --arg n "$1" '.items[] | select(.username == $n) | .id' <<<"$BODY"
}

# Issue 14 findings 12-17, each tried as the attacker would (docs/security.md lists them).
security_attacks() {
  local now; now=$(date +%s)
  local h=$(( (now / 3600 + 30) * 3600 ))
  req POST /api/v1/users '{"username":"mallory","password":"mallory-pass-1"}' "$ADMIN"; expect 201
  local mal_id; mal_id=$(jf .id)
  local MAL; MAL=$(login mallory mallory-pass-1)

  # 12 CSRF: a cross-site form or a bodyless fetch without JSON content type changes nothing
  req POST /api/v1/reservations "{\"gpu_type\":\"nvidia.com/gpu\",\"gpu_count\":1,\"starts_at\":\"$(iso $h)\",\"ends_at\":\"$(iso $((h + 3600)))\"}" "$MAL"; expect 201
  local rm1; rm1=$(jf .id)
  t "csrf: cancel without content type"; req POST "/api/v1/reservations/$rm1/cancel" "" "$MAL" ""; expect 415 unsupported_media_type
  t "csrf: cancel as a form post"; req POST "/api/v1/reservations/$rm1/cancel" "a=1" "$MAL" application/x-www-form-urlencoded; expect 415
  t "csrf: token delete as text/plain"; req DELETE "/api/v1/tokens/1" "" "$MAL" text/plain; expect 415
  req GET "/api/v1/reservations/$rm1" "" "$MAL"; expect 200
  [ "$(jf .state)" = APPROVED ] || fail "a refused CSRF request canceled the booking"
  t "csrf: X-Requested-With passes"; REQ_EXTRA=(-H "X-Requested-With: gpuaas"); req POST "/api/v1/reservations/$rm1/cancel" "" "$MAL" ""; REQ_EXTRA=(); expect 200

  # 17 HSTS on every answer
  grep -qi '^Strict-Transport-Security: max-age=31536000' <<<"$HEADERS" || fail "no HSTS header"

  # 14 a token cannot mint a longer-lived one; the configured ceiling holds
  req POST /api/v1/tokens '{"name":"short","ttl_seconds":600}' "$MAL"; expect 201
  local short; short=$(jf .token)
  t "token outliving its parent"; req POST /api/v1/tokens '{"name":"long","ttl_seconds":31536000}' "$short"; expect 400 invalid ttl_seconds
  t "token named like a sign-in"; req POST /api/v1/tokens '{"name":"login","ttl_seconds":600}' "$short"; expect 400 invalid name
  t "token beyond the ceiling"; req POST /api/v1/tokens '{"name":"long","ttl_seconds":31622400}' "$MAL"; expect 400 invalid ttl_seconds
  req POST /api/v1/tokens '{"name":"ci","ttl_seconds":86400}' "$MAL"; expect 201
  local ci ci_id; ci=$(jf .token); ci_id=$(jf .id)
  # 14 admins list and revoke other users' tokens
  t "admin lists a user's tokens"; req GET "/api/v1/users/$mal_id/tokens" "" "$ADMIN"; expect 200
  jq -e --argjson i "$ci_id" '.items[] | select(.id == $i)' <<<"$BODY" >/dev/null || fail "admin does not see the token"
  grep -q 'gpa_' <<<"$BODY" && fail "token list shows secrets"
  t "user lists another's tokens"; req GET "/api/v1/users/$mal_id/tokens" "" "$ALICE"; expect 403
  t "admin revokes a user's token"; req DELETE "/api/v1/tokens/$ci_id" "" "$ADMIN"; expect 204
  t "revoked token"; req GET /api/v1/me "" "$ci"; expect 401
  # 14 logout revokes the token server-side
  req POST /api/v1/auth/login '{"username":"mallory","password":"mallory-pass-1"}'; expect 200
  local browser; browser=$(jf .token)
  t "logout"; req POST /api/v1/auth/logout "" "$browser"; expect 204
  t "token after logout"; req GET /api/v1/me "" "$browser"; expect 401
  # 14 a password reset revokes every token
  t "reset password"; req PATCH "/api/v1/users/$mal_id" '{"password":"mallory-pass-2"}' "$ADMIN"; expect 200
  t "old token after reset"; req GET /api/v1/me "" "$MAL"; expect 401
  t "short token after reset"; req GET /api/v1/me "" "$short"; expect 401
  MAL=$(login mallory mallory-pass-2)
  # 14 disabling stops the user's bookings and sessions
  req POST /api/v1/reservations "{\"gpu_type\":\"nvidia.com/gpu\",\"gpu_count\":1,\"starts_at\":\"$(iso $((h + 7200)))\",\"ends_at\":\"$(iso $((h + 10800)))\"}" "$MAL"; expect 201
  local rm2; rm2=$(jf .id)
  req POST /api/v1/reservations "{\"gpu_type\":\"nvidia.com/gpu\",\"gpu_count\":1,\"starts_at\":\"$(iso $((h + 14400)))\",\"ends_at\":\"$(iso $((h + 18000)))\"}" "$MAL"; expect 201
  local rm3; rm3=$(jf .id)
  db_exec "UPDATE reservations SET state = 'ACTIVE' WHERE id = $rm3"  # as the reconciler would
  t "disable mallory"; req PATCH "/api/v1/users/$mal_id" '{"disabled":true}' "$ADMIN"; expect 200
  t "disabled user's token"; req GET /api/v1/me "" "$MAL"; expect 401
  for r in $rm2 $rm3; do
    req GET "/api/v1/reservations/$r" "" "$ADMIN"; expect 200
    [ "$(jf .state)" = CANCELED ] || fail "booking $r of a disabled user is $(jf .state)"
  done
  req GET "/api/v1/audit?limit=50" "" "$ADMIN"; expect 200
  [ "$(jq '[.items[] | select(.detail=="owner disabled")] | length' <<<"$BODY")" = 2 ] || fail "no audit of the canceled bookings"

  # 15 SSO: only linked accounts; auto-created only for the configured group
  t "sso unlinked local account"; proxy_get /api/v1/me alice; expect 401
  t "sso link alice"; req PATCH "/api/v1/users/$(user_id alice)" '{"sso":true}' "$ADMIN"; expect 200
  [ "$(jf .sso)" = true ] || fail "sso flag"
  t "sso linked"; proxy_get /api/v1/me alice; expect 200
  [ "$(jf .username)" = alice ] || fail "sso user"
  t "sso unknown, no group"; proxy_get /api/v1/me newcomer other-group; expect 401
  t "sso unknown, allowed group"; proxy_get /api/v1/me newcomer "staff, gpu-users"; expect 200
  [ "$(jf .role)" = user ] || fail "an auto-created SSO account must be a user"
  t "sso name of the bootstrap admin, allowed group"; proxy_get /api/v1/me admin gpu-users; expect 401
  t "sso spoofed from a tenant pod (untrusted address)"; STATUS=$(curl -s -o "$WORK/body" -w '%{http_code}' -H 'X-Remote-User: alice' "$BASE/api/v1/me"); expect 401

  # 13 login throttling: the real client address behind the proxy, never a global lock-out
  local i
  for i in $(seq 1 12); do
    REQ_EXTRA=(--interface 127.0.0.2 -H "X-Forwarded-For: 198.51.100.$i")
    req POST /api/v1/auth/login '{"username":"admin","password":"guess-guess"}'; expect 401
  done
  REQ_EXTRA=(--interface 127.0.0.2 -H "X-Forwarded-For: 203.0.113.7")
  t "admin logs in while others guess its password"; req POST /api/v1/auth/login '{"username":"admin","password":"admin-secret-1"}'; expect 200
  for i in 1 2 3 4 5 6; do
    REQ_EXTRA=(--interface 127.0.0.2 -H "X-Forwarded-For: 198.51.100.200")
    req POST /api/v1/auth/login '{"username":"alice","password":"guess-guess"}'
    [ "$STATUS" = 429 ] && break
  done
  t "one guessing address is throttled"; expect 429 rate_limited
  REQ_EXTRA=(--interface 127.0.0.2 -H "X-Forwarded-For: 198.51.100.201, 198.51.100.200")
  t "a client cannot escape by prepending an address"; req POST /api/v1/auth/login '{"username":"alice","password":"alice-pass-1"}'; expect 429
  REQ_EXTRA=(--interface 127.0.0.2 -H "X-Forwarded-For: 203.0.113.8")
  t "alice from her own address"; req POST /api/v1/auth/login '{"username":"alice","password":"alice-pass-1"}'; expect 200
  REQ_EXTRA=()

  # 17 /metrics: the scrape token or an admin, nobody else
  t "metrics anonymous"; req GET /metrics; expect 401
  t "metrics as user"; req GET /metrics "" "$ALICE"; expect 403
  t "metrics with the scrape token"; req GET /metrics "" "$(cat "$WORK/metrics-token")"; expect 200
  grep -q '^gpuaas_bookings' <<<"$BODY" || fail "metrics body"

  # 16 connections per client: one address cannot take every connection; the proxy can
  local fds=() fd
  for i in $(seq 1 40); do exec {fd}<>"/dev/tcp/127.0.0.1/$PORT"; fds+=("$fd"); done
  # bound: the accept policy sees all 40 as soon as the server's listen thread has taken
  # them; 5 s is far beyond that on a loaded 2-core machine
  local refused=0
  for _ in $(seq 50); do
    STATUS=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE/healthz") || STATUS=000
    [ "$STATUS" = 000 ] && { refused=1; break; }
    sleep 0.1
  done
  [ "$refused" = 1 ] || fail "a 41st connection from one client was accepted"
  t "the proxy still gets in"; STATUS=$(curl -s --interface 127.0.0.2 -o /dev/null -w '%{http_code}' --max-time 5 "$BASE/healthz"); expect 200
  for fd in "${fds[@]}"; do exec {fd}>&-; done
  local back=0
  for _ in $(seq 50); do
    STATUS=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE/healthz") || STATUS=000
    [ "$STATUS" = 200 ] && { back=1; break; }
    sleep 0.1
  done
  [ "$back" = 1 ] || fail "connections of a client are not released when closed"
  # 16 a request body that trickles in is cut off after request_timeout_seconds (5 s here)
  local took
  took=$(python3 - "$PORT" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 60\r\n\r\n")
t0 = time.time()
try:
    for _ in range(60):
        s.sendall(b" ")
        time.sleep(0.5)
        s.settimeout(0.01)
        try:
            if s.recv(1) == b"":
                break
        except socket.timeout:
            pass
        s.settimeout(None)
except OSError:
    pass
print(int(time.time() - t0))
PY
)
  [ "$took" -lt 25 ] || fail "a trickling body held the connection for ${took}s"
}

run_suite() {
  echo "test_api: backend $DB_URL"
  start_server
  local now; now=$(date +%s)
  local h=$(( (now / 3600 + 2) * 3600 ))   # a whole hour at least one hour ahead

  t healthz; req GET /healthz; expect 200
  t readyz; req GET /readyz; expect 200
  t openapi; req GET /api/v1/openapi.json; expect 200
  for p in /api/v1/auth/login /api/v1/reservations/{id}/extend /api/v1/utilization /api/v1/tokens/{id}; do
    jq -e --arg p "$p" '.paths[$p]' <<<"$BODY" >/dev/null || fail "openapi lacks $p"
  done
  printf '%s' "$BODY" >"$WORK/openapi.json"
  # the 201 of a create, the 204 of a delete, an admin-only route's 403 as the document says
  [ "$(jq -r '.paths["/api/v1/reservations"].post.responses | has("201") and (has("200") | not)' <<<"$BODY")" = true ] ||
    fail "openapi: POST /api/v1/reservations does not answer 201"
  [ "$(jq -r '.paths["/api/v1/tokens/{id}"].delete.responses | has("204")' <<<"$BODY")" = true ] ||
    fail "openapi: DELETE /api/v1/tokens/{id} does not answer 204"
  [ "$(jq -r '.paths["/api/v1/audit"].get | (.responses | has("403")) and .["x-required-role"] == "admin"' <<<"$BODY")" = true ] ||
    fail "openapi: GET /api/v1/audit is not admin-only"
  [ "$(jq -c '.paths["/api/v1/auth/login"].post.security' <<<"$BODY")" = '[]' ] ||
    fail "openapi: login needs no token"

  # authentication
  t "login wrong password"; req POST /api/v1/auth/login '{"username":"admin","password":"nope-nope"}'; expect 401 unauthenticated
  local wrong=$BODY
  t "login unknown user"; req POST /api/v1/auth/login '{"username":"ghost","password":"nope-nope"}'; expect 401 unauthenticated
  [ "$wrong" = "$BODY" ] || fail "401 bodies differ for unknown user and wrong password"
  t "login unknown field"; req POST /api/v1/auth/login '{"username":"a","password":"b","x":1}'; expect 400 invalid x
  ADMIN=$(login admin admin-secret-1)
  t "no token"; req GET /api/v1/me; expect 401 unauthenticated
  # finding 15: a proxy identity never takes over a local account (the bootstrap admin)
  t "trusted header, local account"; STATUS=$(curl -s --interface 127.0.0.2 -o "$WORK/body" -w '%{http_code}' -H 'X-Remote-User: admin' "$BASE/api/v1/me"); BODY=$(cat "$WORK/body"); expect 401
  t "trusted header unknown user"; STATUS=$(curl -s --interface 127.0.0.2 -o "$WORK/body" -w '%{http_code}' -H 'X-Remote-User: ghost' "$BASE/api/v1/me"); BODY=$(cat "$WORK/body"); expect 401
  t "trusted header from an untrusted address"; STATUS=$(curl -s -o "$WORK/body" -w '%{http_code}' -H 'X-Remote-User: admin' "$BASE/api/v1/me"); BODY=$(cat "$WORK/body"); expect 401
  t "bad token"; req GET /api/v1/me "" "gpa_1_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"; expect 401 unauthenticated
  t me; req GET /api/v1/me "" "$ADMIN"; expect 200
  [ "$(jf .role)" = admin ] || fail "admin role"

  # users (admin)
  t "create alice"; req POST /api/v1/users '{"username":"alice","password":"alice-pass-1"}' "$ADMIN"; expect 201
  t "create bob"; req POST /api/v1/users '{"username":"bob","password":"bob-pass-12","role":"user"}' "$ADMIN"; expect 201
  local bob_id; bob_id=$(jf .id)
  t "duplicate user"; req POST /api/v1/users '{"username":"bob","password":"bob-pass-12"}' "$ADMIN"; expect 409 already_exists
  t "bad role"; req POST /api/v1/users '{"username":"carl","password":"carl-pass-1","role":"root"}' "$ADMIN"; expect 400 invalid role
  t "short password"; req POST /api/v1/users '{"username":"carl","password":"x"}' "$ADMIN"; expect 400 invalid password
  t "list users"; req GET /api/v1/users "" "$ADMIN"; expect 200
  [ "$(jf '.items | length')" = 3 ] || fail "3 users"
  ALICE=$(login alice alice-pass-1)
  BOB=$(login bob bob-pass-12)
  t "user on admin route"; req GET /api/v1/users "" "$ALICE"; expect 403 forbidden
  t "user creates user"; req POST /api/v1/users '{"username":"eve","password":"eve-pass-12"}' "$ALICE"; expect 403 forbidden
  t "user audit"; req GET /api/v1/audit "" "$ALICE"; expect 403 forbidden
  t "user utilization"; req GET "/api/v1/utilization?from=$(iso $now)&to=$(iso $((now+86400)))" "" "$ALICE"; expect 200
  [ "$(jf 'has("resources")')" = false ] || fail "a user sees the per-resource utilization"

  # tokens
  t "token create"; req POST /api/v1/tokens '{"name":"ci","ttl_seconds":3600}' "$ALICE"; expect 201
  local tok_id tok; tok_id=$(jf .id); tok=$(jf .token)
  t "token works"; req GET /api/v1/me "" "$tok"; expect 200
  [ "$(jf .username)" = alice ] || fail "token user"
  t "token bad ttl"; req POST /api/v1/tokens '{"name":"ci","ttl_seconds":"long"}' "$ALICE"; expect 400 invalid ttl_seconds
  t "token list"; req GET /api/v1/tokens "" "$ALICE"; expect 200
  jq -e '.items[0].token' <<<"$BODY" >/dev/null && fail "token list shows secrets"
  t "token delete by other"; req DELETE "/api/v1/tokens/$tok_id" "" "$BOB"; expect 404 not_found
  t "token delete with a body"; req DELETE "/api/v1/tokens/$tok_id" '{"force":true}' "$ALICE"; expect 400 invalid force
  t "token delete"; req DELETE "/api/v1/tokens/$tok_id" "" "$ALICE"; expect 204
  t "deleted token"; req GET /api/v1/me "" "$tok"; expect 401 unauthenticated

  # pool, capacity, availability
  t pool; req GET /api/v1/pool "" "$ALICE"; expect 200
  [ "$(jf '.resources[] | select(.name=="nvidia.com/mig-1g.24gb") | .slots')" = 8 ] || fail "mig slots"
  [ "$(jf '.nodes[0].gpus | length')" = 2 ] || fail "pool nodes"
  # the isolation each GPU resource gives (issue 14 finding 9): replicas > 1 is time-sliced
  [ "$(jf '.resources[] | select(.name=="nvidia.com/gpu") | .isolation')" = time-sliced ] || fail "pool isolation (gpu)"
  [ "$(jf '.resources[] | select(.name=="nvidia.com/mig-1g.24gb") | .isolation')" = time-sliced ] || fail "pool isolation (mig)"
  [ "$(jf '.resources[] | select(.name=="cpu") | has("isolation")')" = false ] || fail "pool isolation on cpu"
  [ "$(jf '.resources[] | select(.name=="nvidia.com/gpu") | .turnaround_seconds')" = 0 ] || fail "pool turnaround"
  [ "$(jf '.resources[] | select(.name=="cpu") | .max_per_node')" = "$(jf '.resources[] | select(.name=="cpu") | .physical')" ] || fail "pool max_per_node (one node: all of it)"
  # the booking rules and defaults the form shows come from config session.* (example file)
  [ "$(jq -c .session <<<"$BODY")" = '{"cpu":8,"memory_gib":64,"storage_gib":600,"max_gpus":4,"max_hours":168,"max_advance_days":365,"start_grace_seconds":300,"ephemeral_gib":50,"turnaround_seconds":0}' ] ||
    fail "pool session rules: $(jq -c .session <<<"$BODY")"
  [ "$(jf .cluster.simulated)" = false ] || fail "pool cluster.simulated on a configuration without it"
  t capacity; req GET "/api/v1/capacity?from=$(iso $h)&to=$(iso $((h+7200)))&step=3600" "" "$ALICE"; expect 200
  [ "$(jf '.series[] | select(.resource=="nvidia.com/gpu") | .free | length')" = 2 ] || fail "capacity steps"
  t "capacity bad step"; req GET "/api/v1/capacity?from=$(iso $h)&to=$(iso $((h+86400*300)))&step=60" "" "$ALICE"; expect 400 invalid step
  t "capacity bad from"; req GET "/api/v1/capacity?from=yesterday&to=$(iso $h)" "" "$ALICE"; expect 400 invalid from
  t "capacity unknown param"; req GET "/api/v1/capacity?from=$(iso $h)&to=$(iso $((h+3600)))&foo=1" "" "$ALICE"; expect 400 invalid foo

  # reservations
  local s1 e1; s1=$(iso $h); e1=$(iso $((h+7200)))
  t "reserve"; req POST /api/v1/reservations "{\"gpu_type\":\"nvidia.com/gpu\",\"gpu_count\":1,\"mode\":\"inference\",\"starts_at\":\"$s1\",\"ends_at\":\"$e1\",\"purpose\":\"secret plan\"}" "$ALICE"; expect 201
  local r1; r1=$(jf .id)
  [ "$(jf .state)" = APPROVED ] && [ "$(jf .cpu)" = 8 ] && [ "$(jf .mode)" = inference ] || fail "reservation fields"
  t "conflict"; req POST /api/v1/reservations "{\"gpu_type\":\"nvidia.com/gpu\",\"gpu_count\":1,\"starts_at\":\"$s1\",\"ends_at\":\"$(iso $((h+3600)))\"}" "$BOB"; expect 409 capacity_conflict
  [ "$(jf .error.next_available.starts_at)" = "$e1" ] || fail "next_available $(jf .error.next_available.starts_at) want $e1"
  t "availability"; req GET "/api/v1/availability?gpu_type=nvidia.com/gpu&gpu_count=1&duration_seconds=3600&after=$s1" "" "$BOB"; expect 200
  [ "$(jf .starts_at)" = "$e1" ] || fail "availability $(jf .starts_at)"
  # find a slot: the next 3 one-hour windows after s1 that do not overlap one another
  t "availability windows"; req GET "/api/v1/availability?gpu_type=nvidia.com/gpu&gpu_count=1&duration_seconds=3600&after=$s1&count=3" "" "$BOB"; expect 200
  [ "$(jq -c '[.windows[].starts_at]' <<<"$BODY")" = "[\"$e1\",\"$(iso $((h+10800)))\",\"$(iso $((h+14400)))\"]" ] ||
    fail "availability windows $(jq -c .windows <<<"$BODY")"
  [ "$(jf .starts_at)" = "$e1" ] || fail "availability first window"
  t "availability latest_end"; req GET "/api/v1/availability?gpu_type=nvidia.com/gpu&duration_seconds=3600&after=$s1&count=5&latest_end=$(iso $((h+10800)))" "" "$BOB"; expect 200
  [ "$(jf '.windows | length')" = 1 ] || fail "latest_end bounds the windows: $(jq -c .windows <<<"$BODY")"
  t "availability no room"; req GET "/api/v1/availability?gpu_type=nvidia.com/gpu&duration_seconds=3600&after=$s1&latest_end=$s1" "" "$BOB"; expect 400 invalid latest_end
  t "availability nothing before latest_end"; req GET "/api/v1/availability?gpu_type=nvidia.com/gpu&duration_seconds=3600&after=$s1&latest_end=$(iso $((h+5400)))" "" "$BOB"; expect 404 not_found
  t "availability count 0"; req GET "/api/v1/availability?gpu_type=nvidia.com/gpu&duration_seconds=3600&count=0" "" "$BOB"; expect 400 invalid count
  t "availability unknown type"; req GET "/api/v1/availability?gpu_type=tpu&duration_seconds=3600" "" "$BOB"; expect 400 invalid gpu_type
  local base="\"gpu_type\":\"nvidia.com/mig-1g.24gb\",\"gpu_count\":2"
  t "end before start"; req POST /api/v1/reservations "{$base,\"starts_at\":\"$e1\",\"ends_at\":\"$s1\"}" "$BOB"; expect 400 invalid ends_at
  t "in the past"; req POST /api/v1/reservations "{$base,\"starts_at\":\"$(iso $((now-86400)))\",\"ends_at\":\"$(iso $((now+3600)))\"}" "$BOB"; expect 400 invalid starts_at
  t "too long"; req POST /api/v1/reservations "{$base,\"starts_at\":\"$s1\",\"ends_at\":\"$(iso $((h+86400*30)))\"}" "$BOB"; expect 400 invalid ends_at
  t "unknown gpu"; req POST /api/v1/reservations "{\"gpu_type\":\"nvidia.com/h100\",\"gpu_count\":1,\"starts_at\":\"$s1\",\"ends_at\":\"$e1\"}" "$BOB"; expect 400 invalid gpu_type
  t "count 0"; req POST /api/v1/reservations "{\"gpu_type\":\"nvidia.com/gpu\",\"gpu_count\":0,\"starts_at\":\"$s1\",\"ends_at\":\"$e1\"}" "$BOB"; expect 400 invalid gpu_count
  t "count too high"; req POST /api/v1/reservations "{\"gpu_type\":\"nvidia.com/mig-1g.24gb\",\"gpu_count\":5,\"starts_at\":\"$s1\",\"ends_at\":\"$e1\"}" "$BOB"; expect 400 invalid gpu_count
  t "bad mode"; req POST /api/v1/reservations "{$base,\"mode\":\"batch\",\"starts_at\":\"$s1\",\"ends_at\":\"$e1\"}" "$BOB"; expect 400 invalid mode
  t "unknown field"; req POST /api/v1/reservations "{$base,\"starts_at\":\"$s1\",\"ends_at\":\"$e1\",\"priority\":9}" "$BOB"; expect 400 invalid priority
  t "wrong type"; req POST /api/v1/reservations "{\"gpu_type\":\"nvidia.com/gpu\",\"gpu_count\":\"1\",\"starts_at\":\"$s1\",\"ends_at\":\"$e1\"}" "$BOB"; expect 400 invalid gpu_count
  t "missing field"; req POST /api/v1/reservations "{\"gpu_type\":\"nvidia.com/gpu\",\"gpu_count\":1,\"starts_at\":\"$s1\"}" "$BOB"; expect 400 invalid ends_at
  t "malformed"; req POST /api/v1/reservations '{"gpu_type": "nvidia.com/gpu", ' "$BOB"; expect 400 invalid body
  # what the session plan would refuse at the start is refused at booking, naming the minimum
  t "storage below the mounted volumes"; req POST /api/v1/reservations "{$base,\"storage_gib\":1,\"starts_at\":\"$s1\",\"ends_at\":\"$e1\"}" "$BOB"; expect 400 invalid storage_gib
  jf .error.message | grep -q "storage_gib must be at least 320" || fail "$LAST: message $(jf .error.message)"
  t "not an object"; req POST /api/v1/reservations '[1,2]' "$BOB"; expect 400 invalid body
  t "415"; req POST /api/v1/reservations "{$base}" "$BOB" text/plain; expect 415
  head -c 70000 /dev/zero | tr '\0' 'a' >"$WORK/big"
  t "413"; req POST /api/v1/reservations "@$WORK/big" "$BOB"; expect 413 too_large
  t "mig reserve"; req POST /api/v1/reservations "{$base,\"starts_at\":\"$s1\",\"ends_at\":\"$e1\"}" "$BOB"; expect 201
  local r2; r2=$(jf .id)

  # visibility and cross-tenant attempts
  t "list own"; req GET /api/v1/reservations "" "$ALICE"; expect 200
  [ "$(jf '.items | length')" = 1 ] || fail "alice sees only her booking"
  t "list admin"; req GET /api/v1/reservations "" "$ADMIN"; expect 200
  [ "$(jf '.items | length')" = 2 ] || fail "admin sees all"
  t "list admin by user"; req GET "/api/v1/reservations?user=bob&state=APPROVED" "" "$ADMIN"; expect 200
  [ "$(jf '.items | length')" = 1 ] || fail "admin filter by user"
  t "list bad state"; req GET "/api/v1/reservations?state=DONE" "" "$ADMIN"; expect 400 invalid state
  # cursor paging: one row per page walks every booking once, in start order, then stops
  t "page 1"; req GET "/api/v1/reservations?limit=1" "" "$ADMIN"; expect 200
  [ "$(jf '.items | length')" = 1 ] && [ "$(jf .items[0].id)" = "$r1" ] || fail "first page holds the earliest booking"
  local cur; cur=$(jf .next_cursor)
  [ "$cur" != null ] || fail "a full page has a next_cursor"
  t "page 2"; req GET "/api/v1/reservations?limit=1&cursor=$cur" "" "$ADMIN"; expect 200
  [ "$(jf .items[0].id)" = "$r2" ] || fail "second page: $(jq -c '[.items[].id]' <<<"$BODY")"
  cur=$(jf .next_cursor)
  t "page 3"; req GET "/api/v1/reservations?limit=1&cursor=$cur" "" "$ADMIN"; expect 200
  [ "$(jf '.items | length')" = 0 ] && [ "$(jf .next_cursor)" = null ] || fail "past the last page: $BODY"
  t "page not full"; req GET "/api/v1/reservations?limit=5" "" "$ADMIN"; expect 200
  [ "$(jf .next_cursor)" = null ] || fail "a page that is not full has no next_cursor"
  t "bad cursor"; req GET "/api/v1/reservations?cursor=12" "" "$ADMIN"; expect 400 invalid cursor
  t "bad cursor text"; req GET "/api/v1/reservations?cursor=1.x" "" "$ADMIN"; expect 400 invalid cursor
  t "get own"; req GET "/api/v1/reservations/$r1" "" "$ALICE"; expect 200
  t "get other"; req GET "/api/v1/reservations/$r1" "" "$BOB"; expect 404 not_found
  t "cancel other"; req POST "/api/v1/reservations/$r1/cancel" "" "$BOB"; expect 404 not_found
  t "extend other"; req POST "/api/v1/reservations/$r1/extend" "{\"ends_at\":\"$(iso $((h+10800)))\"}" "$BOB"; expect 404 not_found
  t "release other"; req POST "/api/v1/reservations/$r1/release" "" "$BOB"; expect 404 not_found
  t "get missing"; req GET "/api/v1/reservations/999999" "" "$ADMIN"; expect 404 not_found
  t "calendar"; req GET "/api/v1/calendar?from=$(iso $now)&to=$(iso $((h+86400)))" "" "$BOB"; expect 200
  [ "$(jf '.items | length')" = 2 ] || fail "calendar shows both blocks"
  [ "$(jf '.items[] | select(.mine==false) | has("user") or has("purpose") or has("id")')" = false ] || fail "calendar leaks details"
  grep -q "secret plan" <<<"$BODY" && fail "calendar leaks purpose"

  # an admin moves, shortens and reassigns a booking, with a reason the owner reads
  t "change by user"; req POST "/api/v1/reservations/$r2/change" "{\"ends_at\":\"$(iso $((h+3600)))\",\"reason\":\"mine now\"}" "$BOB"; expect 403 forbidden
  t "change without reason"; req POST "/api/v1/reservations/$r2/change" "{\"ends_at\":\"$(iso $((h+3600)))\"}" "$ADMIN"; expect 400 invalid reason
  t "change nothing"; req POST "/api/v1/reservations/$r2/change" '{"reason":"because"}' "$ADMIN"; expect 400 invalid body
  t "change missing"; req POST "/api/v1/reservations/999999/change" '{"reason":"because","ends_at":"2030-01-01T00:00:00Z"}' "$ADMIN"; expect 404 not_found
  t "change unknown user"; req POST "/api/v1/reservations/$r2/change" '{"reason":"because","user":"ghost"}' "$ADMIN"; expect 400 invalid user
  t "change into the past"; req POST "/api/v1/reservations/$r2/change" "{\"reason\":\"because\",\"starts_at\":\"$(iso $((now-86400)))\"}" "$ADMIN"; expect 400 invalid starts_at
  # bob's 2 MIG slices moved onto a window where 3 of the 4 are taken: refused by admission
  t "blocker"; req POST /api/v1/reservations "{\"gpu_type\":\"nvidia.com/mig-1g.24gb\",\"gpu_count\":3,\"starts_at\":\"$(iso $((h+86400)))\",\"ends_at\":\"$(iso $((h+86400+7200)))\"}" "$ALICE"; expect 201
  local blk; blk=$(jf .id)
  t "change conflict"; req POST "/api/v1/reservations/$r2/change" "{\"reason\":\"make room\",\"starts_at\":\"$(iso $((h+86400)))\"}" "$ADMIN"; expect 409 capacity_conflict
  t "change move"; req POST "/api/v1/reservations/$r2/change" "{\"reason\":\"maintenance on the node that morning\",\"starts_at\":\"$(iso $((h+86400+7200)))\"}" "$ADMIN"; expect 200
  [ "$(jf .starts_at)" = "$(iso $((h+86400+7200)))" ] && [ "$(jf .ends_at)" = "$(iso $((h+86400+14400)))" ] ||
    fail "a move keeps the length: $(jf .starts_at) $(jf .ends_at)"
  t "change reassign and shorten"; req POST "/api/v1/reservations/$r2/change" "{\"reason\":\"bob left the team; alice takes over\",\"user\":\"alice\",\"ends_at\":\"$(iso $((h+86400+10800)))\"}" "$ADMIN"; expect 200
  [ "$(jf .user)" = alice ] && [ "$(jf .ends_at)" = "$(iso $((h+86400+10800)))" ] || fail "reassigned and shortened: $BODY"
  t "owner reads the reason"; req GET "/api/v1/reservations/$r2" "" "$ALICE"; expect 200
  [ "$(jf .admin_note)" = "bob left the team; alice takes over" ] || fail "admin_note: $(jf .admin_note)"
  t "former owner"; req GET "/api/v1/reservations/$r2" "" "$BOB"; expect 404 not_found
  t "change trail"; req GET "/api/v1/audit?target=reservation/$r2&action=reservation." "" "$ADMIN"; expect 200
  [ "$(jf '[.items[] | select(.action=="reservation.change")] | length')" = 2 ] || fail "two changes audited: $BODY"
  [ "$(jq -c '[.items[].target] | unique' <<<"$BODY")" = "[\"reservation/$r2\"]" ] || fail "target filter"
  grep -q "bob left the team" <<<"$BODY" || fail "the reason is in the audit detail"
  t "back to bob"; req POST "/api/v1/reservations/$r2/change" "{\"reason\":\"undo for the rest of the test\",\"user\":\"bob\",\"starts_at\":\"$s1\",\"ends_at\":\"$e1\"}" "$ADMIN"; expect 200
  t "blocker cancel"; req POST "/api/v1/reservations/$blk/cancel" "" "$ALICE"; expect 200

  # extend, release, cancel
  t "extend"; req POST "/api/v1/reservations/$r1/extend" "{\"ends_at\":\"$(iso $((h+10800)))\"}" "$ALICE"; expect 200
  [ "$(jf .ends_at)" = "$(iso $((h+10800)))" ] || fail "extended end"
  t "extend bad"; req POST "/api/v1/reservations/$r1/extend" '{"ends_at":"soon"}' "$ALICE"; expect 400 invalid ends_at
  t "extend fraction"; req POST "/api/v1/reservations/$r1/extend" "{\"ends_at\":\"$(iso $((h+10800)) | sed 's/Z$/.5Z/')\"}" "$ALICE"; expect 400 invalid ends_at
  jf .error.message | grep -q "whole second" || fail "fraction explained"
  t "extend zero fraction"; req POST "/api/v1/reservations/$r1/extend" "{\"ends_at\":\"$(iso $((h+10800)) | sed 's/Z$/.000Z/')\"}" "$ALICE"; expect 200
  t "reserve after"; req POST /api/v1/reservations "{\"gpu_type\":\"nvidia.com/gpu\",\"gpu_count\":1,\"starts_at\":\"$(iso $((h+10800)))\",\"ends_at\":\"$(iso $((h+14400)))\"}" "$BOB"; expect 201
  t "extend conflict"; req POST "/api/v1/reservations/$r1/extend" "{\"ends_at\":\"$(iso $((h+14400)))\"}" "$ALICE"; expect 409 capacity_conflict
  t "release approved"; req POST "/api/v1/reservations/$r1/release" "" "$ALICE"; expect 409 invalid_state
  db_exec "UPDATE reservations SET state='ACTIVE', starts_at=$((now-600)) WHERE id=$r2"
  # workspace sign-in (tests/it/gate.sh runs it through a real nginx): the answers as served
  t "ticket approved"; req POST "/api/v1/reservations/$r1/workspace-ticket" "" "$ALICE"; expect 403 forbidden state
  t "ticket no url"; req POST "/api/v1/reservations/$r2/workspace-ticket" "" "$BOB"; expect 409 invalid_state
  db_exec "UPDATE reservations SET session_url='https://gpuaas-$r2.apps.test/' WHERE id=$r2"
  t "ticket other user"; req POST "/api/v1/reservations/$r2/workspace-ticket" "" "$ALICE"; expect 403 forbidden
  t "ticket body"; req POST "/api/v1/reservations/$r2/workspace-ticket" '{"x":1}' "$BOB"; expect 400 invalid x
  t "ticket"; req POST "/api/v1/reservations/$r2/workspace-ticket" "" "$BOB"; expect 201
  local link; link=$(jf .url)
  [ "${link%%\?*}" = "https://gpuaas-$r2.apps.test/_gpuaas/enter" ] || fail "ticket link $link"
  t "gate enter other session"; req GET "/api/v1/gate/$r1/enter?${link#*\?}"; expect 403 forbidden ticket
  t "gate enter param"; req GET "/api/v1/gate/$r2/enter?${link#*\?}&x=1"; expect 400 invalid x
  t "gate enter"; req GET "/api/v1/gate/$r2/enter?${link#*\?}"; expect 303
  local cookie; cookie=$(tr -d '\r' <<<"$HEADERS" | sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\);.*/\1/p')
  [ -n "$cookie" ] || fail "no workspace cookie"
  t "gate enter replay"; req GET "/api/v1/gate/$r2/enter?${link#*\?}"; expect 401 unauthenticated ticket
  t "gate check no cookie"; req GET "/api/v1/gate/$r2/check"; expect 401 unauthenticated
  t "gate check"; REQ_COOKIE=$cookie req GET "/api/v1/gate/$r2/check"; expect 204
  t "gate check other session"; REQ_COOKIE=$cookie req GET "/api/v1/gate/$r1/check"; expect 403 forbidden
  t "release garbage body"; req POST "/api/v1/reservations/$r2/release" 'garbage{' "$BOB"; expect 400 invalid body
  t "release active"; req POST "/api/v1/reservations/$r2/release" "{}" "$BOB"; expect 200
  local end2; end2=$(date -u -d "$(jf .ends_at)" +%s)
  [ $((end2 - now)) -lt 120 ] || fail "release moved ends_at to now"
  t "gate check released"; REQ_COOKIE=$cookie req GET "/api/v1/gate/$r2/check"; expect 403 forbidden state
  t "cancel unknown field"; req POST "/api/v1/reservations/$r1/cancel" '{"x":1}' "$ALICE"; expect 400 invalid x
  t "cancel NUL"; req POST "/api/v1/reservations/$r1/cancel" '{"reason":"a\u0000b"}' "$ALICE"; expect 400 invalid body
  jf .error.message | grep -qF 'NUL (\u0000) is not allowed in strings' || fail "NUL explained"
  t "cancel"; req POST "/api/v1/reservations/$r1/cancel" "" "$ALICE"; expect 200
  [ "$(jf .state)" = CANCELED ] || fail "canceled state"
  t "cancel twice"; req POST "/api/v1/reservations/$r1/cancel" "" "$ALICE"; expect 409 invalid_state
  t "extend canceled"; req POST "/api/v1/reservations/$r1/extend" "{\"ends_at\":\"$(iso $((h+9000)))\"}" "$ALICE"; expect 409 invalid_state
  t "capacity freed"; req POST /api/v1/reservations "{\"gpu_type\":\"nvidia.com/gpu\",\"gpu_count\":1,\"starts_at\":\"$s1\",\"ends_at\":\"$e1\"}" "$BOB"; expect 201

  # 32 clients race over 32 connections opened at once for one window of the 4 MIG slices:
  # exactly 4 are admitted, the other 28 get 409 with the next window, nothing is
  # double-booked
  local rw=$((h + 86400 * 20)) i
  printf '{"gpu_type":"nvidia.com/mig-1g.24gb","gpu_count":1,"starts_at":"%s","ends_at":"%s"}' \
    "$(iso $rw)" "$(iso $((rw + 3600)))" >"$WORK/race.json"
  rm -rf "$WORK/race"; mkdir "$WORK/race"
  : >"$WORK/race.cfg"
  for i in $(seq 32); do
    [ "$i" = 1 ] || echo next >>"$WORK/race.cfg"
    printf 'url = "%s/api/v1/reservations"\noutput = "%s/race/%d"\nrequest = "POST"\nheader = "Authorization: Bearer %s"\nheader = "Content-Type: application/json"\ndata-binary = "@%s/race.json"\nwrite-out = "%%{http_code}\\n"\nmax-time = 30\n' \
      "$BASE" "$WORK" "$i" "$ALICE" "$WORK" >>"$WORK/race.cfg"
  done
  t "32 clients race"; curl -s --parallel --parallel-immediate --parallel-max 32 -K "$WORK/race.cfg" >"$WORK/race.codes" ||
    fail "race: curl failed"
  [ "$(grep -c '^201$' "$WORK/race.codes")" = 4 ] && [ "$(grep -c '^409$' "$WORK/race.codes")" = 28 ] ||
    fail "race: want 4 x 201 and 28 x 409, got $(sort "$WORK/race.codes" | uniq -c | tr '\n' ' ')"
  [ "$(grep -l '"code":"capacity_conflict"' "$WORK"/race/* | wc -l)" = 28 ] || fail "race: 409 bodies"
  [ "$(grep -h -o '"next_available":{[^}]*}' "$WORK"/race/* | sort -u | grep -c "\"starts_at\":\"$(iso $((rw + 3600)))\"")" = 1 ] ||
    fail "race: next_available is not the end of the raced window"
  t "race: booked units"; req GET "/api/v1/capacity?from=$(iso $rw)&to=$(iso $((rw + 3600)))&step=3600" "" "$ALICE"; expect 200
  [ "$(jf '.series[] | select(.resource=="nvidia.com/mig-1g.24gb") | .free[0]')" = 0 ] || fail "race: free slices after the race"

  # admin views
  t audit; req GET "/api/v1/audit?limit=50" "" "$ADMIN"; expect 200
  jq -e '.items[] | select(.action=="reservation.cancel" and .actor=="alice")' <<<"$BODY" >/dev/null || fail "audit has the cancel"
  grep -q "alice-pass-1" <<<"$BODY" && fail "audit leaks a password"
  # audit filters and cursor paging: two pages of one entry are the two newest, in order
  t "audit by actor"; req GET "/api/v1/audit?actor=alice&logins=exclude" "" "$ADMIN"; expect 200
  [ "$(jf '[.items[] | select(.actor != "alice" or .action == "auth.login")] | length')" = 0 ] && [ "$(jf '.items | length')" -gt 0 ] ||
    fail "actor filter without sign-ins"
  t "audit logins only"; req GET "/api/v1/audit?action=auth.login" "" "$ADMIN"; expect 200
  [ "$(jf '[.items[] | select(.action != "auth.login")] | length')" = 0 ] && [ "$(jf '.items | length')" -gt 0 ] || fail "action filter"
  t "audit all"; req GET "/api/v1/audit?limit=2" "" "$ADMIN"; expect 200
  local ids2; ids2=$(jq -c '[.items[].id]' <<<"$BODY")
  t "audit page 1"; req GET "/api/v1/audit?limit=1" "" "$ADMIN"; expect 200
  local a1; a1=$(jf .items[0].id); cur=$(jf .next_cursor)
  t "audit page 2"; req GET "/api/v1/audit?limit=1&cursor=$cur" "" "$ADMIN"; expect 200
  [ "[$a1,$(jf .items[0].id)]" = "$ids2" ] || fail "audit pages $a1,$(jf .items[0].id) differ from $ids2"
  t "audit time window"; req GET "/api/v1/audit?from=$(iso $((now+86400*1000)))" "" "$ADMIN"; expect 200
  [ "$(jf '.items | length')" = 0 ] && [ "$(jf .next_cursor)" = null ] || fail "audit from the future"
  t "audit cursor and before"; req GET "/api/v1/audit?cursor=5&before=5" "" "$ADMIN"; expect 400 invalid cursor
  t "audit bad logins"; req GET "/api/v1/audit?logins=no" "" "$ADMIN"; expect 400 invalid logins
  t utilization; req GET "/api/v1/utilization?from=$s1&to=$e1" "" "$ADMIN"; expect 200
  [ "$(jf '.resources[] | select(.resource=="nvidia.com/gpu") | .ratio')" = 1 ] || fail "gpu fully booked: $(jf '.resources[0]')"
  # tokenomics
  tok='{"servers":[{"name":"c845a","count":1,"capex":45000,"gpus":2,"power_load_kw":1.8,"power_idle_kw":0.5}],"utilization":0.4,"workloads":[{"name":"70B","tokens_per_second_per_gpu":1072.2,"share":1,"cloud_prices":[{"name":"Groq","input_per_million":0.59,"output_per_million":0.79}]}]}'
  t tokenomics; req POST /api/v1/tokenomics "$tok" "$ALICE"; expect 200
  awk -v c="$(jf .cost_per_million_tokens)" 'BEGIN{exit !(c > 0.67 && c < 0.69)}' || fail "tokenomics cost per million: $(jf .cost_per_million_tokens)"
  [ "$(jf '.break_even[0].status')" = reachable ] || fail "tokenomics break-even"
  jf .svg | grep -q '<svg' || fail "tokenomics chart"
  t "tokenomics invalid"; req POST /api/v1/tokenomics "${tok/45000/-1}" "$ALICE"; expect 400 invalid "servers[0].capex"
  t "tokenomics unknown field"; req POST /api/v1/tokenomics "${tok/\"utilization\":0.4/\"utilisation\":0.4}" "$ALICE"; expect 400 invalid utilisation
  t "tokenomics measured as user"; req POST /api/v1/tokenomics "${tok/0.4/\"measured\"}" "$ALICE"; expect 403 forbidden
  t "tokenomics measured"; req POST "/api/v1/tokenomics?from=$s1&to=$e1" "${tok/0.4/\"measured\"}" "$ADMIN"; expect 200
  [ "$(jf .utilization_source)" = measured ] || fail "measured utilization source"
  awk -v u="$(jf .utilization)" 'BEGIN{exit !(u > 0 && u <= 1)}' || fail "measured utilization $(jf .utilization)"
  t metrics; req GET /metrics "" "$ADMIN"; expect 200
  grep -q 'http_requests_total{route="/api/v1/reservations",method="POST",status="201"}' <<<"$BODY" || fail "metrics counter"
  grep -q 'gpuaas_bookings{state="CANCELED"} 2' <<<"$BODY" || fail "bookings gauge"
  [ "$(grep -c '^gpuaas_bookings{state=' <<<"$BODY")" = 5 ] || fail "every state in the bookings gauge, zero included"
  grep -q 'http_request_duration_seconds_bucket{route="/api/v1/reservations",method="POST",status="409",le="+Inf"} [1-9]' <<<"$BODY" ||
    fail "latency histogram by route, method and status"
  local c201 h201
  c201=$(awk '/^http_requests_total\{route="\/api\/v1\/reservations",method="POST",status="201"\}/{print $2}' <<<"$BODY")
  h201=$(awk '/^http_request_duration_seconds_count\{route="\/api\/v1\/reservations",method="POST",status="201"\}/{print $2}' <<<"$BODY")
  [ -n "$c201" ] && [ "$c201" = "$h201" ] || fail "histogram count $h201 differs from the request count $c201"

  # routing, static files, headers
  t 405; req DELETE /api/v1/me "" "$ADMIN"; expect 405
  grep -qi '^Allow: GET' <<<"$HEADERS" || fail "405 without Allow"
  t "404 route"; req GET /api/v1/nothing-here "" "$ADMIN"; expect 404 not_found
  t "placeholder"; req GET /; expect 200
  grep -q "not built" <<<"$BODY" || fail "placeholder page"
  grep -qi "^Content-Security-Policy: default-src 'self'" <<<"$HEADERS" || fail "CSP header"
  echo '<!doctype html><title>ui</title>' >"$WORK/web/index.html"
  mkdir -p "$WORK/web/assets"; echo 'console.log(1)' >"$WORK/web/assets/app.js"
  t index; req GET /reservations/42; expect 200
  grep -q "<title>ui" <<<"$BODY" || fail "index fallback"
  grep -qi "^Cache-Control: no-cache" <<<"$HEADERS" || fail "index no-cache"
  t asset; req GET /assets/app.js; expect 200
  grep -qi "^Content-Type: text/javascript" <<<"$HEADERS" || fail "js type"
  grep -qi "immutable" <<<"$HEADERS" || fail "asset cache"
  grep -qi "^X-Content-Type-Options: nosniff" <<<"$HEADERS" || fail "nosniff"
  t traversal; STATUS=$(curl -s -o /dev/null -w '%{http_code}' --path-as-is "$BASE/assets/../../../etc/passwd"); expect 404

  # user updates
  t "patch by user"; req PATCH "/api/v1/users/$bob_id" '{"role":"admin"}' "$ALICE"; expect 403 forbidden
  t "patch missing user"; req PATCH "/api/v1/users/99999" '{"role":"admin"}' "$ADMIN"; expect 404 not_found
  t "patch empty"; req PATCH "/api/v1/users/$bob_id" '{}' "$ADMIN"; expect 400 invalid body
  t "patch password"; req PATCH "/api/v1/users/$bob_id" '{"password":"bob-new-pass","role":"admin"}' "$ADMIN"; expect 200
  [ "$(jf .role)" = admin ] || fail "role changed"
  BOB=$(login bob bob-new-pass)

  security_attacks

  # disabled users, login rate limit
  t "disable bob"; req PATCH "/api/v1/users/$bob_id" '{"disabled":true}' "$ADMIN"; expect 200
  t "disabled token"; req GET /api/v1/me "" "$BOB"; expect 401 unauthenticated
  t "patch unknown field"; req PATCH "/api/v1/users/$bob_id" '{"admin":true}' "$ADMIN"; expect 400 invalid admin
  # earlier failures from this address count too: at most 5 more attempts reach the limit
  for _ in 1 2 3 4 5; do
    t "failing login"; req POST /api/v1/auth/login '{"username":"alice","password":"wrong-wrong"}'
    [ "$STATUS" = 429 ] && break
    expect 401
  done
  t "rate limited"; req POST /api/v1/auth/login '{"username":"alice","password":"alice-pass-1"}'; expect 429 rate_limited
  grep -qi '^Retry-After: [0-9]' <<<"$HEADERS" || fail "Retry-After"
  grep -q "Authorization\|gpa_" "$WORK/server.err" && fail "server log shows credentials"

  check_openapi

  # SIGTERM drains and exits 0
  kill -TERM "$SERVER_PID"
  local rc=0; wait "$SERVER_PID" || rc=$?
  SERVER_PID=
  [ "$rc" = 0 ] || fail "server exit status $rc after SIGTERM"
  echo "test_api: backend ok"
}

DB_URL="sqlite:$WORK/gpuaas.db"
run_suite

if [ -n "${GPUAAS_TEST_PG_URL:-}" ]; then
  # a private database, so that other tests may share the server concurrently
  PG_DB=gpuaas_api_test_$$
  psql -q -X "$GPUAAS_TEST_PG_URL" -c "CREATE DATABASE $PG_DB" >/dev/null
  DB_URL=${GPUAAS_TEST_PG_URL%/*}/$PG_DB
  run_suite
elif [ "${CI:-}" = true ]; then
  echo "test_api: GPUAAS_TEST_PG_URL is unset in CI"; exit 1
else
  echo "test_api: skipping PostgreSQL (GPUAAS_TEST_PG_URL unset)"
fi
echo "test_api: all passed"
