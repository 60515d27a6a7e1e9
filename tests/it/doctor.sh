#!/usr/bin/env bash
# `gpuaas doctor` against the Kubernetes API double: a healthy cluster for the reference
# configuration (deploy/overlays/openshift/gpuaas.yaml) passes every check (exit 0); then one
# thing at a time is broken and doctor must fail (exit 1) with a ✗ line naming it and a fix:
# the GPU operator not ready, the wrong MIG strategy, the device plugin without gpuaas's
# time-slicing, a node whose MIG configuration failed, an image the pre-pull did not bring,
# the storage class, the CloudNativePG CRD and Cluster, the reconciler's rights, and with
# reconciler.expose httproute the Gateway (missing, wrong listener, hostname or allowedRoutes,
# not programmed).
set -euo pipefail
cd "${GPUAAS_SRC:-$(dirname "$0")/../..}"
BUILD=${GPUAAS_BUILD:-build}
BIN=$BUILD/gpuaas
SIM=$BUILD/gpuaas-kubesim
for b in "$BIN" "$SIM"; do [ -x "$b" ] || { echo "doctor: $b not built"; exit 1; }; done
for c in kubectl jq python3; do command -v $c >/dev/null || { echo "doctor: $c is required"; exit 1; }; done
W=$(mktemp -d)
simpid=
cleanup() { [ -z "$simpid" ] || kill "$simpid" 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT
fail() { echo "FAIL (doctor): $*"; [ -f "$W/out" ] && cat "$W/out"; exit 1; }

"$SIM" --listen 127.0.0.1:0 --kubeconfig-out "$W/kubeconfig" >"$W/kubesim.log" 2>&1 &
simpid=$!
for _ in $(seq 100); do [ -s "$W/kubeconfig" ] && break; sleep 0.1; done
[ -s "$W/kubeconfig" ] || fail "the double did not start"
export KUBECONFIG=$W/kubeconfig
k() { kubectl "$@" >>"$W/kubectl.log" 2>&1 || fail "kubectl $*: $(tail -3 "$W/kubectl.log")"; }
CFG=deploy/overlays/openshift/gpuaas.yaml

# --- the healthy cluster ---
images=$("$BIN" deploy prepull --config "$CFG" | sed -n 's/^#   \([^ ]*\)  (.*/\1/p')
[ "$(wc -l <<<"$images")" -ge 5 ] || fail "deploy prepull lists $(wc -l <<<"$images") images"
jq --argjson imgs "$(jq -R . <<<"$images" | jq -s 'map({names: [.], sizeBytes: 1})')" \
  '.items[0] | del(.metadata.resourceVersion, .metadata.uid) | .status.images = $imgs' \
  tests/data/nodes/success.json >"$W/node.json"
k create --validate=false -f "$W/node.json"
k apply --server-side -f deploy/namespace/namespace.yaml
kubectl kustomize deploy/overlays/openshift >"$W/openshift.yaml"
python3 - "$W/openshift.yaml" "$W/rbac.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
keep = [d for d in docs if d["kind"] in ("ClusterRole", "ClusterRoleBinding")
        and d["metadata"]["name"] == "gpuaas-reconciler"]
assert len(keep) == 2, keep
yaml.safe_dump_all(keep, open(sys.argv[2], "w"))
PY
k apply --server-side -f "$W/rbac.yaml"
cat >"$W/objects.yaml" <<'YAML'
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: lvms-vg1}
provisioner: topolvm.io
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: clusters.postgresql.cnpg.io}
spec:
  group: postgresql.cnpg.io
  scope: Namespaced
  names: {plural: clusters, singular: cluster, kind: Cluster, listKind: ClusterList}
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
---
apiVersion: nvidia.com/v1
kind: ClusterPolicy
metadata: {name: gpu-cluster-policy}
spec:
  mig: {strategy: mixed}
  devicePlugin: {config: {name: device-plugin-config, default: default}}
status: {state: ready}
---
apiVersion: imageregistry.operator.openshift.io/v1
kind: Config
metadata: {name: cluster}
spec: {managementState: Managed}
---
apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata: {name: gpuaas-db, namespace: gpuaas-system}
spec: {instances: 1}
status: {readyInstances: 1, phase: Cluster in healthy state}
YAML
k create -f "$W/objects.yaml"
run() { set +e; "$BIN" doctor --config "$CFG" >"$W/out" 2>&1; rc=$?; set -e; }
run
[ "$rc" = 0 ] || fail "healthy cluster: exit $rc"
grep -q '^✗' "$W/out" && fail "healthy cluster: a failed check"
for want in "Kubernetes v1" "ClusterPolicy gpu-cluster-policy is ready" "MIG strategy mixed" \
  "time-slicing" "node sno-1: 4 nvidia.com/mig-1g.24gb" "node sno-1: has" "storage class lvms-vg1" \
  "CRD clusters.postgresql.cnpg.io" "Cluster gpuaas-db has 1 of 1" "reconciler rights: all" \
  "internal registry is Managed"; do
  grep -q "^✓ .*$want" "$W/out" || fail "healthy: no ✓ line with \"$want\""
