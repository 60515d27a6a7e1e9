#!/usr/bin/env bash
# Installs the test-only CEL evaluator (tests/cel/package.json: @bufbuild/cel) with `npm ci`
# when tests/cel/node_modules is missing or the lock file changed since the last install, as
# web-build.sh does for the portal. Serialised with flock: several tests may ask at once.
set -euo pipefail
cd "$(dirname "$0")/../cel"
command -v npm >/dev/null || {
    echo "cel-deps: npm is required (make deps)" >&2
    exit 1
}
exec 9>.npm-ci.lock
flock 9
stamp=node_modules/.gpuaas-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -d node_modules ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    npm ci --no-audit --no-fund --loglevel=error >&2
    echo "$want" >"$stamp"
fi
