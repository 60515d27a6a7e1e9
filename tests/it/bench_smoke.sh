#!/usr/bin/env bash
# The benchmark still runs: `make bench` at its smallest (1 run, 2 clients x 10 bookings, 100
# bookings for the capacity query, 1 s of pgbench) on SQLite and PostgreSQL. It checks that
# every run finished with its verification passed (no double booking, the admitted count
# matches) and that bookings were admitted; it checks no speed: figures belong in
# bench/RESULTS.md, measured with the full `make bench`.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=$(RUNS=1 CLIENTS=2 REQUESTS=10 TOTAL=100 PGBENCH_SECONDS=1 BUILD=${GPUAAS_BUILD:-build} \
    bash bench/run.sh 2>&1)
rc=$?
fails=0
fail() { echo "not ok - $*"; fails=$((fails + 1)); }
ok() { echo "ok - $*"; }
[ "$rc" = 0 ] && ok "bench/run.sh exits 0" || fail "bench/run.sh exit $rc: $(tail -20 <<<"$out")"
for b in sqlite postgres; do
    row=$(grep -E "^$b " <<<"$out")
    # BACKEND ADMITTED/S P50 P99 409S DOUBLE CAP_P50 CAP_P99 OK_RUNS ...
    read -r _ rate _ _ _ double _ _ okruns _ <<<"$row"
    [ "$okruns" = "1/1" ] && ok "$b: the run verified" || fail "$b: OK_RUNS $okruns: $row"
    [ "$double" = "0" ] && ok "$b: no double booking" || fail "$b: DOUBLE $double"
    awk -v r="${rate:-0}" 'BEGIN {exit !(r > 0)}' && ok "$b: bookings admitted" ||
        fail "$b: admitted/s ${rate:-none}"
done
echo "$fails failure(s)"
[ "$fails" = 0 ]
