#!/usr/bin/env bash
# The workspace sign-in, end to end: the real `gpuaas server` and `gpuaas reconciler` (on the
# Kubernetes API double) provision sessions; a real nginx (Debian's, unprivileged, on
# loopback, with TLS from a throw-away certificate) runs the configuration the session plan
# generates for each session's gate (`gpuaas config gate-nginx`, which must equal the
# ConfigMap the reconciler applied, apart from the local address, temporary directory and
# TLS lines); a stand-in workspace (tests/tools/standin_workspace.py) serves HTTP and a
# WebSocket behind it and logs what reaches it. Each control is attacked:
#   no credentials -> 401 sign-in page, and nothing reaches the workspace (HTTP and WebSocket)
#   the owner's link -> 303 + a host-only, HttpOnly, Secure, SameSite cookie -> HTTP and WebSocket pass
#   the gate's cookie is never passed on to the workspace
#   the same link again (replay) -> 401; an expired link or cookie -> 401
#   another user: no ticket for someone else's session (403); their ticket or cookie for
#   their own session presented at this session's gate -> 403
#   admin: 403 while auth.workspace_admin_access is off; on: enters, audited
#   disabled user, canceled booking, released booking -> refused on the very next request
# The requests use curl --connect-to, so that URL, Host, SNI and cookie scope are the
# session's real host (gpuaas-<id>.apps.test) while the TCP connection goes to 127.0.0.1.
set -euo pipefail
BUILD=${GPUAAS_BUILD:-build}
SRC=${GPUAAS_SRC:-.}
BIN=$BUILD/gpuaas
SIM=$BUILD/gpuaas-kubesim
STANDIN="python3 $SRC/tests/tools/standin_workspace.py"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
for b in "$BIN" "$SIM"; do [ -x "$b" ] || { echo "gate: $b not built"; exit 1; }; done
[ -x "$NGINX" ] || { echo "gate: nginx is required (make deps installs Debian's nginx)"; exit 1; }
for c in kubectl jq python3 curl openssl sqlite3; do
  command -v $c >/dev/null || { echo "gate: $c is required"; exit 1; }
done

NAME=gate
FAIL_LOGS="server reconciler nginx-a nginx-b nginx-c standin"
# shellcheck source=../lib/it_common.sh
. "$SRC/tests/lib/it_common.sh"

DOMAIN=apps.test

# The configuration names the ports of the stand-in workspace (WS_PORT) and of the server
# (PORT, the gates' auth URL): both listen on ports the kernel picked before it is written for
# the reconciler and the gate generator. The server itself reads neither key, so it starts on
# a first version with no port of its own in it (PORT unset).
write_config() { # write_config ADMIN_ACCESS
  cat >"$WORK/gpuaas.yaml" <<EOF
log_level: debug
server:
  listen: 127.0.0.1:0 # start_server: the kernel picks the port
  web_root: $WORK
database:
  url: sqlite://$WORK/gpuaas.db
auth:
  workspace_admin_access: $1
$(reference_pool)
reconciler:
  platform: kubernetes
  interval_seconds: 1
  ingress_domain: $DOMAIN
  ingress_namespace: ingress
  storage_class: standard
  workspace_port: $WS_PORT
  gate_auth_url: http://127.0.0.1:${PORT:-1}
EOF
}

# --- the stand-in workspace, the platform: API double, server, reconciler ---
$STANDIN serve 0 "$WORK/standin-requests.txt" "$WORK/standin.port" >>"$WORK/standin.log" 2>&1 &
PIDS+=($!)
wait_port WS_PORT "$WORK/standin.port" $! "the stand-in workspace"
"$SIM" --listen 127.0.0.1:0 --kubeconfig-out "$WORK/kubeconfig" >>"$WORK/kubesim.log" 2>&1 &
PIDS+=($!)
wait_for 10 "the test double" test -s "$WORK/kubeconfig"
kc create --validate=false -f "$SRC/tests/data/nodes/success.json" || fail "cannot register the node"
write_config false
start_server "$WORK/gpuaas.yaml"
SERVER_PID=${PIDS[-1]}
write_config false # now with the server's port for the gates
"$BIN" config check --config "$WORK/gpuaas.yaml" >/dev/null || fail "config check"
ALICE=$(add_user alice)
BOB=$(add_user bob)
CAROL=$(add_user carol)

