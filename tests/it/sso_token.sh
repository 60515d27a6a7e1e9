#!/usr/bin/env bash
# The single sign-on install's way in for bearer tokens (docs/security.md, "Token listener"):
#  1. the real `gpuaas server` with the SSO overlay's trust settings (trusted_header
#     X-Forwarded-User, trusted_sources 127.0.0.1: the oauth-proxy sidecar) and a second
#     listener, server.token_listen. The attack: a client sends a forged X-Forwarded-User (and
#     groups) from 127.0.0.1, the address the proxied listener trusts, to the token listener,
#     alone, beside a valid token, and to join through sso_auto_create_group; each is refused
#     and makes no account. A gpuaas bearer token works there for /api and /metrics (the
#     scrape token and an admin's token); password sign-in and the portal are not served
#     there; the proxied listener still honours the proxy's header as before;
#  2. deploy/overlays/openshift-sso rendered with kubectl kustomize (alone and with the
#     deploy/monitoring component), validated against the OpenAPI definitions of
#     third_party/openapi: the Route gpuaas-api, Service port http and the ServiceMonitor
#     reach the token listener's container port, the sidecar's upstream is server.listen and
#     never the token listener, and the NetworkPolicies (evaluated by tests/lib/netpol_reach.py)
#     admit the token port from the router, monitoring and the sessions' sign-in proxies only.
set -euo pipefail
cd "${GPUAAS_SRC:-$(dirname "$0")/../..}"
NAME=sso_token
SRC=.
BUILD=${GPUAAS_BUILD:-build}
BIN=$BUILD/gpuaas
FAIL_LOGS=server
# shellcheck source=../lib/it_common.sh
. tests/lib/it_common.sh
for bin in "$BIN" "$BUILD/gpuaas-openapi-check"; do
  [ -x "$bin" ] || fail "$bin not built (make build)"
done

# h BASE METHOD PATH [CURL_ARGS...]: sets STATUS and BODY
h() {
  local base=$1 method=$2 path=$3
  shift 3
  STATUS=$(curl -s -X "$method" -o "$WORK/body" -w '%{http_code}' --max-time 10 "$@" "$base$path") ||
    STATUS=000
  BODY=$(cat "$WORK/body")
}

# ---- 1. the server ----
printf 'prometheus-scrape-token-%s\n' "$RANDOM$RANDOM$RANDOM" >"$WORK/metrics-token"
SCRAPE=$(cat "$WORK/metrics-token")
cat >"$WORK/gpuaas.yaml" <<EOF
server:
  listen: 127.0.0.1:0
  token_listen: 127.0.0.1:0
  trusted_header: X-Forwarded-User
  trusted_groups_header: X-Forwarded-Groups
  trusted_sources: 127.0.0.1
  metrics_token_file: $WORK/metrics-token
  web_root: $WORK/web
database:
  url: sqlite://$WORK/gpuaas.db
auth:
  sso_auto_create_group: gpu-users
$(reference_pool)
EOF
mkdir -p "$WORK/web"
echo '<html>portal</html>' >"$WORK/web/index.html"
GPUAAS_ADMIN_PASSWORD=admin-secret-1 "$BIN" server --config "$WORK/gpuaas.yaml" >>"$WORK/server.log" 2>&1 &
PIDS+=($!)
# the ports the kernel gave the two listeners, from the server's "listening" lines
ports_known() {
  P=$(sed -n 's/.*msg="listening" .* port=\([0-9]*\).*/\1/p' "$WORK/server.log" | head -1)
  T=$(sed -n 's/.*msg="listening for bearer tokens only" .* port=\([0-9]*\).*/\1/p' "$WORK/server.log" | head -1)
  [ -n "$P" ] && [ -n "$T" ]
}
wait_for 10 "the server's listening lines" ports_known
PROXIED=http://127.0.0.1:$P
TOKEN=http://127.0.0.1:$T
BASE=$PROXIED
ADMIN=$(login admin admin-secret-1)

