#!/usr/bin/env bash
# gpuaas-serve (deploy/workspace/gpuaas-serve, shipped in the workspace image) against a session
# the real reconciler provisioned on the Kubernetes API double (gpuaas-kubesim, which validates
# every object strictly against the OpenAPI definitions and enforces ResourceQuotas):
#  - a 1-GPU inference booking with 4 time-sliced slots (sharing.whole_gpu_replicas: 4) gets
#    quota requests.nvidia.com/gpu: 4 and the ConfigMap gpuaas-serve with the engine images of
#    the configuration (a mirror here, as an air-gapped site sets them);
#  - four engines (vLLM, Ollama, TGI, Triton) start, each a Deployment with one GPU slot, its
#    engine's health endpoint as readiness probe, the proxy settings, the model mounted
#    read-only, and a Service of its name; all four become Ready;
#  - a fifth is refused before anything is created, with the quota in words;
#  - --list, --stop (after which a fifth fits), --logs; argument errors are clear (exit 2).
# The script runs as it would in the workspace: kubectl as the session's service account
# (impersonated), in the session's namespace.
set -euo pipefail
BUILD=${GPUAAS_BUILD:-build}
SRC=${GPUAAS_SRC:-.}
BIN=$BUILD/gpuaas
SIM=$BUILD/gpuaas-kubesim
SERVE=$SRC/deploy/workspace/gpuaas-serve
for b in "$BIN" "$SIM"; do [ -x "$b" ] || { echo "serve: $b not built"; exit 1; }; done
for c in kubectl jq python3 curl; do
  command -v $c >/dev/null || { echo "serve: $c is required"; exit 1; }
done

NAME=serve
FAIL_LOGS="reconciler server kubesim serve"
# shellcheck source=../lib/it_common.sh
. "$SRC/tests/lib/it_common.sh"
export KUBECONFIG=$WORK/kubeconfig

"$SIM" --listen 127.0.0.1:0 --kubeconfig-out "$WORK/kubeconfig" >>"$WORK/kubesim.log" 2>&1 &
PIDS+=($!)
wait_for 10 "the test double" test -s "$WORK/kubeconfig"
kc create --validate=false -f "$SRC/tests/data/nodes/success.json" || fail "cannot register the node"

MIRROR=mirror.corp.example:5000
cat >"$WORK/gpuaas.yaml" <<EOF
server:
  listen: 127.0.0.1:0 # start_server: the kernel picks the port
  web_root: $WORK
database:
  url: sqlite://$WORK/gpuaas.db
sharing:
  whole_gpu_replicas: 4
  mig_replicas: 2
$(reference_pool)
reconciler:
  platform: kubernetes
  interval_seconds: 1
  ingress_domain: apps.test
  ingress_namespace: ingress
  storage_class: standard
  workspace_image: $MIRROR/gpuaas/workspace:0.1.0
  http_proxy: http://proxy.corp.example:3128
  https_proxy: http://proxy.corp.example:3128
  no_proxy: .corp.example
  serve_vllm_image: $MIRROR/vllm/vllm-openai:v0.8.5
  serve_ollama_image: $MIRROR/ollama/ollama:0.6.8
  serve_tgi_image: $MIRROR/huggingface/text-generation-inference:3.3.0
  serve_triton_image: $MIRROR/nvidia/tritonserver:25.01-py3
cache:
  enabled: true
  store_dir: $WORK/store
EOF
"$BIN" config check --config "$WORK/gpuaas.yaml" >/dev/null 2>"$WORK/config-check.txt" ||
  fail "config check: $(cat "$WORK/config-check.txt")"
if grep -q warning "$WORK/config-check.txt"; then fail "config check warns: $(cat "$WORK/config-check.txt")"; fi
start_server "$WORK/gpuaas.yaml"
# the tenant ClusterRole the install applies: the double enforces RBAC for --as requests, so
# gpuaas-serve runs with exactly the rights a workspace has
"$BIN" deploy tenant-role --config "$WORK/gpuaas.yaml" >"$WORK/tenant-role.yaml"
kc apply -f "$WORK/tenant-role.yaml" >/dev/null || fail "cannot install the tenant ClusterRole"
now=$(date +%s)
req POST /api/v1/reservations "{\"gpu_type\":\"nvidia.com/gpu\",\"gpu_count\":1,\"mode\":\"inference\",\"starts_at\":\"$(iso $((now - 60)))\",\"ends_at\":\"$(iso $((now + 3600)))\",\"purpose\":\"gpuaas-serve\"}" "$ADMIN"
expect 201 "book one GPU for inference"
id=$(jf .id)
"$BIN" reconciler --config "$WORK/gpuaas.yaml" --kubeconfig "$WORK/kubeconfig" >"$WORK/reconciler.log" 2>&1 &
PIDS+=($!)
state() { req GET "/api/v1/reservations/$id" "" "$ADMIN"; [ "$(jf .state)" = "$1" ]; }
wait_for 30 "session $id ACTIVE" state ACTIVE
NS=$(jf .session.namespace)

