#!/bin/sh
# Prepares a GPU node for the gpuaas cache daemon (deploy/base/cache.yaml), once per node,
# as root on the node. The daemon runs as UID 1001 in group 0, never as root, and keeps its
# store in a hostPath directory that the kubelet will not create (type: Directory).
#   Kubernetes: copy this file to each GPU node and run it as root, e.g.
#     kubectl debug node/NODE -i --profile=sysadmin --image=busybox -- chroot /host sh -s < prepare-node.sh
#   OpenShift:  the MachineConfig in openshift/ runs the same commands at every boot.
# Idempotent. Arguments: [DIR] (default /var/lib/gpuaas/cache, = cache.store_dir).
set -eu
dir=${1:-/var/lib/gpuaas/cache}
mkdir -p "$dir"
# the daemon's UID owns the store; group 0 as OpenShift runs containers; others (the
# sessions, which mount the store read-only under their own UID) may read and traverse
chown 1001:0 "$dir"
chmod 0775 "$dir"
# SELinux (OpenShift, RHEL, Fedora): containers may only use files of type container_file_t
if command -v chcon >/dev/null 2>&1 && [ -e /sys/fs/selinux/enforce ]; then
    chcon -R -t container_file_t -l s0 "$dir"
fi
ls -ldZ "$dir" 2>/dev/null || ls -ld "$dir"
