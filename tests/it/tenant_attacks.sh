#!/usr/bin/env bash
# A hostile tenant, tried for real: per platform (kubernetes, openshift) the install
# (`kubectl kustomize deploy/overlays/PLATFORM`: the tenant ClusterRole, the
# ValidatingAdmissionPolicies and their bindings, the platform namespace and its
# NetworkPolicies, the portal's Ingress or Route) is applied to the API server double, which
# holds impersonated requests to RBAC and evaluates the policies with the tests' CEL
# implementation (gpuaas-kubesim --cel-eval, tests/it/kubesim/cel-adapter.mjs). Two sessions
# are booked through the real server and reconciler; then, as the first session's user
# (kubectl --as=USER with the groups its RoleBinding names), every cluster-side attack of
# issue 14 (findings 1-9 and 11) and the classic escalations are tried. Each must be refused,
# and the refusal must name the rule that refused it (an RBAC rule, a policy, the quota, the
# router); an attack let through, or refused for another reason (a missing kind above all),
# fails the test. Positive controls show that the tenant can still work in its namespace.
# Finally the test shows that it can fail: with `endpoints` put back into the tenant role,
# HTTPRoute creation granted to it, or the pod policy's binding removed, the same attacks are let through and reported.
set -euo pipefail
BUILD=${GPUAAS_BUILD:-build}
SRC=${GPUAAS_SRC:-.}
BIN=$BUILD/gpuaas
SIM=$BUILD/gpuaas-kubesim
for b in "$BIN" "$SIM"; do [ -x "$b" ] || { echo "tenant_attacks: $b not built"; exit 1; }; done
for c in kubectl jq python3 curl node; do
  command -v $c >/dev/null || { echo "tenant_attacks: $c is required"; exit 1; }
done
bash "$SRC/tests/scripts/cel-deps.sh" # the CEL evaluator the double delegates policies to

NAME=tenant_attacks
# shellcheck source=../lib/it_common.sh
. "$SRC/tests/lib/it_common.sh"
FAIL_LOGS="reconciler server kubesim"
FAILED=()
PASSED=0

# The installer and the test's checks act as a cluster administrator (system:masters); the
# double's token is the reconciler's ServiceAccount, so its requests meet the policies as on
# a cluster (--token-user).
adm() { KUBECONFIG=$WORK/kubeconfig kubectl --as=kube:admin --as-group=system:masters "$@"; }
kc() { adm "$@" >>"$WORK/kubectl.log" 2>&1; }
tenant() { KUBECONFIG=$WORK/kubeconfig kubectl --as="$TENANT" "${TENANT_GROUPS[@]}" "$@"; }

# attack NAME PATTERN COMMAND...: COMMAND (run as the tenant) must fail, with output matching
# PATTERN (grep -E), which names the rule that refused it.
attack() {
  local name=$1 pat=$2 out
  shift 2
  if out=$("$@" 2>&1); then
    echo "FAIL - let through: $name: $(head -c 400 <<<"$out")"
    FAILED+=("$name")
    return 0
  fi
  if grep -qE 'no matches for kind|could not find the requested resource|UnsupportedMediaType' \
    <<<"$out" || ! grep -qE -- "$pat" <<<"$out"; then
    echo "FAIL - refused, but not by the rule /$pat/: $name: $(head -c 600 <<<"$out")"
    FAILED+=("$name")
    return 0
  fi
  echo "ok - refused: $name: $(grep -E -m1 -- "$pat" <<<"$out" | head -c 300)"
  PASSED=$((PASSED + 1))
}
# control NAME COMMAND...: what the tenant must still be able to do
control() {
  local name=$1 out
  shift
  if ! out=$("$@" 2>&1); then
    echo "FAIL - positive control refused: $name: $(head -c 600 <<<"$out")"
    FAILED+=("$name")
    return 0
  fi
  echo "ok - allowed: $name"
  PASSED=$((PASSED + 1))
}
yaml() { cat >"$WORK/$1.yaml"; } # yaml NAME: stdin to $WORK/NAME.yaml

# A pod of the tenant's namespace, fine by every policy, with the extra lines of $1 merged
# into its container (at 4 spaces) and $2 into its spec (at 2 spaces).
pod() { # pod NAME CONTAINER_EXTRA SPEC_EXTRA: prints the path of the file
  echo "$WORK/pod-$1.yaml"
  yaml "pod-$1" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: $NS}
