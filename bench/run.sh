#!/usr/bin/env bash
# `make bench`: admission and capacity benchmark against gpuaas on SQLite and on PostgreSQL,
# plus pgbench on the same PostgreSQL server in the same run. Starts a private PostgreSQL
# (tests/scripts/pg.sh), one fresh server per run and backend, runs build/bench_admission,
# and prints the medians over RUNS runs. Environment: RUNS (3), CLIENTS (16), REQUESTS (200
# per client), TOTAL (10000 bookings for the capacity query), PGBENCH_SECONDS (10 per pgbench
# run). tests/it/bench_smoke.sh runs it small so that the benchmark cannot rot unnoticed.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
RUNS=${RUNS:-3} CLIENTS=${CLIENTS:-16} REQUESTS=${REQUESTS:-200} TOTAL=${TOTAL:-10000}
PGBENCH_SECONDS=${PGBENCH_SECONDS:-10}
for f in "$BUILD/gpuaas" "$BUILD/bench_admission"; do
    [ -x "$f" ] || { echo "bench: $f is missing; run 'make build'" >&2; exit 1; }
done
work=$(mktemp -d /tmp/gpuaas-bench.XXXXXX)
chmod 755 "$work"
pgdir=$work/pg
server_pid=""
cleanup() {
    [ -n "$server_pid" ] && kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    bash tests/scripts/pg.sh stop "$pgdir"
    rm -rf "$work"
}
trap cleanup EXIT
# durable like production: fsync on, synchronous_commit on (PostgreSQL defaults)
pg_url=$(PG_FSYNC=on bash tests/scripts/pg.sh start "$pgdir")
port=$(sed -E 's#^.*:([0-9]+)/[^/]*$#\1#' <<<"$pg_url") # the free port pg.sh found
bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PSQL=("$bindir/psql" -q -X -v ON_ERROR_STOP=1)
export GPUAAS_ADMIN_PASSWORD=bench-admin-password
# start_server DATABASE_URL: one server on a port the kernel picks (written to --port-file once
# it listens); sets $url.
start_server() {
    rm -f "$work/server.port"
    GPUAAS_LOG_LEVEL=warn "$BUILD/gpuaas" server --config config/gpuaas.example.yaml \
        --listen 127.0.0.1:0 --port-file "$work/server.port" --database "$1" \
        2>>"$work/server.log" >/dev/null &
    server_pid=$!
    for _ in $(seq 1 200); do
        if [ -s "$work/server.port" ]; then
            url=http://127.0.0.1:$(cat "$work/server.port")
            return 0
        fi
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "bench: the server did not start on $1" >&2
    tail -20 "$work/server.log" >&2
    exit 1
}
stop_server() { kill -TERM "$server_pid"; wait "$server_pid" || true; server_pid=""; }

