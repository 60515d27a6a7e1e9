# Shared set-up of the policy tests (admission_policies.sh, netpol_reachability.sh): run from
# the source tree, an output folder of their own, kubectl/node/python3 and the built gpuaas
# present, the CEL evaluator's npm packages installed. Source it, then call
# policy_test_setup NAME; it sets BUILD, OUT, CHECK and fail=0.
policy_test_setup() {
    cd "${GPUAAS_SRC:-$(dirname "${BASH_SOURCE[0]}")/../..}"
    BUILD=${GPUAAS_BUILD:-build}
    OUT=${GPUAAS_TEST_OUTPUT:-test-output}/$1
    CHECK="python3 tests/lib/deploy_check.py"
    rm -rf "$OUT" && mkdir -p "$OUT"
    local tool
    for tool in kubectl node python3; do
        command -v "$tool" >/dev/null || {
            echo "FAIL: $tool is required"
            exit 1
        }
    done
    [ -x "$BUILD/gpuaas" ] || {
        echo "FAIL: $BUILD/gpuaas not built (make build)"
        exit 1
    }
    bash tests/scripts/cel-deps.sh
    fail=0
}
