#!/usr/bin/env bash
# The flake hunt: the whole ctest suite N times in a row under load, stopping at a test's
# first failure. `bash tests/scripts/flake-hunt.sh [N] [LOAD_MINUTES]` (default 20 and 25) runs
# `ctest -j2 --repeat until-fail:N` in build/ with a private PostgreSQL (as `make test`), and
# for the first LOAD_MINUTES a loop that rebuilds a second copy of this commit from scratch
# (`make build JOBS=2`) beside it. The podman image builds (sh_deploy, sh_workspace_image)
# are left out unless HUNT_EXCLUDE says otherwise; HUNT_ARGS adds ctest options (e.g.
# "-R ^sh_gate$"). Output: test-output/hunt/ctest.log; exit status: ctest's.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
root=$PWD
n=${1:-20} load_min=${2:-25}
exclude=${HUNT_EXCLUDE-'^sh_deploy$|^sh_workspace_image$'}
[[ $n =~ ^[1-9][0-9]*$ && $load_min =~ ^[0-9]+$ ]] || {
    echo "usage: flake-hunt.sh [N >= 1] [LOAD_MINUTES >= 0]" >&2
    exit 2
}
[ -x build/gpuaas ] || { echo "flake-hunt: build first (make build)" >&2; exit 2; }
out=$root/test-output/hunt
rm -rf "$out" && mkdir -p "$out"
work=$(mktemp -d /tmp/gpuaas-hunt.XXXXXX)
chmod 755 "$work" # PostgreSQL runs as its own user
pgdir=$work/pg
loadpid=
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
    [ -n "$loadpid" ] && kill -- -"$loadpid" 2>/dev/null
    [ -n "$loadpid" ] && wait "$loadpid" 2>/dev/null
    bash "$root/tests/scripts/pg.sh" stop "$pgdir"
    rm -rf "$work"
}
trap cleanup EXIT
export GPUAAS_TEST_PG_URL
GPUAAS_TEST_PG_URL=$(bash tests/scripts/pg.sh start "$pgdir") || { echo "no PostgreSQL" >&2; exit 1; }
export GPUAAS_TEST_OUTPUT=$out
if [ "$load_min" -gt 0 ]; then
    git clone -q "$root" "$work/load" && git -C "$work/load" checkout -q "$(git rev-parse HEAD)"
    # its own process group, so that the end stops the build in flight too
    # shellcheck disable=SC2016 # expanded by the inner shell
    setsid bash -c 'end=$(($(date +%s) + $1 * 60))
        while [ "$(date +%s)" -lt "$end" ]; do
            (cd "$2" && rm -rf build && make build JOBS=2 >/dev/null 2>&1)
        done' load "$load_min" "$work/load" &
    loadpid=$!
fi
args=(-j2 --repeat "until-fail:$n" --output-on-failure --timeout 600)
[ -n "$exclude" ] && args+=(-E "$exclude")
# shellcheck disable=SC2206 # HUNT_ARGS is split on purpose
[ -n "${HUNT_ARGS:-}" ] && args+=(${HUNT_ARGS})
start=$(date +%s)
(cd build && ctest "${args[@]}") >"$out/ctest.log" 2>&1
rc=$?
runs=$(grep -cE 'Test +#[0-9]+: .* (Passed|\*\*\*Failed|\*\*\*Timeout|\*\*\*Exception)' "$out/ctest.log")
failed=$(grep -cE 'Test +#[0-9]+: .* \*\*\*(Failed|Timeout|Exception)' "$out/ctest.log")
echo "flake-hunt: $runs runs, $failed failed, $(($(date +%s) - start)) s (ctest exit $rc; $out/ctest.log)"
exit $rc