# The proxied listener as before: the sidecar (127.0.0.1) names alice, a member of gpu-users,
# and she gets a linked account; she makes an API token there (as in the portal).
h "$PROXIED" GET /api/v1/me -H 'X-Forwarded-User: alice' -H 'X-Forwarded-Groups: gpu-users'
expect 200 "proxied listener: the proxy's header"
[ "$(jf .username)" = alice ] || fail "proxied listener: /me is $(jf .username), want alice"
h "$PROXIED" POST /api/v1/tokens -H 'X-Forwarded-User: alice' -H 'Content-Type: application/json' \
  --data-binary '{"name":"cli"}'
expect 201 "proxied listener: alice makes an API token"
ALICE=$(jf .token)
h "$PROXIED" GET /api/v1/me -H "Authorization: Bearer $ALICE"
expect 200 "proxied listener: a bearer token"

# The attacks on the token listener, from 127.0.0.1: the address the proxied listener trusts.
h "$TOKEN" GET /api/v1/me -H 'X-Forwarded-User: alice'
expect 400 "token listener: forged X-Forwarded-User"
[ "$(jf .error.field)" = X-Forwarded-User ] || fail "forged header: error field $(jf .error.field)"
grep -q alice <<<"$BODY" && fail "forged header: the answer names alice"
h "$TOKEN" GET /api/v1/me -H 'X-Forwarded-User: admin'
expect 400 "token listener: forged X-Forwarded-User for a local admin"
h "$TOKEN" GET /api/v1/reservations -H 'X-Forwarded-User: mallory' -H 'X-Forwarded-Groups: gpu-users'
expect 400 "token listener: forged user and groups (sso_auto_create_group)"
h "$TOKEN" GET /api/v1/me -H 'X-Forwarded-Groups: gpu-users' -H "Authorization: Bearer $ALICE"
expect 400 "token listener: forged groups beside a valid token"
h "$TOKEN" GET /api/v1/me -H 'x-forwarded-user: alice' -H "Authorization: Bearer $ADMIN"
expect 400 "token listener: forged header (lower case) beside an admin token"
h "$TOKEN" GET /metrics -H 'X-Forwarded-User: admin'
expect 400 "token listener: forged header on /metrics"
h "$TOKEN" GET /healthz -H 'X-Forwarded-User: alice'
expect 400 "token listener: forged header on a public route"
# none of them made an account
req GET /api/v1/users "" "$ADMIN"
expect 200 "list users"
[ "$(jq -r '[.items[].username] | sort | join(",")' <<<"$BODY")" = admin,alice ] ||
  fail "the forged groups made an account: $(jq -c '[.items[].username]' <<<"$BODY")"
# no header and no token: not signed in (the proxy's identity is never assumed)
h "$TOKEN" GET /api/v1/me
expect 401 "token listener: no credentials"

# Bearer tokens work there: the API and /metrics.
h "$TOKEN" GET /api/v1/me -H "Authorization: Bearer $ALICE"
expect 200 "token listener: alice's API token"
[ "$(jf .username)" = alice ] || fail "token listener: /me is $(jf .username), want alice"
h "$TOKEN" GET /api/v1/pool -H "Authorization: Bearer $ALICE"
expect 200 "token listener: GET /api/v1/pool"
h "$TOKEN" POST /api/v1/tokens -H "Authorization: Bearer $ALICE" -H 'Content-Type: application/json' \
  --data-binary '{"name":"ci","ttl_seconds":3600}'
