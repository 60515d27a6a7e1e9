#!/usr/bin/env bash
# Builds the web UI into web/dist: `npm ci` when node_modules is missing or the lock file
# changed since the last install, then `npm run build` (Vite). Called by `make web`.
set -euo pipefail
cd "$(dirname "$0")/../../web"
stamp=node_modules/.gpuaas-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -d node_modules ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" >"$stamp"
fi
npm run --silent build -- --logLevel warn
