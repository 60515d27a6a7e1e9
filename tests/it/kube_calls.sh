#!/usr/bin/env bash
# The reconciler's Kubernetes API calls, observed: the real `gpuaas server` and
# `gpuaas reconciler` against the API server double, which logs every request it serves as
# its RBAC attributes (gpuaas-kubesim --request-log: "VERB GROUP/RESOURCE[/SUB] CLIENT").
# Per platform (kubernetes, openshift; and kubernetes with reconciler.expose httproute, whose
# session must get its HTTPRoute, have it repaired, and lose it at the end), with the node cache's volumes on, a session is
# provisioned, becomes ACTIVE, has a NetworkPolicy deleted and re-applied, and is canceled; stale objects labelled ours (a namespace that
# then stays Terminating, a PersistentVolume, a RoleBinding, a ClusterRoleBinding) are
# collected by the GC sweep, which also finalizes the stuck namespace (finalize_stuck) and
# force-deletes the canceled session's workspace pod, which ignores SIGTERM.
# Then `deploy_check.py requests` fails when
#  - the reconciler made a request that src/kube/kube_calls.c (`gpuaas deploy kube-calls`,
#    which tests/it/deploy.sh compares with the ClusterRole) does not list, or
#  - kube_calls.c lists a call no test made, unless it is marked /* failure path */ there
#    (reached only after an error, e.g. the GET after a 403 exceeded quota); a call marked so
#    that a test makes fails too, so the marks stay true.
# Requests of kubectl and curl (this script's own) are told apart by their User-Agent.
set -euo pipefail
BUILD=${GPUAAS_BUILD:-build}
SRC=${GPUAAS_SRC:-.}
BIN=$BUILD/gpuaas
SIM=$BUILD/gpuaas-kubesim
CHECK="python3 $SRC/tests/lib/deploy_check.py"
for b in "$BIN" "$SIM"; do [ -x "$b" ] || { echo "kube_calls: $b not built"; exit 1; }; done
for c in kubectl jq python3 curl; do
  command -v $c >/dev/null || { echo "kube_calls: $c is required"; exit 1; }
done

NAME=kube_calls
# shellcheck source=../lib/it_common.sh
. "$SRC/tests/lib/it_common.sh"
gone() { ! KUBECONFIG=$WORK/kubeconfig kubectl get "$@" >/dev/null 2>&1; }

run_platform() {
  local p=$1 expose=${2:-} log=$1 ing
  [ -z "$expose" ] || log=$expose
  rm -f "$WORK/kubeconfig"
  # namespaces take 4 s to terminate, so that the stale one is seen stuck (limit 1 s)
  "$SIM" --listen 127.0.0.1:0 --kubeconfig-out "$WORK/kubeconfig" --ns-delete-delay-ms 4000 \
    --request-log "$WORK/requests-$log.log" >>"$WORK/kubesim.log" 2>&1 &
  PIDS+=($!)
  wait_for 10 "the test double" test -s "$WORK/kubeconfig"
  kc create --validate=false -f "$SRC/tests/data/nodes/success.json" || fail "cannot register the node"
  # stale objects labelled ours that no booking owns: the GC sweep deletes them
  cat >"$WORK/stale.yaml" <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: gpuaas-9999
  labels: {app.kubernetes.io/managed-by: gpuaas, gpuaas.io/reservation: "9999"}
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: gpuaas-9999-models
  labels: {app.kubernetes.io/managed-by: gpuaas, gpuaas.io/reservation: "9999"}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadOnlyMany]
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: /var/lib/gpuaas/cache, type: Directory}
  claimRef: {namespace: gpuaas-9999, name: models}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: stale-tenant
  namespace: default
  labels: {app.kubernetes.io/managed-by: gpuaas}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: gpuaas-tenant}
subjects: [{kind: User, apiGroup: rbac.authorization.k8s.io, name: mallory}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: gpuaas-stale
  labels: {app.kubernetes.io/managed-by: gpuaas}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: gpuaas-tenant}
