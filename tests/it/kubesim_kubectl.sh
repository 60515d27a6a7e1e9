#!/usr/bin/env bash
# kubectl against gpuaas-kubesim: discovery, get/describe/apply/delete on every kind gpuaas uses,
# strict schema validation, quota admission, namespace termination, conflicts, TLS + token, faults.
set -euo pipefail
cd "${GPUAAS_SRC:-$(dirname "$0")/../..}"
build=${GPUAAS_BUILD:-$PWD/build}
sim=$build/gpuaas-kubesim
data=tests/it/kubesim
work=$(mktemp -d "${TMPDIR:-/tmp}/kubesim-it.XXXXXX")
pid=""
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    if [ -n "${GPUAAS_TEST_OUTPUT:-}" ]; then cp "$work"/*.log "$GPUAAS_TEST_OUTPUT"/ 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
fails=0
ok() { echo "ok - $*"; }
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }
# expect_out DESC PATTERN CMD...: CMD succeeds and its output matches PATTERN (grep -E)
expect_out() {
    local desc=$1 pat=$2; shift 2
    local out
    if out=$("$@" 2>&1) && grep -qE -- "$pat" <<<"$out"; then ok "$desc"; else fail "$desc: $out"; fi
}
# expect_fail DESC PATTERN CMD...: CMD fails and its output matches PATTERN
expect_fail() {
    local desc=$1 pat=$2; shift 2
    local out
    if out=$("$@" 2>&1); then fail "$desc: unexpectedly succeeded: $out"
    elif grep -qE -- "$pat" <<<"$out"; then ok "$desc"; else fail "$desc: $out"; fi
}
start_sim() {
    local name=$1; shift
    rm -f "$work/$name.kubeconfig"
    "$sim" --listen 127.0.0.1:0 --kubeconfig-out "$work/$name.kubeconfig" "$@" >"$work/$name.log" 2>&1 &
    pid=$!
    # the double loads two OpenAPI documents first: allow a loaded machine 60 s
    for _ in $(seq 1200); do
        [ -s "$work/$name.kubeconfig" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    [ -s "$work/$name.kubeconfig" ] || { echo "kubesim did not start"; cat "$work/$name.log"; exit 1; }
    export KUBECONFIG=$work/$name.kubeconfig
    server=$(awk '/server:/ {print $2}' "$KUBECONFIG")
}
stop_sim() {
    kill -TERM "$pid"
    local rc=0
    wait "$pid" || rc=$?
    pid=""
    [ "$rc" = 0 ] && ok "SIGTERM exits 0" || fail "SIGTERM exit status $rc"
}

kinds=(namespaces serviceaccounts configmaps secrets persistentvolumeclaims services pods
       resourcequotas limitranges nodes deployments.apps rolebindings.rbac.authorization.k8s.io
       clusterrolebindings.rbac.authorization.k8s.io clusterroles.rbac.authorization.k8s.io
       networkpolicies.networking.k8s.io ingresses.networking.k8s.io leases.coordination.k8s.io
       routes.route.openshift.io)

# ---------- plain HTTP ----------
start_sim plain --quota-delay-ms 100 --pod-ready-delay-ms 200 --ns-delete-delay-ms 1500
expect_out "discovery: api-resources lists every kind" "routes.*route.openshift.io/v1.*true.*Route" \
    kubectl api-resources
names=$(kubectl api-resources -o name)
for k in "${kinds[@]}"; do
    if grep -qx -- "$k" <<<"$names"; then ok "discovery: $k is known"; else fail "discovery: $k missing"; fi
done
expect_out "get namespaces" "default +Active" kubectl get namespaces
expect_out "get all (category)" "NAME|No resources found" kubectl get all -A
expect_out "apply creates every kind" "route.route.openshift.io/workspace created" \
    kubectl apply -f $data/objects.yaml
expect_out "re-apply is idempotent" "configmap/proxy unchanged" kubectl apply -f $data/objects.yaml
for k in "${kinds[@]}"; do
    case $k in
    namespaces | nodes | clusterrole*) expect_out "get $k" "NAME" kubectl get "$k" ;;
    *) expect_out "get $k -n kt" "NAME" kubectl get -n kt "$k" ;;
    esac
done
expect_out "describe namespace shows quota and limits" "requests.nvidia.com/gpu +0 +0" \
    kubectl describe namespace kt
for k in serviceaccount/workspace configmap/proxy secret/token pvc/home service/workspace \
    resourcequota/quota limitrange/defaults deployment/workspace rolebinding/user \
    networkpolicy/deny-other-namespaces ingress/workspace lease/gpuaas-reconciler; do
    expect_out "describe $k" "Name: +${k#*/}" kubectl -n kt describe "$k"
