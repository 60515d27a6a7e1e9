#!/usr/bin/env bash
# gpuaas tokenomics end to end: table and JSON output, the SVG chart as well-formed XML with
# the expected series, validation errors (message names the field and unit, exit 1), usage
# errors (exit 2), and "measured" utilization computed from bookings in a real database.
set -uo pipefail
cd "${GPUAAS_SRC:-$(dirname "$0")/../..}"
BIN=${GPUAAS_BUILD:-build}/gpuaas
WORK=$(mktemp -d /tmp/gpuaas-tok.XXXXXX)
srv=
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
passed=0 failed=0
ok() { echo "ok   $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1"; failed=$((failed + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }

ex=config/tokenomics.example.yaml
out=$("$BIN" tokenomics --input "$ex" 2>&1); rc=$?
check "table exits 0" test $rc = 0
check "table shows cost per 1M tokens" grep -q "Cost per 1M tokens" <<<"$out"
check "table shows sizing verdicts" grep -q "under-provisioned" <<<"$out"
"$BIN" tokenomics --input "$ex" -o json > "$WORK/out.json"; rc=$?
check "json exits 0" test $rc = 0
check "json has the documented fields" jq -e '.annual_cost.total > 0 and .capacity_tokens_per_year > 0 and
  .tokens_per_year > 0 and .cost_per_million_tokens > 0 and (.per_workload|length) == 4 and
  (.curve|length) == 20 and (.break_even|length) == 10 and (.sizing|length) == 4' "$WORK/out.json"
"$BIN" tokenomics --input "$ex" --svg "$WORK/chart.svg" >/dev/null; rc=$?
check "svg written" test $rc = 0 -a -s "$WORK/chart.svg"
check "svg is well-formed XML" xmllint --noout "$WORK/chart.svg"
check "svg has one cost curve per workload" test "$(xmllint --xpath 'count(//*[local-name()="polyline"][contains(@class,"cost")])' "$WORK/chart.svg")" = 4
check "svg has one line per cloud price" test "$(xmllint --xpath 'count(//*[local-name()="line"][contains(@class,"price")])' "$WORK/chart.svg")" = 10
check "svg marks break-even points" test "$(xmllint --xpath 'count(//*[local-name()="circle"][@class="break-even"])' "$WORK/chart.svg")" -ge 1

sed 's/capex: 45000 /capex: -45000 /' "$ex" > "$WORK/bad.yaml"
err=$("$BIN" tokenomics --input "$WORK/bad.yaml" 2>&1 >/dev/null); rc=$?
check "negative capex exits 1" test $rc = 1
check "negative capex names the field and unit" grep -q 'servers\[0\].capex.*\$ per server' <<<"$err"
printf 'servers: []\nworkloads: []\n' > "$WORK/empty.yaml"
err=$("$BIN" tokenomics --input "$WORK/empty.yaml" 2>&1 >/dev/null); rc=$?
check "missing servers exits 1 with the field" test $rc = 1 -a -n "$(grep servers <<<"$err")"
"$BIN" tokenomics >/dev/null 2>&1; rc=$?
check "no --input is a usage error" test $rc = 2
"$BIN" tokenomics --input "$ex" -o yaml >/dev/null 2>&1; rc=$?
check "bad -o is a usage error" test $rc = 2

# measured: one whole 96 GB GPU for 2 h of a 4 h window; the pool has 192 GB of GPU memory
# the server on a port the kernel picks, written to server.port once it listens
sed -e "s#sqlite://var/gpuaas.db#sqlite://$WORK/db.sqlite#" -e "s#127.0.0.1:8080#127.0.0.1:0#" \
    config/gpuaas.example.yaml > "$WORK/gpuaas.yaml"
GPUAAS_ADMIN_PASSWORD=tok-admin-pw "$BIN" server --config "$WORK/gpuaas.yaml" \
    --port-file "$WORK/server.port" 2>"$WORK/server.log" &
srv=$!
for _ in $(seq 500); do # 50 s: only how long a broken start takes to fail
    [ -s "$WORK/server.port" ] && break
    kill -0 "$srv" 2>/dev/null || break
    sleep 0.1
done
port=$(cat "$WORK/server.port" 2>/dev/null || echo 1)
tok=$(curl -s -X POST "http://127.0.0.1:$port/api/v1/auth/login" -H 'Content-Type: application/json' \
      -d '{"username":"admin","password":"tok-admin-pw"}' | jq -r .token)
day=$(date -u -d '+2 days' +%Y-%m-%d)
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/api/v1/reservations" \
       -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
       -d "{\"gpu_type\":\"nvidia.com/gpu\",\"gpu_count\":1,\"mode\":\"inference\",\"starts_at\":\"${day}T10:00:00Z\",\"ends_at\":\"${day}T12:00:00Z\"}")
check "booking for the measured window" test "$code" = 201
sed 's/^utilization: 0.4 .*/utilization: measured/' "$ex" > "$WORK/measured.yaml"
"$BIN" tokenomics --input "$WORK/measured.yaml" --config "$WORK/gpuaas.yaml" \
    --from "${day}T10:00:00Z" --to "${day}T14:00:00Z" -o json > "$WORK/m.json" 2>"$WORK/m.err"; rc=$?
check "measured exits 0" test $rc = 0
check "measured utilization is 0.25 from the bookings" jq -e '.utilization_source == "measured" and (.utilization - 0.25 | fabs) < 1e-9' "$WORK/m.json"
err=$("$BIN" tokenomics --input "$WORK/measured.yaml" --config "$WORK/gpuaas.yaml" \
      --from "${day}T20:00:00Z" --to "${day}T22:00:00Z" 2>&1 >/dev/null); rc=$?
check "measured over an empty window is refused" test $rc = 1 -a -n "$(grep 'measured utilization is 0' <<<"$err")"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