# run_bench LABEL DATABASE_URL: appends the RESULT line to $work/LABEL.results.
run_bench() {
    start_server "$2"
    local line
    "$BUILD/bench_admission" --server "$url" --username admin --password "$GPUAAS_ADMIN_PASSWORD" \
        --clients "$CLIENTS" --requests "$REQUESTS" --total "$TOTAL" | tee "$work/$1.out" >&2 || true
    line=$(grep '^RESULT ' "$work/$1.out" || true)
    [ -n "$line" ] || { echo "bench: no result for $1" >&2; exit 1; }
    echo "$line" >>"$work/$1.results"
    stop_server
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
echo "load average at start: $(loadavg)" >"$work/load.txt"
for r in $(seq 1 "$RUNS"); do
    echo "== run $r/$RUNS: SQLite (load average $(loadavg))" >&2
    run_bench sqlite "sqlite://$work/bench-$r.db"
    echo "== run $r/$RUNS: PostgreSQL" >&2
    db=bench_$r
    "${PSQL[@]}" "$pg_url" -c "CREATE DATABASE $db"
    run_bench postgres "${pg_url%/*}/$db"
    echo "== run $r/$RUNS: pgbench" >&2
    PGPASSWORD=gpuaas "$bindir/pgbench" -i -q -s 10 -h 127.0.0.1 -p "$port" -U gpuaas gpuaas \
        >/dev/null 2>&1
    PGPASSWORD=gpuaas "$bindir/pgbench" -c 16 -j 2 -T "$PGBENCH_SECONDS" -S -h 127.0.0.1 -p "$port" -U gpuaas \
        gpuaas 2>/dev/null | tee "$work/pgbench.out" >&2
    grep -oE 'tps = [0-9.]+' "$work/pgbench.out" | head -1 | awk '{print $3}' >>"$work/pgbench.results"
    # the built-in TPC-B-like script: 3 updates, 1 insert, 1 select per transaction, each
    # commit durable like a booking's
    PGPASSWORD=gpuaas "$bindir/pgbench" -c 16 -j 2 -T "$PGBENCH_SECONDS" -h 127.0.0.1 -p "$port" -U gpuaas \
        gpuaas 2>/dev/null | tee "$work/pgbench-rw.out" >&2
    grep -oE 'tps = [0-9.]+' "$work/pgbench-rw.out" | head -1 | awk '{print $3}' >>"$work/pgbench-rw.results"
done

# median KEY FILE: median of KEY=value over the RESULT lines.
median() {
    grep -oE "(^| )$1=[0-9.]+" "$2" | sed 's/.*=//' | sort -g |
        awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else printf "%.2f\n", (v[NR/2]+v[NR/2+1])/2}'
}
med() { sort -g "$1" | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else printf "%.1f\n", (v[NR/2]+v[NR/2+1])/2}'; }
tps=$(med "$work/pgbench.results")
tps_rw=$(med "$work/pgbench-rw.results")
echo
echo "Machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
echo "Runs: $RUNS, clients: $CLIENTS, requests per client: $REQUESTS, bookings for capacity: $TOTAL"
printf '%-10s %10s %9s %9s %9s %6s %10s %10s %7s %9s %9s\n' BACKEND ADMITTED/S P50_MS P99_MS 409S \
    DOUBLE CAP_P50_MS CAP_P99_MS OK_RUNS "/PGB_-S" "/PGB_RW"
for b in sqlite postgres; do
    f=$work/$b.results
    rate=$(median rate "$f")
    okc=$(grep -c ' ok=1' "$f" || true)
    ratio=$(awk -v a="$rate" -v t="$tps" 'BEGIN {printf "%.4f", (t > 0 ? a / t : 0)}')
    ratio_rw=$(awk -v a="$rate" -v t="$tps_rw" 'BEGIN {printf "%.3f", (t > 0 ? a / t : 0)}')
    printf '%-10s %10s %9s %9s %9s %6s %10s %10s %7s %9s %9s\n' "$b" "$rate" "$(median p50_ms "$f")" \
        "$(median p99_ms "$f")" "$(median conflicts "$f")" "$(median double_bookings "$f")" \
        "$(median cap_p50_ms "$f")" "$(median cap_p99_ms "$f")" "$okc/$RUNS" "$ratio" "$ratio_rw"
done
echo "pgbench -S (select-only, 16 clients, 2 threads, $PGBENCH_SECONDS s) median TPS: $tps"
echo "pgbench TPC-B-like (read-write, 16 clients, 2 threads, $PGBENCH_SECONDS s) median TPS: $tps_rw"
echo "PostgreSQL with fsync=on and synchronous_commit=on; SQLite WAL with synchronous=FULL"
echo "Per run (admitted/s, p99 ms, capacity p99 ms):"
for b in sqlite postgres; do
    printf '  %-10s %s\n' "$b" "$(grep -oE ' rate=[0-9.]+| p99_ms=[0-9.]+| cap_p99_ms=[0-9.]+' \
        "$work/$b.results" | sed 's/.*=//' | paste -sd' ' | awk '{for (i = 1; i <= NF; i += 3) \
        printf "%s%s / %s / %s", (i > 1 ? ", " : ""), $i, $(i + 1), $(i + 2)}')"
done
echo "$(cat "$work/load.txt"); at the end: $(loadavg) (other jobs on the machine inflate the tails)"