# the plan: quota of 4 slots, the proxy ConfigMap with the cluster-internal names, gpuaas-serve's
q=$(kubectl -n "$NS" get resourcequota session-quota -o json)
[ "$(jq -r '.spec.hard["requests.nvidia.com/gpu"]' <<<"$q")" = 4 ] ||
  fail "quota: want 4 nvidia.com/gpu slots, got $(jq -c .spec.hard <<<"$q")"
np=$(kubectl -n "$NS" get configmap proxy -o 'jsonpath={.data.no_proxy}')
for want in .corp.example .svc .cluster.local ".$NS.svc" localhost; do
  [[ ",$np," == *",$want,"* ]] || fail "proxy ConfigMap no_proxy \"$np\" lacks $want"
done
[ "$(kubectl -n "$NS" get configmap gpuaas-serve -o 'jsonpath={.data.vllm_image}')" = "$MIRROR/vllm/vllm-openai:v0.8.5" ] ||
  fail "ConfigMap gpuaas-serve does not carry the configured vLLM image"

# as the workspace runs it: with the session service account's identity (the double's RBAC
# decides what it may do, where the double enforces RBAC)
export KUBECTL="kubectl --as=system:serviceaccount:$NS:workspace"
serve() { # serve ARGS...: runs gpuaas-serve, output in $OUT, status in $RC
  RC=0
  OUT=$("$SERVE" -n "$NS" "$@" 2>&1) || RC=$?
  printf '$ gpuaas-serve %s\n%s\n(exit %s)\n' "$*" "$OUT" "$RC" >>"$WORK/serve.log"
}
expect_serve() { # expect_serve RC PATTERN WHAT
  [ "$RC" = "$1" ] || fail "$3: exit $RC, want $1: $OUT"
  grep -qE -- "$2" <<<"$OUT" || fail "$3: output lacks /$2/: $OUT"
}

# a fake node cache and home, for the existence check the script makes in the workspace
export GPUAAS_SERVE_FS_ROOT=$WORK/fs
mkdir -p "$WORK/fs/models/names/meta-llama/Llama-3.1-8B-Instruct" "$WORK/fs/models/names/ollama" \
  "$WORK/fs/home/workspace/triton-repo"

# ---- argument errors: exit 2, a sentence, nothing created ----
serve; expect_serve 2 'which engine\? one of: vllm ollama tgi triton' "no arguments"
serve mistral x; expect_serve 2 'unknown engine "mistral": use one of vllm ollama tgi triton' "unknown engine"
serve vllm; expect_serve 2 'which model\?' "no model"
serve vllm m --name Bad_Name; expect_serve 2 '--name "Bad_Name": lower-case letters' "bad name"
serve vllm m --cpu lots; expect_serve 2 '--cpu "lots": a number of cores' "bad cpu"
serve vllm m --memory 16GB; expect_serve 2 '--memory "16GB": a size such as 16Gi' "bad memory"
serve vllm m --timeout 0; expect_serve 2 '--timeout "0": a positive number' "bad timeout"
serve vllm m --frobnicate; expect_serve 2 'unknown option --frobnicate' "unknown option"
serve vllm m extra; expect_serve 2 'unexpected argument "extra" \(engine arguments go after --\)' "extra word"
serve vllm /etc/passwd; expect_serve 2 'a model of the node cache \(/models/names/...\) or a path in the home volume \(/home/workspace/...\)' "model outside"
serve vllm ../../etc; expect_serve 2 "no '..' components" "dot-dot"
serve vllm m --name workspace; expect_serve 2 "the workspace's own name" "name workspace"
serve --logs; expect_serve 2 '--logs needs a value' "--logs without a name"
serve --stop vllm extra; expect_serve 2 '--stop takes only a server name' "--stop with more"
serve vllm no/such-model; expect_serve 1 'no model "no/such-model" in the node cache' "missing model"
serve --stop nothing; expect_serve 1 'no server "nothing"' "stop of nothing"
serve --stop workspace; expect_serve 1 '"workspace" was not started by gpuaas-serve' "stop of the workspace"
[ -z "$(kubectl -n "$NS" get deploy -l app.kubernetes.io/managed-by=gpuaas-serve -o name)" ] ||
  fail "an argument error created something"

# ---- four engines in the four slots ----
serve vllm meta-llama/Llama-3.1-8B-Instruct --timeout 60 -- --max-model-len 8192
expect_serve 0 'vllm "vllm" on meta-llama/Llama-3.1-8B-Instruct: nvidia.com/gpu x1' "start vLLM"
grep -q "URL: http://vllm.$NS.svc:8000" <<<"$OUT" || fail "no URL for vllm: $OUT"
grep -q 'is Ready' <<<"$OUT" || fail "vllm did not report Ready: $OUT"
serve ollama /models/names/ollama --timeout 60; expect_serve 0 'ollama "ollama"' "start Ollama"
serve tgi meta-llama/Llama-3.1-8B-Instruct --name tgi-llama --cpu 2 --memory 8Gi --timeout 60
expect_serve 0 'tgi "tgi-llama".*cpu 2, memory 8Gi' "start TGI"
serve triton /home/workspace/triton-repo --timeout 60; expect_serve 0 'triton "triton"' "start Triton"