now=$(date +%s)
book() { # book TOKEN: prints the id of a booking that starts now
  req POST /api/v1/reservations "{\"gpu_type\":\"nvidia.com/mig-1g.24gb\",\"gpu_count\":1,\"starts_at\":\"$(iso $((now - 60)))\",\"ends_at\":\"$(iso $((now + 3600)))\",\"purpose\":\"gate test\"}" "$1"
  expect 201 "book"
  jf .id
}
A=$(book "$ALICE")
B=$(book "$BOB")
C=$(book "$CAROL")
"$BIN" reconciler --config "$WORK/gpuaas.yaml" --kubeconfig "$WORK/kubeconfig" >"$WORK/reconciler.log" 2>&1 &
PIDS+=($!)
active() { req GET "/api/v1/reservations/$1" "" "$ADMIN"; [ "$(jf .state)" = ACTIVE ]; }
for id in "$A" "$B" "$C"; do wait_for 30 "session $id ACTIVE" active "$id"; done
req GET "/api/v1/reservations/$A" "" "$ADMIN"
[ "$(jf .session.url)" = "https://gpuaas-$A.$DOMAIN/" ] || fail "session URL $(jf .session.url)"

# in the double, as applied: Ingress -> Service -> the gate's container port, and the
# router's NetworkPolicy opens that port only
kget() { KUBECONFIG=$WORK/kubeconfig kubectl -n "gpuaas-$A" get "$@" -o json; }
ing_port=$(kget ingress workspace | jq -r '.spec.rules[0].http.paths[0].backend.service.port.name')
target=$(kget service workspace | jq -r --arg p "$ing_port" '.spec.ports[] | select(.name == $p) | .targetPort')
owner=$(kget deployment workspace | jq -r --arg t "$target" \
  '.spec.template.spec.containers[] | select(any(.ports[]?; .name == $t)) | .name')
[ "$owner" = gate ] || fail "the Ingress reaches port '$target' of container '$owner', not the gate"
np_ports=$(kget networkpolicy allow-from-ingress | jq -c '[.spec.ingress[].ports[].port]')
gate_port=$(kget deployment workspace | jq -r '.spec.template.spec.containers[] | select(.name == "gate") | .ports[0].containerPort')
[ "$np_ports" = "[$gate_port]" ] || fail "the router may reach ports $np_ports, want only [$gate_port]"

# --- one gate per session ---
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=*.$DOMAIN" \
  -addext "subjectAltName=DNS:*.$DOMAIN" -keyout "$WORK/tls.key" -out "$WORK/tls.crt" 2>/dev/null
# nginx runs unprivileged; as root here, it runs as nobody (as a pod's arbitrary UID would)
RUN_AS=()
if [ "$(id -u)" = 0 ]; then
  RUN_AS=(setpriv --reuid=65534 --regid=65534 --clear-groups)
  chmod 755 "$WORK"
