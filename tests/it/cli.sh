#!/usr/bin/env bash
# Black-box test of the `gpuaas` CLI client against a real server on a temporary SQLite
# database: login, pool, capacity, reserve, list, show, extend, cancel, release, logout,
# -o json, the credentials file's modes, exit 2 on bad arguments and 1 on server errors,
# and the offline `gpuaas user` tools.
set -uo pipefail
cd "${GPUAAS_SRC:-$(dirname "$0")/../..}"
BIN=${GPUAAS_BUILD:-build}/gpuaas
tmp=$(mktemp -d /tmp/gpuaas-cli-it.XXXXXX)
server_pid=""
cleanup() {
    [ -n "$server_pid" ] && kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
pass() { echo "ok - $*"; }
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }
# expect CODE DESCRIPTION -- command...: runs it, keeps stdout/stderr in $out/$err.
expect() {
    local want=$1 what=$2
    shift 3
    "$@" >"$tmp/out" 2>"$tmp/err"
    local got=$?
    out=$(cat "$tmp/out") err=$(cat "$tmp/err")
    if [ "$got" = "$want" ]; then pass "$what"; else
        fail "$what: exit $got, want $want"
        sed 's/^/    out: /' "$tmp/out" | head -20
        sed 's/^/    err: /' "$tmp/err" | head -20
    fi
}
contains() { if grep -q -- "$2" <<<"$1"; then pass "$3"; else fail "$3: no \"$2\" in: $1"; fi; }
jget() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1"; }

export XDG_CONFIG_HOME=$tmp/config
unset GPUAAS_SERVER GPUAAS_TOKEN GPUAAS_CONFIG
db=sqlite://$tmp/gpuaas.db
export GPUAAS_ADMIN_PASSWORD=cli-test-admin-pw
# start_server CONFIG DATABASE LOG: the server on a port the kernel picks, written to
# server.port once it listens; sets server_pid and url.
start_server() {
    rm -f "$tmp/server.port"
    "$BIN" server --config "$1" --listen 127.0.0.1:0 --database "$2" \
        --port-file "$tmp/server.port" 2>"$3" &
    server_pid=$!
    for _ in $(seq 1 500); do # 50 s: only how long a broken start takes to fail
        [ -s "$tmp/server.port" ] && break
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    if [ ! -s "$tmp/server.port" ]; then
        echo "FAIL - the server did not start"; cat "$3"; exit 1
    fi
    url=http://127.0.0.1:$(cat "$tmp/server.port")
}
start_server config/gpuaas.example.yaml "$db" "$tmp/server.log"

# --help everywhere, usage errors are exit 2 without touching the network.
for c in login logout pool capacity reserve list show cancel extend release user; do
    expect 0 "$c --help" -- "$BIN" "$c" --help
    contains "$out" "Usage" "$c --help prints usage"
done
expect 2 "unknown option" -- "$BIN" pool --bogus
expect 2 "reserve without --gpu-type" -- "$BIN" reserve --count 1 --start now --hours 1
expect 2 "reserve with bad --mode" -- "$BIN" reserve --gpu-type x --mode batch --start now --hours 1
expect 2 "reserve with --end and --hours" -- "$BIN" reserve --gpu-type x --start now --hours 1 --end 2030-01-01T00:00:00Z
expect 2 "reserve with bad --start" -- "$BIN" reserve --gpu-type x --start tomorrow --hours 1
expect 2 "reserve with count 0" -- "$BIN" reserve --gpu-type x --count 0 --start now --hours 1
expect 2 "show without id" -- "$BIN" show
expect 2 "show with a non-numeric id" -- "$BIN" show abc
expect 2 "extend without --end" -- "$BIN" extend 1
expect 2 "list with a bad state" -- "$BIN" list --state RUNNING
expect 2 "bad -o" -- "$BIN" list -o yaml
expect 2 "login --password-stdin without --username" -- "$BIN" login --server "$url" --password-stdin </dev/null

# Not logged in: the server refuses.
expect 1 "pool before login is refused" -- "$BIN" pool --server "$url"
expect 1 "unreachable server" -- env GPUAAS_SERVER=http://127.0.0.1:1 "$BIN" pool
contains "$err" "cannot reach" "unreachable server is named"

# Login.
expect 1 "login with a wrong password" -- bash -c "echo wrong-password | '$BIN' login --server '$url' --username admin --password-stdin"
[ ! -e "$XDG_CONFIG_HOME/gpuaas/credentials" ] && pass "no credentials after a failed login" || fail "credentials written after a failed login"
expect 0 "login" -- bash -c "echo '$GPUAAS_ADMIN_PASSWORD' | '$BIN' login --server '$url' --username admin --password-stdin"
cred=$XDG_CONFIG_HOME/gpuaas/credentials
[ "$(stat -c %a "$cred")" = 600 ] && pass "credentials file is 0600" || fail "credentials mode $(stat -c %a "$cred")"
[ "$(stat -c %a "$XDG_CONFIG_HOME/gpuaas")" = 700 ] && pass "config dir is 0700" || fail "config dir mode $(stat -c %a "$XDG_CONFIG_HOME/gpuaas")"
grep -q "$GPUAAS_ADMIN_PASSWORD" "$cred" && fail "password stored in the credentials file" || pass "password not stored"