subjects: [{kind: User, apiGroup: rbac.authorization.k8s.io, name: mallory}]
EOF
  kc create namespace default || true
  kc apply --server-side --field-manager=test -f "$WORK/stale.yaml" || fail "cannot create the stale objects"

  cat >"$WORK/gpuaas.yaml" <<EOF
log_level: debug
server:
  listen: 127.0.0.1:0 # start_server: the kernel picks the port
  web_root: $WORK
database:
  url: sqlite://$WORK/gpuaas-$p.db
$(reference_pool)
reconciler:
  platform: $p
  interval_seconds: 1
  gc_interval_seconds: 1
  terminating_limit_seconds: 1
  force_delete_after_seconds: 1
  finalize_stuck: true
  ingress_domain: apps.test
  ingress_namespace: ingress
  storage_class: standard
$([ -z "$expose" ] || printf '  expose: %s\n  gateway_name: gateway\n  gateway_namespace: gateway-system\n  gateway_section: sessions' "$expose")
cache:
  enabled: true
  store_dir: $WORK/store
EOF
  "$BIN" config check --config "$WORK/gpuaas.yaml" >/dev/null || fail "config check ($p)"
  start_server "$WORK/gpuaas.yaml"
  local admin=$ADMIN id ns now
  now=$(date +%s)
  req POST /api/v1/reservations "{\"gpu_type\":\"nvidia.com/mig-1g.24gb\",\"gpu_count\":1,\"starts_at\":\"$(iso $((now - 60)))\",\"ends_at\":\"$(iso $((now + 3600)))\",\"purpose\":\"kube calls\"}" "$admin"
  expect 201 "book"
  id=$(jf .id)

  "$BIN" reconciler --config "$WORK/gpuaas.yaml" --kubeconfig "$WORK/kubeconfig" >"$WORK/reconciler.log" 2>&1 &
  PIDS+=($!)
  state() { req GET "/api/v1/reservations/$id" "" "$admin"; [ "$(jf .state)" = "$1" ]; }
  wait_for 30 "session $id ACTIVE ($p)" state ACTIVE
  ns=$(jf .session.namespace)
  if [ "$expose" = httproute ]; then
    # the session is published by its HTTPRoute alone: attached to the configured Gateway's
    # listener, the session's host, the gate's port of the workspace Service
    KUBECONFIG=$WORK/kubeconfig kubectl -n "$ns" get httproute workspace -o json >"$WORK/httproute.json" ||
      fail "session $id ACTIVE without its HTTPRoute"
    jq -e --arg h "$ns.apps.test" '.spec.hostnames == [$h] and
      (.spec.parentRefs[0] | .name == "gateway" and .namespace == "gateway-system" and
       .sectionName == "sessions") and
      .spec.rules[0].backendRefs[0].name == "workspace" and
      .spec.rules[0].backendRefs[0].port == 8090' "$WORK/httproute.json" >/dev/null ||
      fail "the HTTPRoute is not the session's: $(cat "$WORK/httproute.json")"
    ing=$(KUBECONFIG=$WORK/kubeconfig kubectl -n "$ns" get ingresses -o name) ||
      fail "cannot list the session's Ingresses"
    [ -z "$ing" ] || fail "expose httproute, yet the session has an Ingress: $ing"
    [ "$(jf .session.url)" = "https://$ns.apps.test/" ] || fail "session URL $(jf .session.url)"
    # drift: a deleted HTTPRoute is re-applied, a repointed one put back
    kc -n "$ns" delete httproute workspace >/dev/null || fail "cannot delete the HTTPRoute"
    wait_for 30 "the deleted HTTPRoute re-applied" kc -n "$ns" get httproute workspace
    kc -n "$ns" patch httproute workspace --type merge -p '{"spec":{"hostnames":["evil.apps.test"]}}' ||
      fail "cannot change the HTTPRoute"
    host_back() { [ "$(KUBECONFIG=$WORK/kubeconfig kubectl -n "$ns" get httproute workspace -o jsonpath='{.spec.hostnames[0]}')" = "$ns.apps.test" ]; }
    wait_for 30 "the HTTPRoute's host put back" host_back
  fi
  # drift while ACTIVE: the next verification (interval 1 s) reads every object back and
  # re-applies the deleted policy
  kc -n "$ns" delete networkpolicy allow-dns >/dev/null || fail "cannot delete a policy ($p)"
  wait_for 30 "the deleted policy re-applied ($p)" kc -n "$ns" get networkpolicy allow-dns
  # a rule added to the default deny and a limit added to the quota: both replaced whole
  kc -n "$ns" patch networkpolicy default-deny --type merge -p '{"spec":{"ingress":[{}]}}' ||
    fail "cannot change a policy ($p)"
  kc -n "$ns" patch resourcequota session-quota --type merge -p '{"spec":{"hard":{"configmaps":"1"}}}' ||
    fail "cannot change the quota ($p)"
  no_rule() { [ "$(KUBECONFIG=$WORK/kubeconfig kubectl -n "$ns" get networkpolicy default-deny -o jsonpath='{.spec.ingress}')" = "" ]; }
  no_limit() { [ "$(KUBECONFIG=$WORK/kubeconfig kubectl -n "$ns" get resourcequota session-quota -o jsonpath='{.spec.hard.configmaps}')" = "" ]; }
  wait_for 30 "the added rule removed ($p)" no_rule
  wait_for 30 "the added limit removed ($p)" no_limit
  # the workspace ignores SIGTERM: once the namespace has been Terminating longer than
  # force_delete_after_seconds (1 s; the double takes 4 s to delete its content), the GC sweep
  # deletes the pod with grace 0
  curl -fsS -X POST "$(awk '/server:/ {print $2}' "$WORK/kubeconfig")/_sim/pods" \
    -d "{\"fate\":\"ignore-sigterm\",\"namespace\":\"$ns\"}" >/dev/null ||
    fail "cannot set the pod fate ($p)"
  req POST "/api/v1/reservations/$id/cancel" "" "$admin"
  [ "${STATUS:0:1}" = 2 ] || fail "cancel: status $STATUS"
  wait_for 30 "session $id CANCELED ($p)" state CANCELED
  wait_for 30 "namespace $ns deleted ($p)" gone namespace "$ns"
  if [ "$expose" = httproute ]; then
    # the HTTPRoute goes with the namespace: a list that succeeds and names none (not `gone`,
    # which a failing kubectl would satisfy); bound 30 s as for the namespace above
    no_routes() {
      local out
      out=$(KUBECONFIG=$WORK/kubeconfig kubectl get httproutes -A -o name) && [ -z "$out" ]
    }
    wait_for 30 "the session's HTTPRoute gone with it" no_routes
  fi
  wait_for 30 "the stale namespace finalized ($p)" gone namespace gpuaas-9999
  wait_for 10 "the stale volume collected ($p)" gone pv gpuaas-9999-models
  wait_for 10 "the stale RoleBinding collected ($p)" gone -n default rolebinding stale-tenant
  wait_for 10 "the stale ClusterRoleBinding collected ($p)" gone clusterrolebinding gpuaas-stale
  grep -q "force-deleted pod.*namespace=$ns" "$WORK/reconciler.log" ||
    fail "the workspace pod was not force-deleted ($p)"
  grep -q 'gc.namespace.finalize\|cannot finalize' "$WORK/reconciler.log" ||
    grep -q "^update core/namespaces/finalize -" "$WORK/requests-$log.log" ||
    fail "the stuck namespace was not finalized by the reconciler ($p)"
  cp "$WORK/reconciler.log" "$WORK/reconciler-$log.log"
  stop_all
  if [ -n "$expose" ]; then
    echo "kube_calls: $p with expose $expose ok"
    return 0
  fi
  "$BIN" deploy kube-calls --platform "$p" >"$WORK/calls-$p.txt"
  # the HTTPRoute calls are every platform's (reconciler.expose): the httproute run made them
  $CHECK requests "$WORK/calls-$p.txt" "$WORK/requests-$p.log" "$WORK/requests-httproute.log" \
    --only-failure-paths "$SRC/src/kube/kube_calls.c" || fail "the reconciler's calls ($p), above"
  echo "kube_calls: $p ok"
}

run_platform kubernetes httproute
run_platform kubernetes
run_platform openshift
echo "kube_calls: ok"