spec:
  terminationGracePeriodSeconds: 30
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: main
    image: registry.example/tenant/app:1
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
    resources:
      requests: {cpu: 100m, memory: 128Mi, ephemeral-storage: 1Gi}
      limits: {cpu: 100m, memory: 128Mi, ephemeral-storage: 1Gi}
${2:-}
${3:-}
EOF
}

install_platform() { # the cluster side as an installer applies it
  local p=$1
  kubectl kustomize "$SRC/deploy/overlays/$p" >"$WORK/install-$p.yaml" ||
    fail "kubectl kustomize deploy/overlays/$p"
  # the namespace first, on its own, as docs/install.md applies it
  adm apply -k "$SRC/deploy/namespace" >>"$WORK/kubectl.log" 2>&1 ||
    fail "the namespace (deploy/namespace) does not apply to the double"
  adm apply -f "$WORK/install-$p.yaml" >>"$WORK/kubectl.log" 2>&1 ||
    fail "the install of deploy/overlays/$p does not apply to the double ($(tail -3 "$WORK/kubectl.log"))"
  [ -n "$(adm get validatingadmissionpolicybindings -o name)" ] ||
    fail "the install ($p) has no ValidatingAdmissionPolicyBinding"
  # a Secret of the platform namespace, as the database credentials are
  adm -n gpuaas-system create secret generic gpuaas-db --from-literal=password=platform-secret \
    >>"$WORK/kubectl.log" 2>&1 || fail "cannot create the platform's Secret"
}

book() { # book USER TOKEN COUNT: prints the reservation id
  local now
  now=$(date +%s)
  req POST /api/v1/reservations "{\"gpu_type\":\"nvidia.com/mig-1g.24gb\",\"gpu_count\":$3,\"starts_at\":\"$(iso $((now - 60)))\",\"ends_at\":\"$(iso $((now + 3600)))\",\"purpose\":\"tenant attacks\"}" "$2"
  expect 201 "book for $1"
  jf .id
}

