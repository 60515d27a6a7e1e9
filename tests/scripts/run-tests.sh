#!/usr/bin/env bash
# The whole test run behind `make test`: lint (clang-format and cppcheck), unit + integration
# tests (with a private PostgreSQL), the AddressSanitizer+UBSan unit build, a short fuzz run,
# and the browser tests.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
out=$root/test-output; rm -rf "$out"; mkdir -p "$out"
pgdir=/tmp/gpuaas-test-pg-$$
export GPUAAS_TEST_PG_URL=$(bash tests/scripts/pg.sh start "$pgdir") || { echo "could not start PostgreSQL"; exit 1; }
export GPUAAS_TEST_OUTPUT=$out
trap 'bash tests/scripts/pg.sh stop "$pgdir"; rm -rf "$pgdir"' EXIT
fail=0
step() { echo "== $*"; "$@" || { echo "FAILED: $*"; fail=1; }; }
step make --no-print-directory lint
step bash -c "cd build && ctest -j2 --output-on-failure --timeout 600"
step make --no-print-directory test-asan
step make --no-print-directory test-fuzz
if [ -f web/package.json ]; then step bash tests/scripts/web-test.sh; fi
exit $fail