fi
start_gate() { # start_gate LETTER ID: sets GATE_<LETTER> to its port
  local l=$1 id=$2 dir=$WORK/gate-$1
  mkdir -p "$dir"
  # the ConfigMap the reconciler applied is what the generator writes
  KUBECONFIG=$WORK/kubeconfig kubectl -n "gpuaas-$id" get configmap gate \
    -o jsonpath='{.data.nginx\.conf}' >"$dir/applied.conf" || fail "no gate ConfigMap in gpuaas-$id"
  "$BIN" config gate-nginx --config "$WORK/gpuaas.yaml" --reservation "$id" >"$dir/plan.conf"
  cmp -s "$dir/applied.conf" "$dir/plan.conf" || fail "the applied gate ConfigMap differs from the generator's"
  : >"$WORK/nginx-$l.log"
  launch_gate "$l" "$id"
}
# launch_gate LETTER ID: nginx with the generator's configuration (from $dir/plan.conf's
# plan) on a free port; sets GATE_<LETTER> and GATE_PID_<LETTER>. nginx cannot listen on port
# 0 and report the pick, so a candidate port is tried and a collision detected, not hoped
# away: nginx binds its listening socket before it writes its pid file (nginx.c: ngx_init_cycle,
# then ngx_create_pidfile), so the pid file means the port is nginx's, and an nginx that
# exits with "Address already in use" lost the port to another process: the next candidate is
# tried, at most 10 (each a port the kernel had just reported free).
launch_gate() {
  local l=$1 id=$2 dir=$WORK/gate-$1 port try pid seen
  for ((try = 1; try <= 10; try++)); do
    port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
    "$BIN" config gate-nginx --config "$WORK/gpuaas.yaml" --reservation "$id" \
      --listen "127.0.0.1:$port" --temp-dir "$dir" --tls-cert "$WORK/tls.crt" \
      --tls-key "$WORK/tls.key" >"$dir/nginx.conf"
    "$BIN" config gate-nginx --config "$WORK/gpuaas.yaml" --reservation "$id" >"$dir/plan.conf"
    diff "$dir/plan.conf" "$dir/nginx.conf" | grep '^[<>]' | grep -v -e 'listen ' -e '_path ' \
      -e '^. pid ' -e 'ssl_certificate' && fail "the local gate differs from the plan's beyond address, paths and TLS"
    rm -f "$dir/nginx.pid"
    seen=$(wc -l <"$WORK/nginx-$l.log")
    if [ ${#RUN_AS[@]} -gt 0 ]; then chown -R 65534:65534 "$dir" "$WORK/nginx-$l.log"; chmod 644 "$WORK/tls.key"; fi
    "${RUN_AS[@]}" "$NGINX" -e stderr -c "$dir/nginx.conf" >>"$WORK/nginx-$l.log" 2>&1 &
    pid=$!
    # nginx retries a taken port for about 2.5 s (5 x 500 ms) before it exits
    wait_for 10 "the gate of $id to bind or exit" eval "[ -s '$dir/nginx.pid' ] || ! kill -0 $pid 2>/dev/null"
    if [ -s "$dir/nginx.pid" ] && kill -0 "$pid" 2>/dev/null; then
      PIDS+=("$pid")
      printf -v "GATE_$l" '%s' "$port"
      printf -v "GATE_PID_$l" '%s' "$pid"
      return 0
    fi
    wait "$pid" || true
    tail -n +"$((seen + 1))" "$WORK/nginx-$l.log" | grep -q 'Address already in use' ||
      fail "the gate of $id did not start"
    echo "gate: port $port was taken before nginx bound it; another (try $try)"
  done
  fail "the gate of $id found no free port in 10 tries"
}
start_gate a "$A"
start_gate b "$B"
start_gate c "$C"
HOST_A=gpuaas-$A.$DOMAIN HOST_B=gpuaas-$B.$DOMAIN HOST_C=gpuaas-$C.$DOMAIN

# gcurl PORT URL [CURL ARGS]: a browser-like request to the session URL, the TCP connection to
# the local gate; sets STATUS, BODY and HEADERS.
gcurl() {
  local port=$1 url=$2
  shift 2
  STATUS=$(curl -s -S -k --max-time 10 --connect-to "::127.0.0.1:$port" -o "$WORK/gbody" \
    -D "$WORK/gheaders" -w '%{http_code}' "$@" "$url") || STATUS=000
  BODY=$(cat "$WORK/gbody")
  HEADERS=$(tr -d '\r' <"$WORK/gheaders")
}
ticket() { # ticket ID TOKEN: sets STATUS, BODY (url on 201)
  req POST "/api/v1/reservations/$1/workspace-ticket" "" "$2"
}
seen() { wc -l <"$WORK/standin-requests.txt"; }
ws() { # ws PORT HOST [COOKIE]: prints "101 echo:ping" or the refusing status
  GATE_CONNECT=127.0.0.1:$1 $STANDIN ws-client "wss://$2/ws" "${3-}"
}
jar_cookie() { # jar_cookie JAR: the gate cookie's value in a curl cookie jar
  awk '$6 == "__Host-gpuaas_ws" {print $7}' "$1"
}

# 1. no credentials: the sign-in page, and nothing reaches the workspace
n0=$(seen)
gcurl "$GATE_a" "https://$HOST_A/"
[ "$STATUS" = 401 ] || fail "no credentials: status $STATUS, want 401"
grep -q 'Open workspace' <<<"$BODY" || fail "the 401 page does not say how to sign in"
[ "$(ws "$GATE_a" "$HOST_A")" = 401 ] || fail "WebSocket without credentials was not refused"
gcurl "$GATE_a" "https://$HOST_A/" -H "Cookie: __Host-gpuaas_ws=wsc_1_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
[ "$STATUS" = 401 ] || fail "forged cookie: status $STATUS, want 401"
[ "$(seen)" = "$n0" ] || fail "refused requests reached the workspace"
echo "gate: no credentials refused"

# 2. the owner's link: a cookie with the right attributes, then HTTP and WebSocket pass
ticket "$A" "$ALICE"
expect 201 "alice's ticket"
LINK_A=$(jf .url)
case $LINK_A in "https://$HOST_A/_gpuaas/enter?ticket=wst_"*) ;; *) fail "link $LINK_A" ;; esac
gcurl "$GATE_a" "$LINK_A" -c "$WORK/alice.jar"
[ "$STATUS" = 303 ] || fail "alice's link: status $STATUS, want 303"
grep -qi '^location: /$' <<<"$HEADERS" || fail "the link does not lead to /"
sc=$(grep -i '^set-cookie:' <<<"$HEADERS") || fail "no cookie set"
for attr in '__Host-gpuaas_ws=wsc_' 'Path=/' 'Secure' 'HttpOnly' 'SameSite=Lax'; do
  grep -q "$attr" <<<"$sc" || fail "the cookie lacks $attr: $sc"
