#!/usr/bin/env bash
# The ValidatingAdmissionPolicies of deploy/ (deploy/base/admission-policies.yaml,
# models-read-only.yaml), evaluated by an independent CEL implementation (@bufbuild/cel,
# tests/cel/eval.mjs) as the API server applies them, on the rendered install of each
# overlay (issue 14, docs/security.md):
#  1. the corpus tests/cel/corpus.mjs of allowed and hostile requests gets the expected
#     answers; every refusal names its policy and rule;
#  2. removing any single validation of any policy lets at least one hostile request through
#     (each rule is load-bearing, so deleting a control from deploy/ fails this test);
#  3. every finding a policy closes has a hostile case;
#  4. the session the reconciler applies (`gpuaas deploy session`) and its workspace pod are
#     admitted;
#  5. eval.mjs as a program (JSON lines in, verdicts out; the interface other tests reuse).
set -euo pipefail
# shellcheck source=../lib/policy_common.sh
. "$(dirname "$0")/../lib/policy_common.sh"
policy_test_setup admission_policies
for o in kubernetes openshift; do
    echo "== overlays/$o"
    kubectl kustomize "deploy/overlays/$o" >"$OUT/$o.yaml"
    $CHECK tojson "$OUT/$o.yaml" "$OUT/$o.json"
    $CHECK config "$OUT/$o.yaml" "$OUT/config-$o.yaml" --drop-section cache
    gpu=nvidia.com/gpu
    [ "$o" = kubernetes ] || gpu=nvidia.com/mig-1g.24gb
    "$BUILD/gpuaas" deploy session --config "$OUT/config-$o.yaml" --id 42 --user alice \
        --gpu-type "$gpu" --count 1 >"$OUT/session-$o.yaml"
    $CHECK tojson "$OUT/session-$o.yaml" "$OUT/session-$o.json"
    node tests/cel/check-corpus.mjs "$OUT/$o.json" --session "$OUT/session-$o.json" \
        >"$OUT/corpus-$o.log" || fail=1
    grep -v '^ok ' "$OUT/corpus-$o.log" || true
    echo "$(grep -c '^ok ' "$OUT/corpus-$o.log") checks passed"
done

echo "== eval.mjs as a program"
printf '%s\n' \
    '{"name":"hostile","object":{"apiVersion":"v1","kind":"Service","metadata":{"name":"s","namespace":"gpuaas-42"},"spec":{"externalIPs":["1.2.3.4"]}},"namespaceObject":{"metadata":{"name":"gpuaas-42","labels":{"app.kubernetes.io/managed-by":"gpuaas"}}},"request":{"operation":"CREATE","userInfo":{"username":"alice"}}}' \
    '{"name":"fine","object":{"apiVersion":"v1","kind":"Service","metadata":{"name":"s","namespace":"gpuaas-42"},"spec":{}},"namespaceObject":{"metadata":{"name":"gpuaas-42","labels":{"app.kubernetes.io/managed-by":"gpuaas"}}},"request":{"operation":"CREATE","userInfo":{"username":"alice"}}}' |
    node tests/cel/eval.mjs "$OUT/kubernetes.json" >"$OUT/eval.jsonl"
python3 - "$OUT/eval.jsonl" <<'PY' || fail=1
import json, sys
got = {a["name"]: a for a in map(json.loads, open(sys.argv[1]))}
h, f = got["hostile"], got["fine"]
assert not h["allowed"] and h["denials"][0]["policy"] == "gpuaas-tenant-service", h
assert "CVE-2020-8554" in h["denials"][0]["message"], h
assert f["allowed"] and "gpuaas-tenant-service" in f["evaluated"], f
print("eval.mjs: externalIPs refused by gpuaas-tenant-service, a plain Service admitted")
PY
[ "$fail" = 0 ] && echo "PASS" || echo "FAIL"
exit "$fail"
