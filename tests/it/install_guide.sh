#!/usr/bin/env bash
# A newcomer reads docs/install.md top to bottom: tests/lib/guide_walk.py walks its commands in
# order on each install path (Kubernetes or OpenShift, CloudNativePG or an existing
# PostgreSQL, OpenShift with single sign-on) in a copy of the repository, running the file
# and CLI commands for real and the cluster commands against a model built from the rendered
# objects, and fails when a command uses something no earlier step created (a namespace, a
# Secret a pod needs, a BuildConfig, the CLI, the registry), or feeds `kubectl exec` stdin
# without -i. The user overlay the guide writes must render the guide's settings: the
# portal host and class of its configuration and no image nobody publishes.
set -euo pipefail
cd "${GPUAAS_SRC:-$(dirname "$0")/../..}"
BUILD=${GPUAAS_BUILD:-build}
[ -x "$BUILD/gpuaas" ] || { echo "install_guide: $BUILD/gpuaas not built"; exit 1; }
command -v kubectl >/dev/null || { echo "install_guide: kubectl is required"; exit 1; }
bin=$(readlink -f "$BUILD/gpuaas")
fail=0
for path in "kubernetes cnpg" "kubernetes external" "openshift cnpg" "openshift cnpg sso"; do
  sandbox=$(mktemp -d)
  git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$sandbox" 2>/dev/null
  # shellcheck disable=SC2086
  if ! python3 tests/lib/guide_walk.py docs/install.md "$sandbox" "$bin" $path; then
    fail=1
  else
    mc=$sandbox/deploy/overlays/mycluster
    kubectl kustomize "$mc" >"$sandbox/mycluster.yaml" || { echo "FAIL ($path): the guide's overlay does not render"; fail=1; }
    python3 tests/lib/deploy_check.py portal "$sandbox/mycluster.yaml" || { echo "FAIL ($path): portal"; fail=1; }
    python3 tests/lib/deploy_check.py published "$sandbox/mycluster.yaml" || fail=1
    grep -q 'name: gpuaas-prepull' "$sandbox/mycluster.yaml" || { echo "FAIL ($path): no pre-pull DaemonSet"; fail=1; }
    if grep -q '^kind: Namespace$' "$sandbox/mycluster.yaml"; then
      echo "FAIL ($path): the application's overlay owns the namespace (uninstall would delete the database)"
      fail=1
    fi
  fi
  rm -rf "$sandbox"
done
[ "$fail" = 0 ] || { echo "install_guide: FAILED"; exit 1; }
echo "install_guide: ok"
