#!/usr/bin/env bash
# PostgreSQL over TLS with sslmode=verify-full (docs/install.md, external database): a private
# server with a certificate from a test CA for 127.0.0.1; the real gpuaas server connects with
# the CA file and answers /readyz; with another CA, or with the right CA but a name the
# certificate does not carry, it refuses to start and says why. Nothing is sent unencrypted:
# the server only accepts hostssl connections.
set -euo pipefail
BUILD=${GPUAAS_BUILD:-build}
BIN=$BUILD/gpuaas
[ -x "$BIN" ] || { echo "pg_tls: $BIN not built"; exit 1; }
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bindir" ] || { echo "pg_tls: PostgreSQL server binaries not found"; exit 1; }
WORK=$(mktemp -d)
chmod 755 "$WORK"
SERVER_PID=
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  [ -n "$SERVER_PID" ] && kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  as_pg "$bindir/pg_ctl" -D "$WORK/pg/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -5 "$WORK/server.err" 2>/dev/null || true; exit 1; }
pass() { echo "ok   $*"; }

# a CA, a server certificate for IP 127.0.0.1 and DNS db.test, and an unrelated CA
cd "$WORK"
ca() { openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$1" -keyout "$1.key" -out "$1.crt" 2>/dev/null; }
ca test-ca; ca other-ca
openssl req -newkey rsa:2048 -nodes -subj /CN=db.test -keyout server.key -out server.csr 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:db.test\n' >san.ext
openssl x509 -req -in server.csr -CA test-ca.crt -CAkey test-ca.key -CAcreateserial -days 2 \
  -extfile san.ext -out server.crt 2>/dev/null
cd - >/dev/null

mkdir -p "$WORK/pg"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$WORK/pg"
install -m 600 "$WORK/server.key" "$WORK/pg/server.key"
install -m 644 "$WORK/server.crt" "$WORK/pg/server.crt"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$WORK/pg/server.key" "$WORK/pg/server.crt"
as_pg "$bindir/initdb" -D "$WORK/pg/data" -U postgres -A trust >"$WORK/initdb.log" 2>&1
# TLS only: a plain connection from 127.0.0.1 is rejected by pg_hba
cat >"$WORK/pg/data/pg_hba.conf" <<HBA
local all all trust
hostssl all all 127.0.0.1/32 scram-sha-256
hostnossl all all 127.0.0.1/32 reject
HBA
# shellcheck source=../lib/pg_port.sh
. "$(dirname "$0")/../lib/pg_port.sh"
pg_start_any_port "$WORK/pg/data" "$WORK/pg/server.log" "$WORK/pg" \
  "-c ssl=on -c ssl_cert_file=$WORK/pg/server.crt -c ssl_key_file=$WORK/pg/server.key -c fsync=off" ||
  fail "PostgreSQL did not start"
PGPORT=$PG_PORT
as_pg "$bindir/psql" -h "$WORK/pg" -p "$PGPORT" -U postgres -q \
  -c "CREATE ROLE gpuaas LOGIN PASSWORD 'tls-secret-pw'" -c "CREATE DATABASE gpuaas OWNER gpuaas" >/dev/null

url() { echo "postgresql://gpuaas:tls-secret-pw@$1:$PGPORT/gpuaas?sslmode=$2${3:+&sslrootcert=$3}"; }
cat >"$WORK/gpuaas.yaml" <<CFG
server:
  listen: 127.0.0.1:0
  web_root: $WORK/none
CFG
# start URL -> 0 when /readyz answers 200, 1 when the server exits (stderr kept). The server
# listens on a port the kernel picks and writes it to server.port once listening.
start() {
  rm -f "$WORK/server.port"
  GPUAAS_ADMIN_PASSWORD=tls-admin-pw "$BIN" server --config "$WORK/gpuaas.yaml" --database "$1" \
    --port-file "$WORK/server.port" >"$WORK/server.out" 2>"$WORK/server.err" &
  SERVER_PID=$!
  for _ in $(seq 100); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=; return 1; fi
    [ -s "$WORK/server.port" ] &&
      [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(cat "$WORK/server.port")/readyz")" = 200 ] && return 0
    sleep 0.1
  done
  fail "server neither ready nor exited"
}
stop() { kill -TERM "$SERVER_PID"; wait "$SERVER_PID" || true; SERVER_PID=; }

start "$(url 127.0.0.1 verify-full "$WORK/test-ca.crt")" || fail "verify-full with the right CA did not start"
pass "verify-full with the issuing CA: /readyz 200"
stop
# localhost reaches the same server, but the certificate does not name it
start "$(url localhost verify-full "$WORK/test-ca.crt")" && fail "verify-full accepted a certificate for another name"
grep -qi 'does not match host name\|host name' "$WORK/server.err" || fail "the name refusal does not say why"
pass "verify-full with a name the certificate lacks: refused"
start "$(url 127.0.0.1 verify-full "$WORK/other-ca.crt")" && fail "verify-full accepted a certificate from another CA"
grep -qi 'certificate verify failed\|certificate' "$WORK/server.err" || fail "the refusal does not say why"
grep -q 'tls-secret-pw' "$WORK/server.err" && fail "the database password is in the log"
pass "verify-full with another CA: refused ($(grep -oi 'certificate verify failed' "$WORK/server.err" | head -1))"
start "$(url 127.0.0.1 disable)" && fail "a plain connection was accepted"
pass "sslmode=disable: refused by the server (TLS only)"
echo "pg_tls: all passed"