run_platform() {
  local p=$1 ours theirs
  echo "# platform $p"
  rm -f "$WORK/kubeconfig"
  "$SIM" --listen 127.0.0.1:0 --kubeconfig-out "$WORK/kubeconfig" \
    --cel-eval "node $SRC/tests/it/kubesim/cel-adapter.mjs" \
    --token-user system:serviceaccount:gpuaas-system:gpuaas-reconciler >>"$WORK/kubesim.log" 2>&1 &
  PIDS+=($!)
  wait_for 10 "the test double" test -s "$WORK/kubeconfig"
  kc create --validate=false -f "$SRC/tests/data/nodes/success.json" || fail "cannot register the node"
  install_platform "$p"

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
  ingress_domain: apps.test
  ingress_namespace: ingress
  storage_class: standard
EOF
  "$BIN" config check --config "$WORK/gpuaas.yaml" >/dev/null || fail "config check ($p)"
  start_server "$WORK/gpuaas.yaml"
  local alice bob
  alice=$(add_user alice)
  bob=$(add_user bob)
  ours=$(book alice "$alice" 2)
  theirs=$(book bob "$bob" 1)
  "$BIN" reconciler --config "$WORK/gpuaas.yaml" --kubeconfig "$WORK/kubeconfig" >"$WORK/reconciler.log" 2>&1 &
  PIDS+=($!)
  state() { req GET "/api/v1/reservations/$1" "" "$ADMIN"; [ "$(jf .state)" = ACTIVE ]; }
  wait_for 60 "session $ours ACTIVE ($p)" state "$ours"
  NS=$(jf .session.namespace)
  wait_for 60 "session $theirs ACTIVE ($p)" state "$theirs"
  OTHER=$(jf .session.namespace)
  local host other_host
  # the tenant is the user its RoleBinding names, with the groups it names
  adm -n "$NS" get rolebinding user-tenant -o json >"$WORK/rb.json" || fail "no user-tenant RoleBinding in $NS"
  TENANT=$(jq -r '.subjects[] | select(.kind == "User") | .name' "$WORK/rb.json")
  mapfile -t TENANT_GROUPS < <(jq -r '.subjects[] | select(.kind == "Group") | "--as-group=" + .name' "$WORK/rb.json")
  [ "$TENANT" = alice ] || fail "the session's RoleBinding names $TENANT, not alice"
  echo "# tenant $TENANT in $NS; another session: $OTHER"
  adm -n "$OTHER" run other-pod --image=registry.example/x:1 --restart=Never \
    --overrides='{"spec":{"terminationGracePeriodSeconds":30}}' >>"$WORK/kubectl.log" 2>&1 || true

  # ---- classic escalations ----
  attack "RoleBinding to cluster-admin" \
    'cannot create resource "rolebindings"|attempting to grant RBAC permissions not currently held' \
    tenant -n "$NS" create rolebinding mine --clusterrole=cluster-admin --user="$TENANT"
  attack "ClusterRoleBinding to cluster-admin" \
    'cannot create resource "clusterrolebindings" in API group "rbac.authorization.k8s.io" at the cluster scope' \
    tenant create clusterrolebinding mine --clusterrole=cluster-admin --user="$TENANT"
  attack "Role with *" \
    'cannot create resource "roles"|attempting to grant RBAC permissions not currently held' \
    tenant -n "$NS" create role all --verb='*' --resource='*'
  attack "ClusterRole with *" \
    'cannot create resource "clusterroles"' tenant create clusterrole all --verb='*' --resource='*'
  attack "edit the tenant role" 'cannot (get|patch) resource "clusterroles"' \
    tenant patch clusterrole gpuaas-tenant --type=json \
    -p '[{"op":"add","path":"/rules/-","value":{"apiGroups":["*"],"resources":["*"],"verbs":["*"]}}]'
  attack "delete the session's RoleBinding's role binding" 'cannot delete resource "rolebindings"' \
    tenant -n "$NS" delete rolebinding user-tenant
  local np
  np=$(adm -n "$NS" get networkpolicies -o name | sed -n 1p)
  [ -n "$np" ] || fail "the session $NS has no NetworkPolicy"
  attack "delete the session's NetworkPolicy ($np)" \
    "ValidatingAdmissionPolicy 'gpuaas-tenant-networkpolicy'|cannot delete resource \"networkpolicies\"" \
    tenant -n "$NS" delete "$np"
  attack "widen the session's NetworkPolicy ($np)" \
    "ValidatingAdmissionPolicy 'gpuaas-tenant-networkpolicy'|cannot patch resource \"networkpolicies\"" \
    tenant -n "$NS" patch "$np" --type=merge -p '{"spec":{"ingress":[{}],"egress":[{}]}}'
  attack "delete a platform NetworkPolicy" \
    'cannot delete resource "networkpolicies" in API group "networking.k8s.io" in the namespace "gpuaas-system"' \
    tenant -n gpuaas-system delete networkpolicy default-deny-ingress
  attack "raise the ResourceQuota" 'cannot patch resource "resourcequotas"' \
    tenant -n "$NS" patch resourcequota "$(adm -n "$NS" get resourcequota -o name | sed -n 1p | cut -d/ -f2)" \
    --type=merge -p '{"spec":{"hard":{"requests.nvidia.com/mig-1g.24gb":"8"}}}'
  attack "delete the ResourceQuota" 'cannot delete resource "resourcequotas"' \
    tenant -n "$NS" delete resourcequotas --all
  attack "delete the LimitRange" 'cannot delete resource "limitranges"' \
    tenant -n "$NS" delete limitranges --all
  attack "edit the LimitRange" 'cannot patch resource "limitranges"' \
    tenant -n "$NS" patch limitrange "$(adm -n "$NS" get limitrange -o name | sed -n 1p | cut -d/ -f2)" \
    --type=merge -p '{"spec":{"limits":[]}}'
  adm get namespace "$NS" -o json |
    jq '.metadata.labels["pod-security.kubernetes.io/enforce"] = "privileged"' >"$WORK/ns.json"
  attack "relabel the namespace (drop Pod Security Admission)" \
    "cannot update resource \"namespaces\" in API group \"\" at the cluster scope" \
    tenant replace --raw "/api/v1/namespaces/$NS" -f "$WORK/ns.json"

  attack "read Secrets of another session" \
    "cannot list resource \"secrets\" in API group \"\" in the namespace \"$OTHER\"" \
    tenant -n "$OTHER" get secrets
  attack "read the platform's Secret" \
    'cannot get resource "secrets" in API group "" in the namespace "gpuaas-system"' \
    tenant -n gpuaas-system get secret gpuaas-db
  attack "exec into another session's pod" \
    "cannot (get|create) resource \"pods(/exec)?\" in API group \"\" in the namespace \"$OTHER\"" \
    tenant -n "$OTHER" exec other-pod -- id
  attack "a token for the reconciler's ServiceAccount" \
    'cannot create resource "serviceaccounts/token" in API group "" in the namespace "gpuaas-system"' \
    tenant -n gpuaas-system create token gpuaas-reconciler
  attack "impersonate the reconciler's ServiceAccount (can-i)" '^no' \
    tenant -n gpuaas-system auth can-i impersonate serviceaccounts/gpuaas-reconciler
  attack "create a namespace" 'cannot create resource "namespaces"' tenant create namespace mine
  local f
  f=$(pod hostpath "" "  volumes: [{name: dev, hostPath: {path: /dev/nvidia0}}]")
  attack "pod with hostPath /dev/nvidia0" "ValidatingAdmissionPolicy 'gpuaas-tenant-pod'.*hostPath" \
    tenant create -f "$f"
  f=$(pod privileged "" "")
  sed -i 's/allowPrivilegeEscalation: false,/privileged: true, allowPrivilegeEscalation: false,/' "$f"
  attack "privileged pod" "ValidatingAdmissionPolicy 'gpuaas-tenant-pod'.*privileged" tenant create -f "$f"
  f=$(pod hostnet "" "  hostNetwork: true")
  attack "pod with hostNetwork" "ValidatingAdmissionPolicy 'gpuaas-tenant-pod'.*host namespaces" \
    tenant create -f "$f"
  f=$(pod hostpid "" "  hostPID: true")
  attack "pod with hostPID" "ValidatingAdmissionPolicy 'gpuaas-tenant-pod'.*host namespaces" \
    tenant create -f "$f"
  yaml pvc-other <<EOF
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: big, namespace: $NS}
spec:
  storageClassName: premium-fast
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 100Ti}}
EOF
  attack "PVC of another storage class beyond the quota" 'exceeded quota: .*requests.storage' \
    tenant create -f "$WORK/pvc-other.yaml"

  # ---- findings 1-9 and 11 ----
  # 1: host hijack of the portal, of another session, of the next session
  host=$(adm -n gpuaas-system get ingress,route -o json 2>/dev/null |
    jq -r '[.items[] | (.spec.host // .spec.rules[0].host)] | map(select(.)) | first // empty')
  [ -n "$host" ] || fail "the install has no portal Ingress or Route with a host"
  other_host=$(adm -n "$OTHER" get ingress,route -o json |
    jq -r '[.items[] | (.spec.host // .spec.rules[0].host)] | map(select(.)) | first // empty')
  if [ "$p" = kubernetes ]; then
    yaml ing-portal <<EOF
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: login, namespace: $NS}
spec:
  rules:
  - host: $host
    http:
      paths:
      - {path: /api/v1/auth/login, pathType: Exact, backend: {service: {name: workspace, port: {number: 80}}}}
