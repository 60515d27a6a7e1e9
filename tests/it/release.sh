#!/usr/bin/env bash
# The release's version is one number everywhere a user meets it: `gpuaas --version` (set by
# project(... VERSION ...) in CMakeLists.txt), the newest released section of CHANGELOG.md
# ("## [X.Y.Z] - YYYY-MM-DD"), the image tag the base renders, the default gate image, the
# Kubernetes overlay's workspace and gate images, the web package, and the tag docs/install.md
# checks out (vX.Y.Z).
set -uo pipefail
cd "${GPUAAS_SRC:-$(dirname "$0")/../..}"
BUILD=${GPUAAS_BUILD:-build}
fails=0
fail() { echo "not ok - $*"; fails=$((fails + 1)); }
ok() { echo "ok - $*"; }
same() { [ "$2" = "$v" ] && ok "$1: $2" || fail "$1 says '${2:-nothing}', gpuaas --version $v"; }

v=$("$BUILD/gpuaas" --version | sed -n 's/^gpuaas \([0-9][0-9.]*\) .*/\1/p')
[[ $v =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] && ok "gpuaas --version: $v" || fail "gpuaas --version: '$v'"
same "CHANGELOG.md newest release" \
    "$(sed -n 's/^## \[\([0-9][0-9.]*\)\] - [0-9]\{4\}-[0-9]\{2\}-[0-9]\{2\}$/\1/p' CHANGELOG.md | head -1)"
grep -q '^## \[Unreleased\]' CHANGELOG.md && ok "CHANGELOG.md keeps an Unreleased section" ||
    fail "CHANGELOG.md has no Unreleased section"
same "deploy/base image tag" "$(sed -n 's/^ *newTag: "\(.*\)"$/\1/p' deploy/base/kustomization.yaml)"
same "default reconciler.gate_image" \
    "$(grep -o 'registry.example.com/gpuaas/gpuaas:[0-9.]*' src/core/config.c | head -1 | cut -d: -f2)"
for img in workspace gpuaas; do
    same "kubernetes overlay $img image" \
        "$(grep -o "registry.example.com/gpuaas/$img:[0-9.]*" deploy/overlays/kubernetes/gpuaas.yaml | head -1 | cut -d: -f2)"
done
same "web/package.json" "$(jq -r .version web/package.json)"
same "docs/install.md git checkout" "$(sed -n 's/^git checkout v\([0-9.]*\)$/\1/p' docs/install.md | head -1)"
echo "$fails failure(s)"
[ "$fails" = 0 ]