done
grep -qi 'domain=' <<<"$sc" && fail "the cookie must be host-only: $sc"
gcurl "$GATE_a" "https://$HOST_A/" -b "$WORK/alice.jar"
[ "$STATUS" = 200 ] && grep -q 'standin workspace' <<<"$BODY" || fail "alice: status $STATUS, want the workspace"
[ "$(ws "$GATE_a" "$HOST_A" "__Host-gpuaas_ws=$(jar_cookie "$WORK/alice.jar")")" = "101 echo:ping" ] ||
  fail "alice's WebSocket did not pass"
gcurl "$GATE_a" "https://$HOST_A/echo" \
  -H "Cookie: theme=dark; __Host-gpuaas_ws=$(jar_cookie "$WORK/alice.jar"); lang=en"
[ "$STATUS" = 200 ] || fail "echo: status $STATUS"
[ "$(jf .cookie)" = "theme=dark; lang=en" ] ||
  fail "the workspace saw the cookies \"$(jf .cookie)\", want theme=dark; lang=en"
echo "gate: owner in (HTTP, WebSocket), gate cookie kept from the workspace"

# 3. replay of a used link
gcurl "$GATE_a" "$LINK_A" -c "$WORK/replay.jar"
[ "$STATUS" = 401 ] || fail "replayed link: status $STATUS, want 401"
[ -z "$(jar_cookie "$WORK/replay.jar")" ] || fail "a replayed link set a cookie"
echo "gate: replay refused"
grep -q 'wst_\|wsc_' "$WORK/nginx-a.log" "$WORK/server.log" && fail "a ticket or cookie was logged"

# expiry (the clock moved on by rewriting expires_at, not by waiting): an expired link and
# an expired cookie are refused
ticket "$A" "$ALICE"
expect 201 "alice's ticket to expire"
LINK_X=$(jf .url)
sqlite3 "$WORK/gpuaas.db" "UPDATE workspace_grants SET expires_at = strftime('%s','now') - 1 WHERE kind = 'ticket' AND used_at = 0"
gcurl "$GATE_a" "$LINK_X"
[ "$STATUS" = 401 ] || fail "expired link: status $STATUS, want 401"
ticket "$A" "$ALICE"
gcurl "$GATE_a" "$(jf .url)" -c "$WORK/alice-x.jar"
[ "$STATUS" = 303 ] || fail "alice's second link: status $STATUS"
x_id=$(jar_cookie "$WORK/alice-x.jar" | cut -d_ -f2)
sqlite3 "$WORK/gpuaas.db" "UPDATE workspace_grants SET expires_at = strftime('%s','now') - 1 WHERE id = $x_id"
gcurl "$GATE_a" "https://$HOST_A/" -b "$WORK/alice-x.jar"
[ "$STATUS" = 401 ] || fail "expired cookie: status $STATUS, want 401"
echo "gate: expired link and cookie refused"

# 4. another user
ticket "$A" "$BOB"
expect 403 "bob's ticket for alice's session"
ticket "$B" "$BOB"
expect 201 "bob's ticket for his own session"
LINK_B=$(jf .url)
gcurl "$GATE_a" "https://$HOST_A/_gpuaas/enter?${LINK_B#*\?}"
[ "$STATUS" = 403 ] || fail "bob's ticket at alice's gate: status $STATUS, want 403"
gcurl "$GATE_b" "$LINK_B" -c "$WORK/bob.jar"
[ "$STATUS" = 303 ] || fail "bob's link at his own gate: status $STATUS, want 303"
BOB_COOKIE=$(jar_cookie "$WORK/bob.jar")
gcurl "$GATE_b" "https://$HOST_B/" -b "$WORK/bob.jar"
[ "$STATUS" = 200 ] || fail "bob in his own session: status $STATUS"
n0=$(seen)
gcurl "$GATE_a" "https://$HOST_A/" -H "Cookie: __Host-gpuaas_ws=$BOB_COOKIE"
[ "$STATUS" = 403 ] || fail "bob's cookie at alice's gate: status $STATUS, want 403"
[ "$(ws "$GATE_a" "$HOST_A" "__Host-gpuaas_ws=$BOB_COOKIE")" = 403 ] || fail "bob's WebSocket into alice's session"
[ "$(seen)" = "$n0" ] || fail "another user's requests reached the workspace"
echo "gate: other user 403"

