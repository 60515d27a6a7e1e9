#!/usr/bin/env bash
# bench/cache.sh — the node cache's download and hashing speed against curl and sha256sum,
# measured in the same run over loopback. Usage: bench/cache.sh [SIZE_MIB] [RUNS]
# Prints medians; the ratios are what matter (shared machines are noisy). Every figure is
# taken after `sync`; `curl -o` leaves its file in the page cache, while ours (and the
# "curl -o, then sync FILE" baseline) end with the file on disk.
# Also prints every run (RAW=1) for the record.
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-2048}; runs=${2:-3}
b=${GPUAAS_BUILD:-build}
work=$(mktemp -d /tmp/gpuaas-bench-cache.XXXXXX)
trap 'kill $srv 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/files"
echo "creating a ${size_mib} MiB file"
head -c $((size_mib << 20)) /dev/urandom > "$work/files/blob.bin"
hex=$(sha256sum "$work/files/blob.bin" | cut -d' ' -f1)
"$b/gpuaas-testfilesrv" --root "$work/files" --listen 127.0.0.1:0 > "$work/port" &
srv=$!
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
url="http://127.0.0.1:$(cat "$work/port")/blob.bin"

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
wall() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
cpu() { /usr/bin/time -f "%U %S" "$@" 2>&1 >/dev/null | tail -1 | awk '{print $1 + $2}'; }

declare -a curl_t sync_t one_t par_t
for i in $(seq "$runs"); do
  # each measurement starts with no dirty data of an earlier one still being written back
  rm -f "$work/out"; sync
  curl_t+=("$(wall curl -sS -o "$work/out" "$url")")
  rm -f "$work/out"; sync
  sync_t+=("$(wall sh -c 'curl -sS -o "$1" "$2" && sync "$1"' sh "$work/out" "$url")")
  rm -f "$work/out"; rm -rf "$work/s1"; sync
  one_t+=("$(wall "$b/gpuaas" cache fetch --store "$work/s1" --sha256 "$hex" --ranges 1 "$url")")
  rm -rf "$work/s1" "$work/s4"; sync
  par_t+=("$(wall "$b/gpuaas" cache fetch --store "$work/s4" --sha256 "$hex" --ranges 4 "$url")")
  rm -rf "$work/s4"
done
c=$(printf '%s\n' "${curl_t[@]}" | median)
cs=$(printf '%s\n' "${sync_t[@]}" | median)
o=$(printf '%s\n' "${one_t[@]}" | median)
if [ "${RAW:-0}" = 1 ]; then
  echo "curl: ${curl_t[*]}"; echo "curl+sync: ${sync_t[*]}"; echo "one: ${one_t[*]}"; echo "four: ${par_t[*]}"
fi
p=$(printf '%s\n' "${par_t[@]}" | median)

declare -a ours_h ref_h
for i in $(seq "$runs"); do
  ours_h+=("$(cpu "$b/gpuaas" cache hash "$work/files/blob.bin")")
  ref_h+=("$(cpu sha256sum "$work/files/blob.bin")")
done
oh=$(printf '%s\n' "${ours_h[@]}" | median)
rh=$(printf '%s\n' "${ref_h[@]}" | median)

printf '\n%-44s %10s\n' "download of ${size_mib} MiB over loopback" "median s"
printf '%-44s %10.2f\n' "curl -o (baseline)" "$c"
printf '%-44s %10.2f   ratio %.2f (durable baseline: on disk like ours)\n' "curl -o, then sync FILE" "$cs" "$(echo "$cs / $c" | bc -l)"
printf '%-44s %10.2f   ratio %.2f (target <= 1.1)\n' "gpuaas cache fetch, one stream + sha256" "$o" "$(echo "$o / $c" | bc -l)"
printf '%-44s %10s   ratio %.2f vs curl -o + sync\n' "" "" "$(echo "$o / $cs" | bc -l)"
printf '%-44s %10.2f   ratio %.2f (target <= 1.0 vs one stream: %.2f)\n' "gpuaas cache fetch, 4 parallel ranges" "$p" "$(echo "$p / $c" | bc -l)" "$(echo "$p / $o" | bc -l)"
printf '\n%-44s %10s\n' "sha256 of ${size_mib} MiB" "median CPU s"
printf '%-44s %10.2f\n' "sha256sum (baseline)" "$rh"
printf '%-44s %10.2f   ratio %.2f (target <= 1.2)\n' "gpuaas cache hash (libcrypto)" "$oh" "$(echo "$oh / $rh" | bc -l)"