expect 201 "token listener: a state-changing call with a token"
h "$TOKEN" GET /metrics -H "Authorization: Bearer $SCRAPE"
expect 200 "token listener: /metrics with the scrape token"
grep -q '^gpuaas_bookings{' <<<"$BODY" || fail "token listener: /metrics has no gpuaas_bookings"
h "$TOKEN" GET /metrics -H "Authorization: Bearer $ADMIN"
expect 200 "token listener: /metrics with an admin token"
h "$TOKEN" GET /metrics -H "Authorization: Bearer $ALICE"
expect 403 "token listener: /metrics with a user's token"
h "$TOKEN" GET /metrics
expect 401 "token listener: /metrics without a token"
h "$TOKEN" GET /healthz
expect 200 "token listener: /healthz"
# Not served there: password sign-in (it would open the bootstrap admin's password to the
# internet without the OpenShift sign-in) and the portal.
h "$TOKEN" POST /api/v1/auth/login -H 'Content-Type: application/json' \
  --data-binary '{"username":"admin","password":"admin-secret-1"}'
expect 403 "token listener: password sign-in"
h "$TOKEN" GET /
expect 404 "token listener: the portal"
# the proxied listener still serves both
h "$PROXIED" GET / -H 'X-Forwarded-User: alice'
expect 200 "proxied listener: the portal"
# the refusals are logged (a probe shows in the log), the secrets are not
grep -q 'proxy identity header refused' "$WORK/server.log" || fail "no log line for the refusal"
grep -qF "$SCRAPE" "$WORK/server.log" && fail "the scrape token is in the log"
# The CLI on the token listener, as docs/install.md says: a portal token saved with
# `gpuaas login --token-stdin` (checked with the server first), then any command.
export XDG_CONFIG_HOME=$WORK/xdg
printf '%s\n' "$ALICE" | "$BIN" login --server "$TOKEN" --token-stdin >"$WORK/cli.txt" 2>&1 ||
  fail "gpuaas login --token-stdin: $(cat "$WORK/cli.txt")"
grep -q alice "$WORK/cli.txt" || fail "gpuaas login --token-stdin: $(cat "$WORK/cli.txt")"
"$BIN" pool >"$WORK/cli.txt" 2>&1 || fail "gpuaas pool with the saved token: $(cat "$WORK/cli.txt")"
printf 'gpa_1_not-a-token\n' | "$BIN" login --server "$TOKEN" --token-stdin >"$WORK/cli.txt" 2>&1 &&
  fail "gpuaas login --token-stdin saved a token the server refuses"
XDG_CONFIG_HOME=$WORK/none GPUAAS_TOKEN=$ALICE "$BIN" list --server "$TOKEN" >/dev/null 2>&1 ||
  fail "gpuaas list with GPUAAS_TOKEN on the token listener"
printf 'admin-secret-1\n' | "$BIN" login --server "$TOKEN" -u admin --password-stdin >"$WORK/cli.txt" 2>&1 &&
  fail "gpuaas login with a password worked on the token listener"
echo "ok - server: token listener refuses the proxy's headers, takes bearer tokens (API, CLI)"

# ---- 2. the overlay ----
OUT=$WORK/render
mkdir -p "$OUT"
CHECK="python3 tests/lib/deploy_check.py"
cp -r deploy "$WORK/deploy"
mkdir -p "$WORK/deploy/overlays/sso-mon"
printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [../openshift-sso]\ncomponents: [../../monitoring]\n' \
  >"$WORK/deploy/overlays/sso-mon/kustomization.yaml"
kubectl kustomize deploy/overlays/openshift-sso >"$OUT/sso.yaml" || fail "kustomize openshift-sso"
kubectl kustomize "$WORK/deploy/overlays/sso-mon" >"$OUT/sso-mon.yaml" ||
  fail "kustomize openshift-sso + monitoring"
{ kubectl kustomize deploy/namespace && echo --- && cat "$OUT/sso-mon.yaml"; } >"$OUT/install.yaml"
# The Prometheus operator's kinds have no definitions in third_party/openapi: they are
# checked structurally below (and by tests/it/monitoring.sh); every other object strictly.
for f in sso sso-mon install; do
  $CHECK tojson "$OUT/$f.yaml" "$OUT/$f.json"
  jq '[.[] | select(.apiVersion | startswith("monitoring.coreos.com/") | not)]' "$OUT/$f.json" \
    >"$OUT/$f.schema.json"
  "$BUILD/gpuaas-openapi-check" --openapi third_party/openapi "$OUT/$f.schema.json" \
    >"$OUT/$f.openapi.log" 2>&1 ||
    { cat "$OUT/$f.openapi.log"; fail "$f: objects do not validate against third_party/openapi"; }