EOF
    attack "1: Ingress on the portal's host ($host)" \
      "ValidatingAdmissionPolicy 'gpuaas-tenant-ingress'" tenant create -f "$WORK/ing-portal.yaml"
    sed -i "s/host: .*/host: $other_host/" "$WORK/ing-portal.yaml"
    attack "1: Ingress on another session's host ($other_host)" \
      "ValidatingAdmissionPolicy 'gpuaas-tenant-ingress'" tenant create -f "$WORK/ing-portal.yaml"
    sed -i "s/host: .*/host: gpuaas-$((theirs + 1)).apps.test/" "$WORK/ing-portal.yaml"
    attack "1: Ingress on the next session's host" \
      "ValidatingAdmissionPolicy 'gpuaas-tenant-ingress'" tenant create -f "$WORK/ing-portal.yaml"
    # the double's own host claims, which no policy covers outside session namespaces: the
    # oldest claim of a host wins, a later Ingress of another namespace is refused
    kc create namespace team-x
    sed -i "s/host: .*/host: $other_host/; s/name: login, namespace: .*}/name: claim, namespace: team-x}/" \
      "$WORK/ing-portal.yaml"
    attack "1: host claim: another namespace's Ingress on a held host (the double's router check)" \
      "host \"$other_host\" is already claimed by ingresses $OTHER/" adm create -f "$WORK/ing-portal.yaml"
  else
    yaml route-portal <<EOF
