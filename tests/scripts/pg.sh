#!/usr/bin/env bash
# Starts or stops a private PostgreSQL server for tests: its own data directory and port,
# run as the 'postgres' system user (initdb refuses root). Prints the connection URL on start.
#   pg.sh start DIR   ->  postgresql://gpuaas:gpuaas@127.0.0.1:PORT/gpuaas
#   pg.sh stop DIR
# PORT is a free one, found race-free by tests/lib/pg_port.sh (bounded retry on a collision).
# Tests run with fsync=off (speed; the data is thrown away); PG_FSYNC=on gives a durable
# server as in production (the benchmark uses it).
set -euo pipefail
cmd=$1 dir=$2
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bindir" ] || { echo "pg.sh: PostgreSQL server binaries not found" >&2; exit 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "$cmd" in
start)
  rm -rf "$dir"; mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
  as_pg "$bindir/initdb" -D "$dir/data" -U postgres -A trust >"$dir/initdb.log" 2>&1
  # shellcheck source=../lib/pg_port.sh
  . "$(dirname "$0")/../lib/pg_port.sh"
  pg_start_any_port "$dir/data" "$dir/server.log" "$dir" "-c max_connections=200 -c fsync=${PG_FSYNC:-off}"
  port=$PG_PORT
  as_pg "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -q -c "CREATE ROLE gpuaas LOGIN PASSWORD 'gpuaas' SUPERUSER" -c "CREATE DATABASE gpuaas OWNER gpuaas" >/dev/null
  echo "postgresql://gpuaas:gpuaas@127.0.0.1:$port/gpuaas"
  ;;
stop)
  [ -d "$dir/data" ] && as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  ;;
esac