# the objects: what the double stored (it validated them strictly when they were created)
for s in vllm:8000:/health ollama:11434:/ tgi-llama:8080:/health triton:8000:/v2/health/ready; do
  IFS=: read -r n port health <<<"$s"
  d=$(kubectl -n "$NS" get deployment "$n" -o json) || fail "no Deployment $n"
  c='.spec.template.spec.containers[0]'
  [ "$(jq -r "$c.resources.requests[\"nvidia.com/gpu\"]" <<<"$d")" = 1 ] || fail "$n: not one GPU slot"
  [ "$(jq -r "$c.resources.limits[\"nvidia.com/gpu\"]" <<<"$d")" = 1 ] || fail "$n: GPU limit"
  [ "$(jq -r "$c.readinessProbe.httpGet.path" <<<"$d")" = "$health" ] || fail "$n: readiness path"
  [ "$(jq -r "$c.envFrom[0].configMapRef.name" <<<"$d")" = proxy ] || fail "$n: no proxy settings"
  [ "$(jq -r "$c.image" <<<"$d")" = "$(kubectl -n "$NS" get configmap gpuaas-serve -o "jsonpath={.data.${n%%-*}_image}")" ] ||
    fail "$n: image is not the configured one"
  [ "$(jq -r '[.spec.template.spec.volumes[] | select(.persistentVolumeClaim) | .persistentVolumeClaim.readOnly] | all' <<<"$d")" = true ] ||
    fail "$n: a claim is mounted writable"
  [ "$(jq -r '.spec.template.spec.securityContext.runAsUser' <<<"$d")" = 1000 ] || fail "$n: runAsUser"
  [ "$(jq -r '.status.readyReplicas' <<<"$d")" = 1 ] || fail "$n: not Ready"
  [ "$(kubectl -n "$NS" get service "$n" -o 'jsonpath={.spec.ports[0].port}')" = "$port" ] ||
    fail "$n: no Service on port $port"
done
d=$(kubectl -n "$NS" get deployment vllm -o json)
jq -e '.spec.template.spec.containers[0].args | index("--max-model-len") and index("/models/names/meta-llama/Llama-3.1-8B-Instruct")' <<<"$d" >/dev/null ||
  fail "vllm: model path or engine arguments missing: $(jq -c '.spec.template.spec.containers[0].args' <<<"$d")"
used=$(kubectl -n "$NS" get resourcequota session-quota -o 'jsonpath={.status.used.requests\.nvidia\.com/gpu}')
[ "$used" = 4 ] || fail "quota used: $used nvidia.com/gpu slots, want 4"

# ---- the fifth: refused up front, with the quota in words ----
before=$(kubectl -n "$NS" get deploy,svc -o name | sort)
serve vllm meta-llama/Llama-3.1-8B-Instruct --name fifth
expect_serve 1 "refused: the session's quota allows 4 nvidia.com/gpu slot\(s\) \(ResourceQuota session-quota, requests.nvidia.com/gpu\) and all 4 are in use \(servers: .*vllm.*\)" "fifth server"
[ "$(kubectl -n "$NS" get deploy,svc -o name | sort)" = "$before" ] || fail "the refused fifth created objects"
# a name in use is refused before the quota
serve ollama /models/names/ollama; expect_serve 1 'a server or service named "ollama" already exists' "name in use"

# ---- list, logs, stop ----
serve --list
expect_serve 0 'tgi-llama +tgi +1 +8080 +meta-llama/Llama-3.1-8B-Instruct' "--list"
for n in vllm ollama triton; do grep -q "^$n " <<<"$OUT" || fail "--list lacks $n: $OUT"; done
serve --logs vllm; expect_serve 0 "container vllm of pod $NS/vllm-.* runs image $MIRROR/vllm/vllm-openai:v0.8.5" "--logs"
serve --stop triton; expect_serve 0 'stopped triton' "--stop"
wait_for 10 "triton's Deployment and Service deleted" \
  bash -c "! kubectl -n $NS get deployment triton >/dev/null 2>&1 && ! kubectl -n $NS get service triton >/dev/null 2>&1"
serve triton /home/workspace/triton-repo --name triton-2 --timeout 60
expect_serve 0 'triton "triton-2"' "a server in the freed slot"
serve tgi meta-llama/Llama-3.1-8B-Instruct --name again --no-wait
expect_serve 1 'all 4 are in use' "still four"
echo "serve: ok"
