# shellcheck shell=bash
# Starts a private PostgreSQL server on a free TCP port of 127.0.0.1. Source it after defining
# `bindir` (PostgreSQL's bin directory) and `as_pg` (runs a command as the postgres user).
#
# PostgreSQL cannot be asked for port 0 and report the kernel's pick (the gpuaas daemons can:
# --port-file), so a port is chosen first and another process may take it before the
# postmaster binds it. That is detected, not hoped away: the postmaster then exits with
# "could not bind ... Address already in use", `pg_ctl -w` reports the failure, and the next
# candidate is tried. Each try ends either with a server that holds its port (no one can take
# it afterwards) or with a clean failure; after PG_PORT_TRIES collisions in a row (each on a
# port the kernel had just reported free) the start fails with the server's log. Any other
# failure ends the loop at once.
PG_PORT_TRIES=10

# A port the kernel reports free at this instant: only a candidate for the loop below.
pg_candidate_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

pg_start_any_port() { # pg_start_any_port DATADIR LOGFILE SOCKETDIR EXTRA_OPTIONS: sets PG_PORT
  local try seen
  for ((try = 1; try <= PG_PORT_TRIES; try++)); do
    PG_PORT=$(pg_candidate_port)
    seen=0
    if [ -f "$2" ]; then seen=$(wc -l <"$2"); fi
    if as_pg "$bindir/pg_ctl" -D "$1" -l "$2" -w \
      -o "-p $PG_PORT -k $3 -c listen_addresses=127.0.0.1 $4" start >/dev/null; then
      return 0
    fi
    tail -n +"$((seen + 1))" "$2" | grep -q 'Address already in use' || break
    echo "pg_port: port $PG_PORT was taken before PostgreSQL bound it; another (try $try)" >&2
  done
  echo "pg_port: PostgreSQL did not start; its log:" >&2
  tail -20 "$2" >&2
  return 1
}