done
$CHECK config "$OUT/sso.yaml" "$OUT/config.yaml" --drop-section cache
"$BIN" config check --config "$OUT/config.yaml" >/dev/null 2>"$OUT/config-check.log" ||
  { cat "$OUT/config-check.log"; fail "the SSO overlay's configuration fails gpuaas config check"; }
for id in 42 43; do
  "$BIN" deploy session --config "$OUT/config.yaml" --id "$id" --user "user$id" \
    --gpu-type nvidia.com/gpu --count 1 >"$OUT/session-$id.yaml"
  $CHECK tojson "$OUT/session-$id.yaml" "$OUT/session-$id.json"
done
python3 - "$OUT" <<'PY' || fail "the rendered SSO overlay (above)"
import json, sys
from urllib.parse import urlparse
sys.path.insert(0, "tests/lib")
import netpol_reach as nr
import yaml

out = sys.argv[1]
problems = []
def want(cond, what):
    if not cond:
        problems.append(what)

def one(objs, kind, name):
    hits = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    want(len(hits) == 1, f"{kind}/{name}: {len(hits)} rendered, want 1")
    return hits[0] if hits else {"spec": {}}

for f in ("sso", "sso-mon"):
    objs = json.load(open(f"{out}/{f}.json"))
    cm = next(o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("gpuaas-config"))
    srv = yaml.safe_load(cm["data"]["gpuaas.yaml"])["server"]
    listen_port = int(srv["listen"].rsplit(":", 1)[1])
    token_host, token_port = srv.get("token_listen", ":").rsplit(":", 1)
    want(srv["listen"].startswith("127.0.0.1:"), f"{f}: server.listen {srv['listen']} is reachable from outside the pod")
    want(token_host == "0.0.0.0" and token_port.isdigit(), f"{f}: server.token_listen {srv.get('token_listen')!r}")
    token_port = int(token_port) if token_port.isdigit() else -1
    dep = one(objs, "Deployment", "gpuaas-server")
    cs = {c["name"]: c for c in dep["spec"]["template"]["spec"]["containers"]}
    ports = {p["name"]: p["containerPort"] for c in cs.values() for p in c.get("ports", [])}
    want(ports.get("http") == token_port, f"{f}: the pod's port http is {ports.get('http')}, the token listener {token_port}")
    proxy_args = cs["oauth-proxy"]["args"]
    want(f"--upstream=http://127.0.0.1:{listen_port}" in proxy_args,
         f"{f}: oauth-proxy's upstream is not server.listen ({listen_port}): {proxy_args}")
    want(not any(a.startswith("--upstream=") and a.endswith(f":{token_port}") for a in proxy_args),
         f"{f}: oauth-proxy forwards to the token listener")
    want(not any(a.startswith("--skip-auth-regex") and "api" in a for a in proxy_args),
         f"{f}: oauth-proxy skips sign-in for the API: {proxy_args}")
    svc = one(objs, "Service", "gpuaas-server")
    sp = {p["name"]: p for p in svc["spec"].get("ports", [])}
    want("http" in sp and sp["http"]["targetPort"] == "http", f"{f}: Service gpuaas-server has no port http -> http: {sp}")
    want("https" in sp and sp["https"]["targetPort"] == "https", f"{f}: Service gpuaas-server lost https: {sp}")
    api = one(objs, "Route", "gpuaas-api")
    want(api["spec"].get("to", {}).get("name") == "gpuaas-server", f"{f}: Route gpuaas-api goes to {api['spec'].get('to')}")
    want(api["spec"].get("port", {}).get("targetPort") == "http", f"{f}: Route gpuaas-api port {api['spec'].get('port')}")
    tls = api["spec"].get("tls") or {}
    want(tls.get("termination") in ("edge", "reencrypt") and tls.get("insecureEdgeTerminationPolicy") == "Redirect",
         f"{f}: Route gpuaas-api TLS {tls}")
    portal = one(objs, "Route", "gpuaas")
    want(portal["spec"].get("port", {}).get("targetPort") == "https", f"{f}: the portal's Route no longer goes through the proxy")
    # the reconciler's sessions' sign-in proxies ask gpuaas-server:<server_port>: the token listener
    rc = yaml.safe_load(cm["data"]["gpuaas.yaml"]).get("reconciler") or {}
    gate = rc.get("gate_auth_url") or f"http://gpuaas-server.gpuaas-system.svc:{rc.get('server_port', 8080)}"
    gport = int(urlparse(gate).port or 80)
    want(any(p["port"] == gport and p["targetPort"] == "http" for p in svc["spec"].get("ports", [])),
         f"{f}: the sessions' sign-in proxies ask {gate}, not a Service port of the token listener")
    if f == "sso-mon":
        sm = one(objs, "ServiceMonitor", "gpuaas-server")
        eps = sm["spec"].get("endpoints", [])
        want(len(eps) == 1 and eps[0].get("port") == "http" and eps[0].get("path") == "/metrics"
             and eps[0].get("bearerTokenSecret", {}).get("name") == "gpuaas-metrics",
             f"ServiceMonitor gpuaas-server scrapes {eps}, want Service port http (the token listener) with the scrape token")
        sel = sm["spec"]["selector"]["matchLabels"]
        want(all(svc["metadata"]["labels"].get(k) == v for k, v in sel.items()),
             "ServiceMonitor gpuaas-server does not select Service gpuaas-server")

