#!/usr/bin/env bash
# gpu-config and gpu-discover as a user runs them: the committed reference-node output stays
# current, JSON output parses, bad layouts and missing NVML fail with a message.
set -euo pipefail
build=${GPUAAS_BUILD:-build}
bin=$build/gpuaas
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$bin" gpu-config --config config/gpuaas.example.yaml >"$tmp/ref.yaml"
diff -u deploy/gpu-operator/reference-node.yaml "$tmp/ref.yaml" ||
  fail "deploy/gpu-operator/reference-node.yaml is stale: regenerate with gpuaas gpu-config"

"$bin" gpu-config --config config/gpuaas.example.yaml -o json >"$tmp/ref.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert [c["metadata"]["name"] for c in d["configMaps"]]==["custom-mig-config","device-plugin-config"]' "$tmp/ref.json" ||
  fail "gpu-config -o json"

# the GPU operator's namespace follows the platform (OpenShift's OperatorHub install uses
# nvidia-gpu-operator, NVIDIA's Helm chart gpu-operator); --namespace overrides it
ns_of() { grep -E '^  namespace: |rollout restart -n ' "$1" | sed -E 's/.*namespace: //; s/.*restart -n ([^ ]*).*/\1/' | sort -u; }
"$bin" gpu-config --config deploy/overlays/kubernetes/gpuaas.yaml >"$tmp/k.yaml"
[ "$(ns_of "$tmp/k.yaml")" = gpu-operator ] || fail "kubernetes: namespaces $(ns_of "$tmp/k.yaml")"
"$bin" gpu-config --config deploy/overlays/openshift/gpuaas.yaml >"$tmp/o.yaml"
[ "$(ns_of "$tmp/o.yaml")" = nvidia-gpu-operator ] || fail "openshift: namespaces $(ns_of "$tmp/o.yaml")"
"$bin" gpu-config --config deploy/overlays/kubernetes/gpuaas.yaml --namespace gpu-op2 >"$tmp/n.yaml"
[ "$(ns_of "$tmp/n.yaml")" = gpu-op2 ] || fail "--namespace: namespaces $(ns_of "$tmp/n.yaml")"
if "$bin" gpu-config --config deploy/overlays/kubernetes/gpuaas.yaml --namespace 'a b' >/dev/null 2>&1; then
  fail "an invalid --namespace was accepted"
fi

cat >"$tmp/bad.yaml" <<'YAML'
pool:
  nodes:
    - name: n1
      cpu: 1
      memory_gib: 1
      storage_gib: 1
      gpus:
        - {model: NVIDIA H100 80GB HBM3, memory_gib: 80, mig: {3g.40gb: 2, 1g.10gb: 1}}
YAML
if "$bin" gpu-config --config "$tmp/bad.yaml" >/dev/null 2>"$tmp/err"; then fail "bad layout accepted"; fi
grep -q "would fit: 3g.40gb: 2" "$tmp/err" || fail "refusal lacks a suggestion: $(cat "$tmp/err")"

if GPUAAS_NVML_LIB=/nonexistent/libnvidia-ml.so.1 "$bin" gpu-discover >/dev/null 2>"$tmp/err"; then
  fail "gpu-discover succeeded without NVML"
fi
grep -q "cannot load NVML" "$tmp/err" || fail "no clear message without NVML"

GPUAAS_NVML_LIB=$build/libfakenvml.so FAKENVML_SCENARIO=tests/data/nvml/mig.txt \
  "$bin" gpu-discover >"$tmp/out" || fail "gpu-discover with the fake NVML"
grep -q "MIG device 6: 1g.24gb" "$tmp/out" || fail "MIG devices not listed"
grep -q "        1g.24gb: 4" "$tmp/out" || fail "pool snippet lacks the MIG layout"

if GPUAAS_NVML_LIB=$build/libfakenvml.so FAKENVML_SCENARIO=tests/data/nvml/init-error.txt \
  "$bin" gpu-discover >/dev/null 2>"$tmp/err"; then fail "init error not reported"; fi
grep -q "Driver Not Loaded" "$tmp/err" || fail "init error message: $(cat "$tmp/err")"
echo "gpu_cli: ok"
