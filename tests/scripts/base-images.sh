#!/usr/bin/env bash
# Makes the Debian 12 base image the Containerfile builds on available to podman without a
# container registry: when IMAGE is not in podman's local storage, it is created with
# debootstrap (minbase, from the machine's Debian mirror) and imported. Air-gapped sites and
# CI use it; where docker.io is reachable the Containerfile's default base works as is.
#
#   tests/scripts/base-images.sh [IMAGE]      (default localhost/gpuaas-base:debian12)
# Prints the image name on success.
set -euo pipefail
image=${1:-localhost/gpuaas-base:debian12}
if podman image exists "$image" 2>/dev/null; then
    echo "$image"
    exit 0
fi
command -v debootstrap >/dev/null || {
    echo "base-images: debootstrap is required (apt-get install debootstrap)" >&2
    exit 1
}
mirror=${GPUAAS_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
    # the mirror this machine's apt uses
    mirror=$(sed -n 's/^URIs: *\([^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null |
        head -1)
    [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
fi
root=$(mktemp -d /var/tmp/gpuaas-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1 || {
    tail -20 "$root.log" >&2
    rm -f "$root.log"
    echo "base-images: debootstrap from $mirror failed" >&2
    exit 1
}
rm -f "$root.log"
# what the official image also drops: apt lists and caches
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
tar -C "$root" -c . | podman import --quiet - "$image" >/dev/null
echo "$image"