apiVersion: route.openshift.io/v1
kind: Route
metadata: {name: login, namespace: $NS}
spec:
  host: $host
  path: /api/v1/auth/login
  to: {kind: Service, name: workspace}
EOF
    attack "1: Route on the portal's host ($host)" \
      'cannot create resource "routes"|spec.host: Forbidden: you do not have permission to set the host field' \
      tenant create -f "$WORK/route-portal.yaml"
    sed -i "s/host: .*/host: gpuaas-$((theirs + 1)).apps.test/" "$WORK/route-portal.yaml"
    attack "1: Route on the next session's host" \
      'cannot create resource "routes"|spec.host: Forbidden: you do not have permission to set the host field' \
      tenant create -f "$WORK/route-portal.yaml"
    # OpenShift's router: the oldest claim wins; a later one from another namespace is not admitted
    sed -i "s/host: .*/host: $other_host/" "$WORK/route-portal.yaml"
    adm create -f "$WORK/route-portal.yaml" >>"$WORK/kubectl.log" 2>&1 || fail "admin Route"
    local cond
    cond=$(adm -n "$NS" get route login -o json | jq -r '.status.ingress[0].conditions[0] | .status + " " + .reason')
    if [ "$cond" = "False HostAlreadyClaimed" ]; then
      echo "ok - refused: 1: a later Route of another namespace on $other_host: Admitted=False HostAlreadyClaimed"
      PASSED=$((PASSED + 1))
    else
      echo "FAIL - a later Route on a held host was admitted: $cond"
      FAILED+=("Route host claim")
    fi
  fi
  # 2: Endpoints and EndpointSlices forwarding to other tenants' pods
  yaml endpoints <<EOF
apiVersion: v1
kind: Endpoints
metadata: {name: workspace-evil, namespace: $NS}
subsets: [{addresses: [{ip: 10.128.0.10}], ports: [{port: 8080}]}]
EOF
  attack "2: hand-written Endpoints" 'cannot create resource "endpoints" in API group ""' \
    tenant create -f "$WORK/endpoints.yaml"
  yaml slice <<EOF
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: evil, namespace: $NS, labels: {kubernetes.io/service-name: workspace}}
addressType: IPv4
endpoints: [{addresses: [10.128.0.10]}]
ports: [{port: 8080}]
EOF
  attack "2: hand-written EndpointSlice" 'cannot create resource "endpointslices"' \
    tenant create -f "$WORK/slice.yaml"
  # Gateway API: a tenant HTTPRoute on the shared Gateway's sessions listener (it admits every
  # session namespace) would claim another session's host; only the reconciler writes them
  yaml httproute <<EOF
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: evil, namespace: $NS}
spec:
  parentRefs: [{name: gateway, namespace: gateway-system, sectionName: sessions}]
  hostnames: [$OTHER.apps.test]
  rules: [{backendRefs: [{name: workspace, port: 8090}]}]
EOF
  attack "HTTPRoute claiming another session's host" \
    'cannot create resource "httproutes" in API group "gateway.networking.k8s.io"' \
    tenant create -f "$WORK/httproute.yaml"
  # the session's own HTTPRoute (reconciler.expose httproute), as the reconciler applies it
  sed -e 's|name: evil|name: workspace, labels: {app.kubernetes.io/managed-by: gpuaas}|' \
    -e "s|$OTHER.apps.test|$NS.apps.test|" "$WORK/httproute.yaml" >"$WORK/httproute-ours.yaml"
  kc create -f "$WORK/httproute-ours.yaml" || fail "cannot create the session's HTTPRoute as admin"
  attack "repoint the session's HTTPRoute at another host" \
    'cannot (get|patch) resource "httproutes" in API group "gateway.networking.k8s.io"' \
    tenant -n "$NS" patch httproute workspace --type=merge -p "{\"spec\":{\"hostnames\":[\"$OTHER.apps.test\"]}}"
  # 3: externalIPs, NodePort, LoadBalancer
  yaml svc-ext <<EOF
apiVersion: v1
kind: Service
metadata: {name: intercept, namespace: $NS}
spec:
  externalIPs: [10.0.0.1]
  ports: [{port: 443}]