done
expect_out "describe node" "Name: +gpu-node-1" kubectl describe node gpu-node-1
expect_out "describe clusterrolebinding" "Name: +gpuaas-test-binding" \
    kubectl describe clusterrolebinding gpuaas-test-binding
expect_out "deployment becomes Available" "condition met" \
    kubectl -n kt wait --for=condition=Available deployment/workspace --timeout=10s
expect_out "deployment pod is Running and Ready" "1/1 +Running" kubectl -n kt get pods -l app=workspace
expect_out "LimitRange defaulted the pod's requests" '"cpu":"100m"' \
    kubectl -n kt get pods -l app=workspace -o jsonpath='{.items[0].spec.containers[0].resources.requests}'
expect_out "route is admitted" "^True$" \
    kubectl -n kt get route workspace -o 'jsonpath={.status.ingress[0].conditions[?(@.type=="Admitted")].status}'
expect_out "quota status.hard filled by the controller" "^0$" \
    kubectl -n kt get resourcequota quota -o 'jsonpath={.status.hard.requests\.nvidia\.com/gpu}'
expect_out "quota status.used counts the pod" "^1$" \
    kubectl -n kt get resourcequota quota -o 'jsonpath={.status.used.pods}'
expect_fail "apply of an unknown field is refused (strict)" \
    'strict decoding error: unknown field "spec.replicaz"' kubectl apply -f $data/invalid.yaml
expect_fail "apply of a mistyped field is refused" "cannot unmarshal object into Go struct field ConfigMap.data of type string" \
    kubectl apply -f $data/mistyped.yaml
expect_fail "server-side apply of an unknown field is refused" 'unknown field "spec.replicaz"' \
    kubectl apply --server-side -f $data/invalid.yaml
expect_fail "quota refuses a GPU pod when the GPU hard limit is 0" \
    'pods "wants-gpu" is forbidden: exceeded quota: quota, requested: requests.nvidia.com/gpu=1, used: requests.nvidia.com/gpu=0, limited: requests.nvidia.com/gpu=0' \
    kubectl apply -f $data/gpu-pod.yaml
expect_out "server-side apply creates" "configmap/late serverside-applied" \
    kubectl apply --server-side --field-manager=gpuaas -f $data/late.yaml
expect_out "server-side apply merges maps" '"a":"b".*"c":"d"|"c":"d".*"a":"b"' bash -c \
    "kubectl -n kt patch configmap late --type=merge -p '{\"data\":{\"c\":\"d\"}}' >/dev/null && \
     kubectl -n kt get configmap late -o jsonpath='{.data}'"
apply_cm() { curl -s -w ' HTTP%{http_code}' -X PATCH -H 'Content-Type: application/apply-patch+yaml' \
    "$server/api/v1/namespaces/kt/configmaps/ssa?fieldManager=gpuaas&force=true" --data-binary "$1"; }
expect_out "apply-patch+yaml creates an absent object (201)" 'HTTP201' apply_cm $'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\n  labels: {a: "1"}\ndata: {x: "1"}\n'
expect_out "apply-patch+yaml merges into an existing object (200)" '"labels":\{"a":"1","b":"2"\}.*HTTP200' \
    apply_cm $'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\n  labels: {b: "2"}\ndata: {x: "2"}\n'