done

# --- broken states: each fails with its ✗ and the fix ---
broken() { # broken WHAT PATTERN FIX_PATTERN: run doctor, expect exit 1, the ✗ line and the fix
  run
  [ "$rc" = 1 ] || fail "$1: exit $rc, want 1"
  grep -q "^✗ .*$2" "$W/out" || fail "$1: no ✗ line with \"$2\""
  grep -A1 "^✗ .*$2" "$W/out" | grep -q "^    fix: .*$3" || fail "$1: the fix does not say \"$3\""
  echo "doctor: $1 -> $(grep -m1 "^✗ .*$2" "$W/out")"
}
patch_cp() { k patch clusterpolicies.nvidia.com gpu-cluster-policy --type merge -p "$1"; }
patch_cp '{"status":{"state":"notReady"}}'
broken "GPU operator not ready" "ClusterPolicy gpu-cluster-policy is notReady" "clusterpolicies"
patch_cp '{"status":{"state":"ready"},"spec":{"mig":{"strategy":"single"}}}'
broken "MIG strategy single" "MIG strategy is single" "gpuaas gpu-config"
patch_cp '{"spec":{"mig":{"strategy":"mixed"},"devicePlugin":{"config":{"name":"other"}}}}'
broken "time-slicing not configured" "devicePlugin.config.name is other" "gpuaas gpu-config"
patch_cp '{"spec":{"devicePlugin":{"config":{"name":"device-plugin-config"}}}}'

k label node sno-1 nvidia.com/mig.config.state=failed --overwrite
broken "MIG configuration failed" "node sno-1: nvidia.com/mig.config.state is failed" "mig-manager"
k label node sno-1 nvidia.com/mig.config.state=success --overwrite

k delete node sno-1
jq '.status.images |= .[1:]' "$W/node.json" >"$W/node-missing.json"
k create --validate=false -f "$W/node-missing.json"
broken "workspace image not pulled" "node sno-1: does not have .*reconciler.workspace_image" "deploy prepull"
k delete node sno-1
k create --validate=false -f "$W/node.json"

k patch configs.imageregistry.operator.openshift.io cluster --type merge -p '{"spec":{"managementState":"Removed"}}'
broken "internal registry removed (single node, no storage)" "internal registry is Removed" "deploy/openshift-registry"
k patch configs.imageregistry.operator.openshift.io cluster --type merge -p '{"spec":{"managementState":"Managed"}}'

k delete storageclass lvms-vg1
broken "storage class missing" "storage class lvms-vg1" "LVMCluster"
sed -n '1,4p' "$W/objects.yaml" >"$W/sc.yaml"
k create -f "$W/sc.yaml"

k patch clusters.postgresql.cnpg.io gpuaas-db -n gpuaas-system --type merge -p '{"status":{"readyInstances":0}}'
broken "database not ready" "Cluster gpuaas-db has 0 of 1" "describe cluster"
k patch clusters.postgresql.cnpg.io gpuaas-db -n gpuaas-system --type merge -p '{"status":{"readyInstances":1}}'
k delete crd clusters.postgresql.cnpg.io
broken "CloudNativePG missing" "CRD clusters.postgresql.cnpg.io" "CloudNativePG operator"
python3 -c 'import sys, yaml; yaml.safe_dump([d for d in yaml.safe_load_all(open(sys.argv[1])) if d["kind"] == "CustomResourceDefinition"][0], sys.stdout)' \
  "$W/objects.yaml" >"$W/crd.yaml"
k create -f "$W/crd.yaml"

# the reconciler's ClusterRole without its namespace rights
python3 - "$W/rbac.yaml" "$W/rbac-less.yaml" <<'PY'
import sys, yaml
docs = list(yaml.safe_load_all(open(sys.argv[1])))
for d in docs:
    if d["kind"] == "ClusterRole":
        d["rules"] = [r for r in d["rules"] if "namespaces" not in r.get("resources", [])]
yaml.safe_dump_all(docs, open(sys.argv[2], "w"))
PY
k apply --server-side --force-conflicts -f "$W/rbac-less.yaml"
broken "reconciler rights" "reconciler rights: .* calls denied" "ClusterRole gpuaas-reconciler"
grep -q "may not create namespaces" "$W/out" || fail "the denied call is not named"
k apply --server-side --force-conflicts -f "$W/rbac.yaml"
run
[ "$rc" = 0 ] || fail "repaired cluster: exit $rc"

# --- reconciler.expose httproute: the Gateway the sessions' HTTPRoutes attach to ---
CFG0=$CFG
sed 's/^reconciler:$/reconciler:\n  expose: httproute\n  gateway_name: gateway\n  gateway_namespace: gateway-system\n  gateway_section: sessions/' \
  "$CFG0" >"$W/gw.yaml"