EOF
  attack "3: Service with externalIPs" "ValidatingAdmissionPolicy 'gpuaas-tenant-service'.*externalIPs" \
    tenant create -f "$WORK/svc-ext.yaml"
  yaml svc-np <<EOF
apiVersion: v1
kind: Service
metadata: {name: nodeport, namespace: $NS}
spec: {type: NodePort, ports: [{port: 443}]}
EOF
  attack "3: NodePort Service" "ValidatingAdmissionPolicy 'gpuaas-tenant-service'|exceeded quota" \
    tenant create -f "$WORK/svc-np.yaml"
  # 4 and 11: NetworkPolicies that open the session or widen egress
  yaml np-open <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: open, namespace: $NS}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress: [{from: [{namespaceSelector: {}}]}]
  egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0}}]}]
EOF
  attack "4/11: NetworkPolicy opening the session to every namespace and 0.0.0.0/0" \
    "ValidatingAdmissionPolicy 'gpuaas-tenant-networkpolicy'" tenant create -f "$WORK/np-open.yaml"
  # 5: GPUs outside the booking
  f=$(pod nvidia "    env: [{name: NVIDIA_VISIBLE_DEVICES, value: all}]" "")
  attack "5: NVIDIA_VISIBLE_DEVICES=all without a GPU" \
    "ValidatingAdmissionPolicy 'gpuaas-tenant-pod'.*NVIDIA" tenant create -f "$f"
  f=$(pod othergpu "" "")
  sed -i 's/ephemeral-storage: 1Gi}$/ephemeral-storage: 1Gi, nvidia.com\/gpu: "1"}/' "$f"
  attack "5/9: a GPU type the booking does not hold" 'exceeded quota: .*nvidia.com/gpu' tenant create -f "$f"
  local booked
  booked=$(adm -n "$NS" get resourcequota -o json |
    jq -r '.items[0].spec.hard["requests.nvidia.com/mig-1g.24gb"]')
  f=$(pod twoslices "" "")
  sed -i "s/ephemeral-storage: 1Gi}\$/ephemeral-storage: 1Gi, nvidia.com\/mig-1g.24gb: \"$booked\"}/" "$f"
  attack "9: all the booked slices again, beside the workspace's ($booked)" 'exceeded quota: .*nvidia.com/mig-1g.24gb' tenant create -f "$f"
  # 6: node pinning, control-plane tolerations, builds
  f=$(pod pinned "" "  nodeName: sno-1")
  attack "6: pod pinned to a node (nodeName)" "ValidatingAdmissionPolicy 'gpuaas-tenant-pod'.*nodeName" \
    tenant create -f "$f"
  f=$(pod cp "" "  tolerations: [{key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}]")
  attack "6: pod tolerating the control plane" "ValidatingAdmissionPolicy 'gpuaas-tenant-pod'.*toleration" \
    tenant create -f "$f"
  if [ "$p" = openshift ]; then
    yaml bc <<EOF
apiVersion: build.openshift.io/v1
kind: BuildConfig
metadata: {name: docker, namespace: $NS}
spec:
  source: {dockerfile: "FROM registry.example/base\nRUN id"}
  strategy: {type: Docker, dockerStrategy: {}}
  output: {to: {kind: ImageStreamTag, name: "x:latest"}}
EOF
    attack "6: a Docker build (OpenShift runs builds privileged)" \
      'cannot create resource "buildconfigs" in API group "build.openshift.io"' tenant create -f "$WORK/bc.yaml"
  fi
  # 7: ephemeral storage beyond the quota
  f=$(pod bigdisk "" "")
  sed -i 's/ephemeral-storage: 1Gi/ephemeral-storage: 100Ti/g' "$f"
  attack "7: ephemeral storage beyond the quota" 'exceeded quota: .*ephemeral-storage' tenant create -f "$f"
  # 8: a pod that outlives its booking
  f=$(pod slowstop "" "")
  sed -i 's/terminationGracePeriodSeconds: 30/terminationGracePeriodSeconds: 86400/' "$f"
  attack "8: terminationGracePeriodSeconds of a day" \
    "ValidatingAdmissionPolicy 'gpuaas-tenant-pod'.*terminationGracePeriodSeconds" tenant create -f "$f"

  # ---- positive controls: the tenant still works in its namespace ----
  control "can-i create pods in its namespace" tenant -n "$NS" auth can-i create pods
  control "can-i exec into its pods" tenant -n "$NS" auth can-i create pods --subresource=exec
  if tenant -n "$OTHER" auth can-i get pods >/dev/null 2>&1; then
    echo "FAIL - can-i says the tenant may read another session's pods"
    FAILED+=("can-i other namespace")
  else
    echo "ok - refused: can-i get pods in another session: no"
    PASSED=$((PASSED + 1))
  fi
  f=$(pod gpu-pod "" "")
  sed -i 's/ephemeral-storage: 1Gi}$/ephemeral-storage: 1Gi, nvidia.com\/mig-1g.24gb: "1"}/' "$f"
  control "a pod requesting its booked GPU" tenant create -f "$f"
  control "list and read its pods" tenant -n "$NS" get pod gpu-pod
  yaml np-narrow <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: only-retrieval-to-db, namespace: $NS}