# 5. disabled user: refused on the next request
ticket "$C" "$CAROL"
expect 201 "carol's ticket"
gcurl "$GATE_c" "$(jf .url)" -c "$WORK/carol.jar"
gcurl "$GATE_c" "https://$HOST_C/" -b "$WORK/carol.jar"
[ "$STATUS" = 200 ] || fail "carol in: status $STATUS"
req GET /api/v1/users "" "$ADMIN"
carol_id=$(jf '.items[] | select(.username=="carol") | .id')
req PATCH "/api/v1/users/$carol_id" '{"disabled":true}' "$ADMIN"
expect 200 "disable carol"
gcurl "$GATE_c" "https://$HOST_C/" -b "$WORK/carol.jar"
[ "$STATUS" = 401 ] || fail "disabled carol: status $STATUS, want 401"
echo "gate: disabled user refused"

# 6. the booking ends: canceled (alice), released (bob)
req POST "/api/v1/reservations/$A/cancel" "" "$ALICE"
expect 200 "cancel A"
gcurl "$GATE_a" "https://$HOST_A/" -b "$WORK/alice.jar"
[ "$STATUS" = 403 ] || fail "alice after cancel: status $STATUS, want 403"
[ "$(ws "$GATE_a" "$HOST_A" "__Host-gpuaas_ws=$(jar_cookie "$WORK/alice.jar")")" = 403 ] ||
  fail "alice's WebSocket after cancel"
ticket "$A" "$ALICE"
expect 403 "a ticket for a canceled session"
req POST "/api/v1/reservations/$B/release" "" "$BOB"
expect 200 "release B"
gcurl "$GATE_b" "https://$HOST_B/" -b "$WORK/bob.jar"
[ "$STATUS" = 403 ] || fail "bob after release: status $STATUS, want 403"
echo "gate: canceled and released bookings refused"

# 7. admins: refused while auth.workspace_admin_access is off, audited when on
D=$(book "$ALICE")
wait_for 30 "session $D ACTIVE" active "$D"
start_gate d "$D"
# `gpuaas show` prints a working link (and the old session's cookie does not open this one)
export XDG_CONFIG_HOME=$WORK/xdg
echo alice-pass-123 | "$BIN" login --server "$BASE" --username alice --password-stdin >/dev/null ||
  fail "gpuaas login"
link=$("$BIN" show "$D" | awk '$1 == "workspace" {print $2}')
[ "${link%%\?*}" = "https://gpuaas-$D.$DOMAIN/_gpuaas/enter" ] || fail "gpuaas show printed no link: $link"
gcurl "$GATE_d" "https://gpuaas-$D.$DOMAIN/" -H "Cookie: __Host-gpuaas_ws=$(jar_cookie "$WORK/alice.jar")"
[ "$STATUS" = 403 ] || fail "alice's cookie of session $A on session $D: status $STATUS, want 403"
gcurl "$GATE_d" "$link" -c "$WORK/alice-d.jar"
[ "$STATUS" = 303 ] || fail "the link of gpuaas show: status $STATUS"
gcurl "$GATE_d" "https://gpuaas-$D.$DOMAIN/" -b "$WORK/alice-d.jar"
[ "$STATUS" = 200 ] || fail "alice in session $D: status $STATUS"
ticket "$D" "$ADMIN"
expect 403 "admin ticket with workspace_admin_access off"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || true
write_config true
start_server "$WORK/gpuaas.yaml" # on a new port: the gate of $D is started again to ask it
write_config true
kill -TERM "$GATE_PID_d"
wait "$GATE_PID_d" || true
launch_gate d "$D"
ticket "$D" "$ADMIN"
expect 201 "admin ticket with workspace_admin_access on"
gcurl "$GATE_d" "$(jf .url)" -c "$WORK/admin.jar"
[ "$STATUS" = 303 ] || fail "admin's link: status $STATUS"
gcurl "$GATE_d" "https://gpuaas-$D.$DOMAIN/" -b "$WORK/admin.jar"
[ "$STATUS" = 200 ] || fail "admin in alice's session: status $STATUS"
req GET "/api/v1/audit?limit=20" "" "$ADMIN"
jf ".items[] | select(.action==\"workspace.enter\" and .target==\"reservation/$D\") | .actor + \" \" + .detail" |
  grep -qx 'admin admin' || fail "the admin's entry is not audited"
echo "gate: admin per auth.workspace_admin_access, audited"
echo "gate: ok"