# Pool and capacity.
expect 0 "pool" -- "$BIN" pool
contains "$out" "nvidia.com/mig-1g.24gb" "pool table lists the MIG resource"
contains "$(head -1 <<<"$out")" "RESOURCE" "pool table has a header"
grep -q "simulation" <<<"$out" && fail "pool of a real cluster says simulation" || pass "pool of a real cluster says nothing of a simulation"
expect 0 "pool -o json" -- "$BIN" pool -o json
python3 -c 'import json,sys; assert "nvidia.com/gpu" in [r["name"] for r in json.load(sys.stdin)["resources"]]' <<<"$out" && pass "pool json parses" || fail "pool json: $out"
expect 0 "capacity" -- "$BIN" capacity --step 3600
[ "$(wc -l <<<"$out")" -ge 25 ] && pass "capacity shows 24 hourly rows" || fail "capacity rows: $out"
expect 0 "capacity -o json" -- "$BIN" capacity -o json --from "$(date -u -d '+1 day' +%Y-%m-%d)T00:00:00Z" --to "$(date -u -d '+1 day' +%Y-%m-%d)T06:00:00Z" --step 3600
python3 -c 'import json,sys; d=json.load(sys.stdin); assert all(len(s["free"]) == 6 for s in d["series"]) and d["series"]' <<<"$out" && pass "capacity json has 6 steps per resource" || fail "capacity json: $out"
expect 2 "capacity --to before --from" -- "$BIN" capacity --from 2030-01-02T00:00:00Z --to 2030-01-01T00:00:00Z

# Reserve, list, show, extend, cancel.
day=$(date -u -d '+2 days' +%Y-%m-%d)
expect 0 "reserve" -- "$BIN" reserve -o json --gpu-type nvidia.com/gpu --count 1 --mode inference \
    --start "${day}T10:00:00Z" --end "${day}T12:00:00Z" --purpose "cli test"
id=$(jget '["id"]' <<<"$out")
[ "$(jget '["state"]' <<<"$out")" = APPROVED ] && pass "reservation is APPROVED" || fail "reserve: $out"
expect 1 "overlapping reserve is refused" -- "$BIN" reserve --gpu-type nvidia.com/gpu \
    --start "${day}T11:00:00Z" --hours 2
contains "$err" "next available" "conflict shows the next available window"
contains "$err" "${day}T12:00:00Z" "next available starts when the booking ends"
expect 0 "back-to-back reserve (table)" -- "$BIN" reserve --gpu-type nvidia.com/gpu --mode interactive \
    --start "${day}T12:00:00Z" --hours 1
contains "$out" "APPROVED" "reserve prints the reservation"
expect 1 "unknown GPU type is refused" -- "$BIN" reserve --gpu-type nvidia.com/none --start "${day}T10:00:00Z" --hours 1
expect 1 "storage that cannot hold the session's volumes is refused" -- "$BIN" reserve \
    --gpu-type nvidia.com/gpu --storage 1 --start "${day}T14:00:00Z" --hours 1
contains "$err" "storage_gib must be at least 320" "the refusal names the field and the minimum"
expect 0 "list" -- "$BIN" list
contains "$(head -1 <<<"$out")" "ID" "list table has a header"
contains "$out" "cli test" "list shows the purpose"
expect 0 "list --state APPROVED -o json" -- "$BIN" list --state approved -o json
[ "$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))' <<<"$out")" = 2 ] && pass "two APPROVED" || fail "list json: $out"
expect 0 "show" -- "$BIN" show "$id"
contains "$out" "cli test" "show prints the purpose"
expect 1 "show of a missing reservation" -- "$BIN" show 999999
expect 0 "extend earlier" -- "$BIN" extend "$id" --end "${day}T11:00:00Z" -o json
[ "$(jget '["ends_at"]' <<<"$out")" = "${day}T11:00:00Z" ] && pass "extend moved the end" || fail "extend: $out"
expect 1 "extend into the next booking is refused" -- "$BIN" extend "$id" --end "${day}T12:30:00Z"
expect 1 "release of a booking that has not started" -- "$BIN" release "$id"
expect 0 "cancel" -- "$BIN" cancel "$id" -o json
[ "$(jget '["state"]' <<<"$out")" = CANCELED ] && pass "cancel -> CANCELED" || fail "cancel: $out"
expect 1 "cancel twice" -- "$BIN" cancel "$id"
expect 0 "list --state CANCELED" -- "$BIN" list --state CANCELED
contains "$out" "CANCELED" "list filters by state"

# Token override and logout.
expect 1 "GPUAAS_TOKEN overrides the saved token" -- env GPUAAS_TOKEN=not-a-token "$BIN" pool
expect 0 "logout" -- "$BIN" logout
[ ! -e "$cred" ] && pass "logout removes the credentials" || fail "credentials remain after logout"
expect 1 "pool after logout" -- "$BIN" pool --server "$url"

