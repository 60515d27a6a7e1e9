#!/usr/bin/env bash
# Runs every libFuzzer harness built in DIR briefly over its seed corpus (tests/fuzz/<name>/).
set -euo pipefail
dir=$1; secs=${FUZZ_SECONDS:-20}
shopt -s nullglob
n=0
for f in "$dir"/fuzz_*; do
  [ -x "$f" ] || continue
  name=$(basename "$f"); corpus=tests/fuzz/${name#fuzz_}
  work=$(mktemp -d); cp -r "$corpus"/. "$work"/ 2>/dev/null || true
  echo "fuzz: $name for ${secs}s"
  "$f" -max_total_time="$secs" -max_len=8192 -timeout=5 "$work" >"$work.log" 2>&1 || { tail -40 "$work.log"; exit 1; }
  rm -rf "$work" "$work.log"; n=$((n+1))
done
echo "fuzz: $n harnesses passed"