spec:
  podSelector: {matchLabels: {app: vector-db}}
  policyTypes: [Ingress]
  ingress: [{from: [{podSelector: {matchLabels: {app: retrieval}}}], ports: [{port: 6333}]}]
EOF
  control "a NetworkPolicy that narrows traffic among its own pods" tenant create -f "$WORK/np-narrow.yaml"
  control "a ConfigMap and a Secret" tenant -n "$NS" create configmap settings --from-literal=a=b
  control "read its Secrets" tenant -n "$NS" get secrets
  control "a token for its workspace ServiceAccount" tenant -n "$NS" create token workspace
  yaml svc-ok <<EOF
apiVersion: v1
kind: Service
metadata: {name: api, namespace: $NS}
spec: {ports: [{port: 8000}], selector: {app: api}}
EOF
  control "a ClusterIP Service" tenant create -f "$WORK/svc-ok.yaml"

  # ---- the test can fail: remove a control, watch the attack go through ----
  adm patch clusterrole gpuaas-tenant --type=json \
    -p '[{"op":"add","path":"/rules/-","value":{"apiGroups":[""],"resources":["endpoints"],"verbs":["create"]}}]' \
    >>"$WORK/kubectl.log" 2>&1 || fail "cannot put endpoints back into the tenant role"
  expect_caught "2: hand-written Endpoints (endpoints put back in the tenant role)" \
    'cannot create resource "endpoints"' tenant create -f "$WORK/endpoints.yaml"
  adm patch clusterrole gpuaas-tenant --type=json \
    -p '[{"op":"add","path":"/rules/-","value":{"apiGroups":["gateway.networking.k8s.io"],"resources":["httproutes"],"verbs":["create"]}}]' \
    >>"$WORK/kubectl.log" 2>&1 || fail "cannot grant HTTPRoutes to the tenant role"
  expect_caught "HTTPRoute claiming another session's host (httproutes granted to the tenant)" \
    'cannot create resource "httproutes"' tenant create -f "$WORK/httproute.yaml"
  adm delete validatingadmissionpolicybinding gpuaas-tenant-pod >>"$WORK/kubectl.log" 2>&1 ||
    fail "cannot remove the pod policy's binding"
  f=$(pod privileged2 "" "")
  sed -i 's/allowPrivilegeEscalation: false,/privileged: true, allowPrivilegeEscalation: false,/' "$f"
  expect_caught "privileged pod (the pod policy's binding removed)" \
    "ValidatingAdmissionPolicy 'gpuaas-tenant-pod'" tenant create -f "$f"
  stop_all
}

# expect_caught NAME PATTERN COMMAND...: with a control removed, `attack` must report the
# attack as let through. It runs in a subshell, so that failure is not counted.
expect_caught() {
  local out
  out=$(attack "$@" 2>&1) || true
  if grep -q '^FAIL - let through' <<<"$out"; then
    echo "ok - with the control removed the test reports: ${out:0:200}"
  else
    echo "FAIL - with the control removed, the attack was not reported: $out"
    FAILED+=("control removal: $1")
  fi
}

run_platform kubernetes
run_platform openshift
echo "tenant_attacks: $PASSED checks passed, ${#FAILED[@]} failed"
if [ "${#FAILED[@]}" -gt 0 ]; then
  printf '  failed: %s\n' "${FAILED[@]}"
  exit 1
fi
echo "tenant_attacks: ok"