# Offline user administration on the same database.
expect 0 "user add" -- bash -c "echo alice-password | '$BIN' user add alice --database '$db' --password-stdin"
expect 1 "user add twice" -- bash -c "echo alice-password | '$BIN' user add alice --database '$db' --password-stdin"
expect 2 "user add with a bad role" -- "$BIN" user add bob --role root --database "$db" --password-stdin
expect 2 "user add with a bad name" -- "$BIN" user add "bad name" --database "$db" --password-stdin
expect 0 "user list" -- "$BIN" user list --database "$db"
contains "$out" "alice" "user list shows alice"
expect 0 "alice logs in" -- bash -c "echo alice-password | '$BIN' login --server '$url' --username alice --password-stdin"
expect 0 "alice lists (none of admin's)" -- "$BIN" list -o json
[ "$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))' <<<"$out")" = 0 ] && pass "alice sees only her own" || fail "alice list: $out"
expect 0 "user passwd" -- bash -c "echo alice-new-password | '$BIN' user passwd alice --database '$db' --password-stdin"
contains "$out" "1 tokens revoked" "a new password revokes alice's token"
expect 1 "alice's token after the new password" -- "$BIN" list
expect 1 "old password no longer works" -- bash -c "echo alice-password | '$BIN' login --server '$url' --username alice --password-stdin"
expect 0 "alice logs in again" -- bash -c "echo alice-new-password | '$BIN' login --server '$url' --username alice --password-stdin"
alice_start=$(date -u -d "@$(( ($(date +%s) / 3600 + 50) * 3600 ))" +%Y-%m-%dT%H:%M:%SZ)
expect 0 "alice books" -- "$BIN" reserve --gpu-type nvidia.com/gpu --count 1 --start "$alice_start" --hours 1
expect 0 "user disable" -- "$BIN" user disable alice --database "$db"
contains "$out" "1 bookings canceled" "disabling cancels alice's booking"
expect 1 "alice's token after disable" -- "$BIN" list
expect 2 "--sso with passwd" -- "$BIN" user passwd alice --sso --database "$db"
expect 0 "user add --sso" -- bash -c "echo carol-password | '$BIN' user add carol --sso --database '$db' --password-stdin"
if command -v sqlite3 >/dev/null; then
    [ "$(sqlite3 "$tmp/gpuaas.db" "SELECT sso FROM users WHERE username = 'carol'")" = 1 ] && pass "carol is linked to SSO" || fail "carol not linked"
    [ "$(sqlite3 "$tmp/gpuaas.db" "SELECT sso FROM users WHERE username = 'alice'")" = 0 ] && pass "alice is local" || fail "alice linked"
fi
expect 1 "disabled user cannot log in" -- bash -c "echo alice-new-password | '$BIN' login --server '$url' --username alice --password-stdin"
expect 1 "user passwd of a missing user" -- bash -c "echo whatever-pw | '$BIN' user passwd nobody --database '$db' --password-stdin"
if command -v sqlite3 >/dev/null; then
    n=$(sqlite3 "$tmp/gpuaas.db" "SELECT count(*) FROM audit_log WHERE actor LIKE 'cli:%'" 2>/dev/null || echo "?")
    [ "$n" = 5 ] && pass "offline changes audited as cli:<user>" || fail "cli audit entries: $n"
fi

# A simulated cluster (cluster.simulated: true, what `make run` sets for the Kubernetes
# double): `pool` and `show` say that no workspace runs instead of offering its address.
kill -TERM "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; server_pid=""
sed -E 's/^(  simulated: ).*/\1true/' config/gpuaas.example.yaml >"$tmp/sim.yaml"
grep -q '^  simulated: true' "$tmp/sim.yaml" && pass "simulated configuration written" || fail "no cluster.simulated key in the example configuration"
start_server "$tmp/sim.yaml" "sqlite://$tmp/sim.db" "$tmp/sim-server.log"
expect 0 "admin logs in to the simulated cluster" -- bash -c "echo '$GPUAAS_ADMIN_PASSWORD' | '$BIN' login --server '$url' --username admin --password-stdin"
expect 0 "pool of a simulated cluster" -- "$BIN" pool
contains "$out" "This cluster is a simulation" "pool says the cluster is simulated"
expect 0 "reserve on the simulated cluster" -- "$BIN" reserve -o json --gpu-type nvidia.com/gpu --start "${day}T10:00:00Z" --hours 1
sid=$(jget '["id"]' <<<"$out")
if command -v sqlite3 >/dev/null; then
    sqlite3 "$tmp/sim.db" "UPDATE reservations SET state = 'ACTIVE', session_url = 'https://gpuaas-admin-$sid.apps.example.com/' WHERE id = $sid"
    expect 0 "show on the simulated cluster" -- "$BIN" show "$sid"
    contains "$out" "simulated cluster: no workspace runs" "show says no workspace runs"
fi

echo
if [ "$fails" = 0 ]; then echo "PASS cli.sh"; else echo "FAIL cli.sh: $fails failures"; fi
[ "$fails" = 0 ]
