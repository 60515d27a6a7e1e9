#!/usr/bin/env bash
# Schema migrations on SQLite and on a private PostgreSQL: `gpuaas migrate --dry-run` lists the
# pending migrations of a fresh database and changes nothing; `gpuaas migrate` applies them and
# then reports none pending; a database that a newer release migrated (a schema version this
# build does not know) is refused, with the reason, by `migrate`, the server and the
# reconciler, none of which touches it.
set -euo pipefail
cd "${GPUAAS_SRC:-$(dirname "$0")/../..}"
BUILD=${GPUAAS_BUILD:-build}
BIN=$BUILD/gpuaas
[ -x "$BIN" ] || { echo "migrate: $BIN not built"; exit 1; }
W=$(mktemp -d)
chmod 755 "$W"
cleanup() { bash tests/scripts/pg.sh stop "$W/pg" >/dev/null 2>&1 || true; rm -rf "$W"; }
trap cleanup EXIT
fail() { echo "FAIL (migrate, $backend): $*"; cat "$W/out" 2>/dev/null; exit 1; }

sql() { # sql STATEMENT: on the backend under test
  if [ "$backend" = sqlite ]; then
    python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); print("\n".join(str(r[0]) for r in c.execute(sys.argv[2]))); c.commit()' "$W/gpuaas.db" "$1"
  else
    psql -X -A -t -q "$URL" -c "$1"
  fi
}

suite() {
  # no server runs: migrate reads only the database section
  printf 'server:\n  listen: 127.0.0.1:0\n  web_root: %s\ndatabase:\n  url: %s\n' "$W" "$URL" >"$W/gpuaas.yaml"
  "$BIN" migrate --config "$W/gpuaas.yaml" --dry-run >"$W/out" 2>&1 || fail "dry run on a fresh database"
  latest=$(sed -n 's/^schema version 0, this release knows \([0-9]*\)$/\1/p' "$W/out")
  [ -n "$latest" ] || fail "dry run: no 'schema version 0' line"
  [ "$(grep -c '^pending migration ' "$W/out")" = "$latest" ] || fail "dry run lists not every one of $latest versions"
  grep -q '^pending migration 1$' "$W/out" || fail "dry run: migration 1 not pending"
  # nothing was written
  [ "$(sql "SELECT COUNT(*) FROM $tables WHERE $tname = 'schema_migrations'")" = 0 ] ||
    fail "the dry run created schema_migrations"
  "$BIN" migrate --config "$W/gpuaas.yaml" >"$W/out" 2>&1 || fail "migrate"
  grep -q "^schema version $latest$" "$W/out" || fail "migrate did not reach $latest"
  "$BIN" migrate --config "$W/gpuaas.yaml" --dry-run >"$W/out" 2>&1 || fail "dry run after migrate"
  grep -q '^up to date$' "$W/out" || fail "pending migrations after migrate"

  # a newer release migrated the database
  newer=$((latest + 1))
  sql "INSERT INTO schema_migrations (version, applied_at) VALUES ($newer, 0)" >/dev/null
  if "$BIN" migrate --config "$W/gpuaas.yaml" --dry-run >"$W/out" 2>&1; then fail "dry run accepted a newer schema"; fi
  grep -q "newer than this release" "$W/out" || fail "dry run: no reason"
  # the reconciler needs a kubeconfig before it opens the database; nothing listens there
  printf 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n' >"$W/kubeconfig"
  for cmd in server reconciler; do
    args=()
    [ "$cmd" = server ] || args=(--kubeconfig "$W/kubeconfig")
    set +e
    timeout 20 "$BIN" "$cmd" --config "$W/gpuaas.yaml" "${args[@]}" >"$W/out" 2>&1
    rc=$?
    set -e
    [ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "$cmd started on a newer schema (exit $rc)"
    grep -q "schema is at version $newer, newer than this gpuaas knows ($latest)" "$W/out" ||
      fail "$cmd: no clear reason"
  done
  [ "$(sql "SELECT MAX(version) FROM schema_migrations")" = "$newer" ] || fail "the newer schema was touched"
  echo "migrate: $backend ok (versions 1..$latest, newer $newer refused)"
}

backend=sqlite URL=sqlite://$W/gpuaas.db tables=sqlite_master tname=name
suite
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  backend=postgres tables=pg_catalog.pg_tables tname=tablename
  URL=$(bash tests/scripts/pg.sh start "$W/pg") ||
    fail "cannot start PostgreSQL"
  suite
elif [ "${CI:-}" = true ]; then
  echo "migrate: PostgreSQL server binaries are required in CI"
  exit 1
else
  echo "migrate: SKIP PostgreSQL: no server binaries"
fi