expect_out "an identical apply keeps the resourceVersion" 'same' bash -c "
    a=\$(kubectl -n kt get cm ssa -o jsonpath='{.metadata.resourceVersion}');
    curl -s -X PATCH -H 'Content-Type: application/apply-patch+yaml' \
      '$server/api/v1/namespaces/kt/configmaps/ssa?fieldManager=gpuaas' --data-binary '{\"data\":{\"x\":\"2\"}}' >/dev/null;
    b=\$(kubectl -n kt get cm ssa -o jsonpath='{.metadata.resourceVersion}'); [ \"\$a\" = \"\$b\" ] && echo same"
expect_out "apply without fieldManager is 400" '"code":400' curl -s -X PATCH \
    -H 'Content-Type: application/apply-patch+yaml' "$server/api/v1/namespaces/kt/configmaps/ssa" --data-binary 'data: {}'
expect_out "json patch (RFC 6902) add/replace/remove" '"x":"3"' bash -c "
    kubectl -n kt patch configmap ssa --type=json -p '[{\"op\":\"add\",\"path\":\"/metadata/labels/c\",\"value\":\"3\"},{\"op\":\"replace\",\"path\":\"/data/x\",\"value\":\"3\"},{\"op\":\"remove\",\"path\":\"/metadata/labels/a\"}]' >/dev/null &&
    kubectl -n kt get configmap ssa -o jsonpath='{.metadata.labels.c}{.metadata.labels.a}{.data}'"
expect_fail "json patch on a missing path is refused" 'doc is missing key: /data/nope' \
    kubectl -n kt patch configmap ssa --type=json -p '[{"op":"remove","path":"/data/nope"}]'
expect_out "label selector =" "^kt$" kubectl get ns -l app.kubernetes.io/managed-by=gpuaas -o 'jsonpath={.items[*].metadata.name}'
expect_out "label selector in" "^kt$" kubectl get ns -l 'app.kubernetes.io/managed-by in (gpuaas,x)' -o 'jsonpath={.items[*].metadata.name}'
expect_out "label selector !=" "default" kubectl get ns -l 'app.kubernetes.io/managed-by!=gpuaas' -o name
expect_out "label selector notin + exists" "gpu-node-1" kubectl get nodes -l 'nvidia.com/gpu.product,nvidia.com/gpu.product notin (A100)' -o name
expect_out "get missing object is NotFound" 'configmaps "nope" not found' bash -c "kubectl -n kt get configmap nope 2>&1 || true"
rv=$(kubectl -n kt get configmap proxy -o jsonpath='{.metadata.resourceVersion}')
kubectl -n kt label configmap proxy touched=yes >/dev/null
expect_out "PUT with a stale resourceVersion is 409 Conflict" '"reason":"Conflict".*"code":409' \
    curl -s -X PUT -H 'Content-Type: application/json' "$server/api/v1/namespaces/kt/configmaps/proxy" \
    -d "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"proxy\",\"namespace\":\"kt\",\"resourceVersion\":\"$rv\"}}"
expect_out "POST of an existing object is 409 AlreadyExists" '"reason":"AlreadyExists".*"code":409' \
    curl -s -X POST -H 'Content-Type: application/json' "$server/api/v1/namespaces/kt/configmaps" \
    -d '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"proxy"}}'
expect_out "an invalid name is 422 Invalid" '"message":"ConfigMap \\"Bad_Name\\" is invalid: metadata.name: Invalid value.*"reason":"Invalid".*"code":422' \
    curl -s -X POST -H 'Content-Type: application/json' "$server/api/v1/namespaces/kt/configmaps" \
    -d '{"metadata":{"name":"Bad_Name"}}'
expect_out "create in a missing namespace is 404" 'namespaces \\"nowhere\\" not found.*"reason":"NotFound"' \
    curl -s -X POST -H 'Content-Type: application/json' "$server/api/v1/namespaces/nowhere/configmaps" \
    -d '{"metadata":{"name":"x"}}'
expect_out "POST on a named resource is 405 MethodNotAllowed" '"reason":"MethodNotAllowed"' \
    curl -s -X POST -H 'Content-Type: application/json' "$server/api/v1/namespaces/kt/configmaps/proxy" -d '{}'
expect_out "watch streams events" '"type":"ADDED".*"name":"proxy"' \
    curl -s -m 2 "$server/api/v1/namespaces/kt/configmaps?watch=1&timeoutSeconds=1"
rv=$(curl -s "$server/api/v1/namespaces/kt/configmaps" | sed -E 's/.*"resourceVersion":"([0-9]+)".*"items".*/\1/')
# created before the watch starts: a watch from rv replays it (no race with a timed create)
curl -s -X POST -H 'Content-Type: application/json' "$server/api/v1/namespaces/kt/configmaps" \
    -d '{"metadata":{"name":"watched"}}' >/dev/null
out=$(curl -s -m 30 "$server/api/v1/namespaces/kt/configmaps?watch=1&resourceVersion=$rv&timeoutSeconds=1")
if grep -q '"type":"ADDED".*"name":"watched"' <<<"$out" && ! grep -q '"name":"proxy"' <<<"$out"; then
    ok "watch from a resourceVersion sends only later events"
else fail "watch from a resourceVersion: $out"; fi
expect_out "deployment whose pods exceed the quota reports ReplicaFailure with the quota text" \
    'exceeded quota: quota, requested: requests.nvidia.com/gpu=1' bash -c "
    kubectl apply -f $data/gpu-deployment.yaml >/dev/null &&
    for i in \$(seq 40); do
      m=\$(kubectl -n kt get deployment gpu -o jsonpath='{.status.conditions[?(@.type==\"ReplicaFailure\")].message}')
      [ -n \"\$m\" ] && { echo \"\$m\"; break; }; sleep 0.1; done"
expect_out "deleting a deployment deletes its pods" "No resources found" bash -c "
    kubectl -n kt delete deployment workspace >/dev/null && kubectl -n kt get pods -l app=workspace 2>&1"
kubectl -n kt patch resourcequota quota --type=merge -p '{"spec":{"hard":{"pods":"0"}}}' >/dev/null
# admission enforces status.hard, which the quota controller fills after --quota-delay-ms
for _ in $(seq 600); do
    [ "$(kubectl -n kt get resourcequota quota -o 'jsonpath={.status.hard.pods}')" = 0 ] && break
    sleep 0.1
done
expect_out "quota admission runs before the already-exists check" 'exceeded quota.*"reason":"Forbidden"' \
    curl -s -X POST -H 'Content-Type: application/json' "$server/api/v1/namespaces/kt/persistentvolumeclaims" \
    -d '{"metadata":{"name":"home"},"spec":{"accessModes":["ReadWriteOnce"],"storageClassName":"standard","resources":{"requests":{"storage":"500Gi"}}}}'
curl -s -X POST -H 'Content-Type: application/json' "$server/api/v1/namespaces/kt/configmaps" \
    -d '{"metadata":{"name":"held","finalizers":["example.com/hold"]}}' >/dev/null
kubectl -n kt delete configmap held --wait=false >/dev/null
expect_out "an object with finalizers is only marked for deletion" "deletionTimestamp" \
    kubectl -n kt get configmap held -o yaml
expect_out "removing the last finalizer deletes it" "NotFound" bash -c "
    kubectl -n kt patch configmap held --type=merge -p '{\"metadata\":{\"finalizers\":null}}' >/dev/null;
    kubectl -n kt get configmap held 2>&1 || true"
expect_out "delete" 'configmap "late" deleted' kubectl -n kt delete configmap late
# A foreign spec finalizer holds kt in Terminating for as long as the next checks take (the
# --ns-delete-delay-ms window alone was outrun by slow kubectl starts on a loaded machine).
finalize_kt() {
    curl -s -X PUT -H 'Content-Type: application/json' "$server/api/v1/namespaces/kt/finalize" \
        -d "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"kt\"},\"spec\":{\"finalizers\":$1}}" >/dev/null
}
finalize_kt '["kubernetes","example.com/hold"]'
expect_out "namespace delete goes Terminating" "Terminating" bash -c \
    "kubectl delete namespace kt --wait=false >/dev/null && kubectl get namespace kt"
expect_fail "create in a Terminating namespace is refused" \
    'unable to create new content in namespace kt because it is being terminated' \
    kubectl apply -f $data/late.yaml
# the namespace controller removes the contents after --ns-delete-delay-ms: wait for that
for _ in $(seq 600); do
    grep -q "No resources found" <<<"$(kubectl get configmaps -n kt 2>&1)" && break
    sleep 0.1
done
expect_out "namespaced contents are gone" "No resources found" bash -c "kubectl get configmaps -n kt 2>&1"
expect_out "the namespace stays while a finalizer is left" "Terminating" kubectl get namespace kt
finalize_kt '[]'
expect_out "namespace disappears when its last finalizer goes" "NotFound|not found" \
    bash -c "kubectl get namespace kt 2>&1 || true"

# faults
curl -s -X POST "$server/_sim/faults" -d '{"fault":"500","nth":1}' >/dev/null
expect_out "fault: the Nth request gets a 500" '"code":500' curl -s "$server/api/v1/namespaces"
expect_out "fault: the next request succeeds" '"kind":"NamespaceList"' curl -s "$server/api/v1/namespaces"
curl -s -X POST "$server/_sim/faults" -d '{"fault":"429","rate":1,"path":"/configmaps"}' >/dev/null
expect_out "fault: 429 with Retry-After on matching paths" 'Retry-After: 1' \
    curl -s -i "$server/api/v1/namespaces/default/configmaps"
expect_out "fault: other paths unaffected" '"kind":"NamespaceList"' curl -s "$server/api/v1/namespaces"
curl -s -X POST "$server/_sim/faults" -d '{"fault":"drop","nth":1}' >/dev/null
expect_fail "fault: connection dropped" "" curl -sf "$server/api/v1/namespaces"
curl -s -X DELETE "$server/_sim/faults" >/dev/null
stop_sim

# ---------- HTTPS with a bearer token ----------
start_sim tls --tls --token test-token-123 --quota-delay-ms 50 --ns-delete-delay-ms 100
expect_out "kubeconfig carries the CA and the token" "certificate-authority-data" cat "$KUBECONFIG"
case $server in https://*) ok "server is https" ;; *) fail "server is $server" ;; esac
expect_out "kubectl over TLS with the token" "default +Active" kubectl get namespaces
expect_out "apply over TLS" "namespace/kt created" kubectl apply -f $data/objects.yaml
expect_out "a request without the token is 401" '"code":401' curl -sk "$server/api/v1/namespaces"
expect_out "a wrong token is 401" '"reason":"Unauthorized"' \
    curl -sk -H 'Authorization: Bearer wrong' "$server/api/v1/namespaces"
curl -sk -H "Authorization: Bearer test-token-123" -X PUT -H 'Content-Type: application/json' \
    "$server/api/v1/namespaces/kt/finalize" \
    -d '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"kt"},"spec":{"finalizers":["kubernetes","example.com/x"]}}' >/dev/null
kubectl delete namespace kt --wait=false >/dev/null
# the namespace controller removes the contents after --ns-delete-delay-ms: wait for that
for _ in $(seq 600); do
    grep -q "No resources found" <<<"$(kubectl -n kt get configmaps 2>&1)" && break
    sleep 0.1
done
expect_out "the contents are removed meanwhile" "No resources found" bash -c "kubectl -n kt get configmaps 2>&1"
expect_out "a namespace with a foreign spec finalizer stays Terminating" "Terminating" kubectl get namespace kt
curl -sk -H "Authorization: Bearer test-token-123" -X PUT -H 'Content-Type: application/json' \
    "$server/api/v1/namespaces/kt/finalize" \
    -d '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"kt"},"spec":{"finalizers":[]}}' >/dev/null
expect_out "/finalize with no finalizers left removes the namespace" "NotFound|not found" \
    bash -c "kubectl get namespace kt 2>&1 || true"
stop_sim

# ---------- faults from the command line ----------
start_sim flags --fail-nth 3 --fault 500 --node-resources nvidia.com/gpu=8,nvidia.com/mig-1g.24gb=16
expect_out "--node-resources: the node advertises GPUs" '"nvidia.com/gpu":"8"' \
    curl -s "$server/api/v1/nodes/kubesim-node"
expect_out "--fail-nth: request 2 succeeds" '"kind":"APIVersions"' curl -s "$server/api"
expect_out "--fail-nth: request 3 fails" '"code":500' curl -s "$server/api"
expect_out "--fail-nth: request 4 succeeds" '"kind":"APIVersions"' curl -s "$server/api"
stop_sim
start_sim every --fault 429 --fault-every 2
expect_out "--fault-every 2: request 1 succeeds" '"kind":"APIVersions"' curl -s "$server/api"
expect_out "--fault-every 2: request 2 gets 429" '"code":429' curl -s "$server/api"
expect_out "--fault-every 2: request 3 succeeds" '"kind":"APIVersions"' curl -s "$server/api"
expect_out "--fault-every 2: request 4 gets 429" '"code":429' curl -s "$server/api"
stop_sim
for bad in "--fault-rate 2" "--fault-rate x" "--fault-every 0" "--fail-nth -1" \
    "--fault-every 3 --fault-rate 0.1"; do
    # shellcheck disable=SC2086 # the options are split on purpose
    expect_fail "refused: $bad" "must be|give one of" \
        "$sim" --listen 127.0.0.1:0 --kubeconfig-out "$work/bad.kubeconfig" --fault 429 $bad
done

echo "$fails failure(s)"
[ "$fails" = 0 ]