grep -q "^  expose: httproute" "$W/gw.yaml" || fail "could not write the httproute configuration"
CFG=$W/gw.yaml
broken "Gateway missing" "gateway gateway-system/gateway: " "deploy/gateway/gateway-example.yaml"
k create namespace gateway-system
domain=$(sed -n 's/^  ingress_domain: *//p' "$CFG0" | tr -d "'\"")
# the example Gateway with the configured domain; then one thing at a time wrong
sed "s/\"\*\.gpu\.example\.com\"/\"*.$domain\"/" deploy/gateway/gateway-example.yaml >"$W/gateway.yaml"
grep -q "\*\.$domain" "$W/gateway.yaml" || fail "could not set the Gateway's hostname"
python3 - "$W/gateway.yaml" <<'PY'
import sys, yaml, json
g = yaml.safe_load(open(sys.argv[1]))
d = sys.argv[1].rsplit("/", 1)[0]
def save(name, obj): yaml.safe_dump(obj, open(f"{d}/{name}", "w"))
same = json.loads(json.dumps(g)); same["spec"]["listeners"][1]["allowedRoutes"]["namespaces"] = {"from": "Same"}
save("gw-same.yaml", same)
other = json.loads(json.dumps(g)); other["spec"]["listeners"][1]["allowedRoutes"]["namespaces"]["selector"]["matchLabels"] = {"team": "ml"}
save("gw-label.yaml", other)
host = json.loads(json.dumps(g)); host["spec"]["listeners"][1]["hostname"] = "*.elsewhere.example"
save("gw-host.yaml", host)
nolist = json.loads(json.dumps(g)); nolist["spec"]["listeners"] = nolist["spec"]["listeners"][:1]
save("gw-nolistener.yaml", nolist)
PY
gw_state() { k delete gateway gateway -n gateway-system --ignore-not-found; k create -f "$1"; }
gw_state "$W/gw-same.yaml"
broken "Gateway admits only its own namespace" "takes no session routes: listener sessions: allowedRoutes.namespaces.from is Same" "gateway-example"
gw_state "$W/gw-label.yaml"
broken "Gateway selector the sessions lack" "listener sessions: its selector asks for team=ml" "gateway-example"
gw_state "$W/gw-host.yaml"
broken "Gateway listener for another domain" "its hostname \*.elsewhere.example does not cover" "gateway-example"
gw_state "$W/gw-nolistener.yaml"
broken "Gateway without the sessions listener" "has no listener sessions" "gateway-example"
gw_state "$W/gateway.yaml"
run
[ "$rc" = 0 ] || fail "Gateway as the example: exit $rc"
grep -q "^✓ gateway gateway-system/gateway takes the session routes for \*\.$domain" "$W/out" ||
  fail "Gateway as the example: no ✓ line"
k patch gateway gateway -n gateway-system --subresource=status --type merge \
  -p '{"status":{"conditions":[{"type":"Programmed","status":"False","reason":"Invalid","message":"no address assigned","lastTransitionTime":"2026-01-01T00:00:00Z","observedGeneration":1}]}}'
broken "Gateway not programmed" "gateway gateway-system/gateway is not programmed: no address assigned" "describe gateway"
CFG=$CFG0

# --database: the connection and the schema version (SQLite stands in for the database)
sed "s#^  url: .*#  url: sqlite://$W/gpuaas.db#" "$CFG" >"$W/db.yaml"
CFG=$W/db.yaml
run_db() { set +e; "$BIN" doctor --config "$CFG" --database >"$W/out" 2>&1; rc=$?; set -e; }
run_db
[ "$rc" = 0 ] && grep -q "^✓ database: reachable, schema version 0, [0-9]* migrations pending" "$W/out" ||
  fail "fresh database: exit $rc"
"$BIN" migrate --config "$CFG" >/dev/null || fail "migrate"
run_db
[ "$rc" = 0 ] && grep -q "^✓ database: reachable, schema version [0-9]* (this release's)" "$W/out" ||
  fail "migrated database: exit $rc"
python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("INSERT INTO schema_migrations VALUES (9999, 0)"); c.commit()' "$W/gpuaas.db"
run_db
[ "$rc" = 1 ] && grep -q "^✗ database: schema version 9999 is newer" "$W/out" || fail "newer schema: exit $rc"
echo "doctor: newer schema -> $(grep -m1 '^✗ database' "$W/out")"
sed "s#^  url: .*#  url: postgresql://127.0.0.1:9/gpuaas?connect_timeout=2#" deploy/overlays/openshift/gpuaas.yaml >"$W/db.yaml"
run_db
[ "$rc" = 1 ] && grep -A1 "^✗ database: " "$W/out" | grep -q "fix: check database.url" || fail "unreachable database: exit $rc"
echo "doctor: ok"