# Who reaches the token listener: the NetworkPolicies of the install with monitoring.
install = json.load(open(f"{out}/install.json"))
sa, sb = (json.load(open(f"{out}/session-{i}.json")) for i in (42, 43))
namespaces, eps = nr.build_cluster("openshift", install, sa, sb)
for n in ("openshift-user-workload-monitoring", "team-b"):
    namespaces[n] = {"kubernetes.io/metadata.name": n}
eps["prometheus"] = nr.Endpoint("prometheus", "10.128.1.1", "openshift-user-workload-monitoring",
                                {"app.kubernetes.io/name": "prometheus"}, [])
eps["stranger"] = nr.Endpoint("stranger", "10.128.1.2", "team-b", {"app": "x"}, [])
pols = nr.netpols(install, "gpuaas-system") + nr.netpols(sa) + nr.netpols(sb)
cm = next(o for o in install if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("gpuaas-config"))
tport = int((yaml.safe_load(cm["data"]["gpuaas.yaml"])["server"].get("token_listen") or ":8080").rsplit(":", 1)[1])
server = eps["server"]
for src, port, ok in (("router", tport, True), ("router", 8443, True), ("prometheus", tport, True),
                      ("a.workspace", tport, True), ("stranger", tport, False),
                      ("a.job", tport, False), ("b.api", tport, False), ("unconfined", tport, False),
                      ("prometheus", 8443, False), ("a.workspace", 8443, False)):
    got = nr.allowed(pols, namespaces, eps[src], server, port)
    want(got == ok, f"NetworkPolicy: {src} -> server:{port} {'admitted' if got else 'refused'}, want {'admitted' if ok else 'refused'}")
for p in problems:
    print("FAIL:", p)
sys.exit(1 if problems else 0)
PY
echo "ok - overlay: Route gpuaas-api, Service port http, ServiceMonitor and NetworkPolicies reach the token listener"
echo PASS
