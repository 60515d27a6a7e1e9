#!/usr/bin/env bash
# The session workspace image (deploy/workspace/Containerfile), built as shipped with only the
# base swapped: FROM the project's Debian 12 base (tests/scripts/base-images.sh, debootstrap from
# the machine's mirror), so PyTorch, Jupyter and kubectl come from Debian packages and
# code-server from npm. Then, as OpenShift runs it -- an arbitrary UID (123456) in group 0, the
# image's own entry point and environment, HOME on a volume of its own (a directory mounted
# over /home/workspace, group 0 writable as fsGroup or OpenShift make a claim):
#  - the IDE answers HTTP on the port the plan declares (code-server /healthz and its page) and
#    Jupyter answers behind it at /absproxy/<port>/, where a kernel started over HTTP answers
#    over its WebSocket channel (tests/lib/ws_handshake.py), both through code-server's proxy;
#  - `python3 -c "import torch"`, `kubectl version --client`, git, jq and gpuaas-serve work;
#  - what the IDE and the user write lands in $HOME, i.e. on the volume, owned by that UID;
#  - listening on all addresses (no proxy in front), the IDE asks for a password.
# podman run is not available in every sandbox: the image is mounted (podman mount) and its
# entry point run with chroot --userspec, as tests/it/deploy.sh does for the server image.
# The built image is kept in podman's storage, tagged with a hash of deploy/workspace/ and the
# base image's ID, and reused while neither changes (GPUAAS_WORKSPACE_REBUILD=1 rebuilds).
# Knobs: GPUAAS_IMAGE_BUILD=0 (skip), GPUAAS_IMAGE_BASE (base image), GPUAAS_WORKSPACE_REBUILD=1,
# GPUAAS_PODMAN_BUILD_ARGS (e.g. --no-cache for a cold build), GPUAAS_TEST_OUTPUT.
set -euo pipefail
SRC=${GPUAAS_SRC:-.}
cd "$SRC"
SRC=.
export NAME=workspace_image FAIL_LOGS="build ide ide-password"
# shellcheck source=../lib/it_common.sh
. tests/lib/it_common.sh

if [ "${GPUAAS_IMAGE_BUILD:-1}" = 0 ]; then
  echo "workspace_image: NOT RUN: image builds are off (GPUAAS_IMAGE_BUILD=0)"
  exit 0
fi
command -v podman >/dev/null ||
  fail "podman is required for the image build (make deps installs it; GPUAAS_IMAGE_BUILD=0 skips)"
[ "$(id -u)" = 0 ] || fail "chroot and mounts need root (as make test runs)"

base=${GPUAAS_IMAGE_BASE:-}
[ -n "$base" ] || base=$(bash tests/scripts/base-images.sh 2>"$WORK/base.log") ||
  fail "no base image: $(tail -5 "$WORK/base.log")"
base_id=$(podman image inspect --format '{{.Id}}' "$base") || fail "cannot inspect $base"
key=$( (echo "$base_id"; tar -C deploy/workspace -c --sort=name --mtime=@0 --owner=0 --group=0 \
  --numeric-owner .) | sha256sum | cut -c1-16)
IMAGE=localhost/gpuaas-workspace:test-$key
if [ "${GPUAAS_WORKSPACE_REBUILD:-0}" != 1 ] && podman image exists "$IMAGE"; then
  echo "workspace_image: warm: $IMAGE is built from this deploy/workspace/ and base"
else
  secret=()
  ca=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
  [ ! -r "$ca" ] || secret=(--secret "id=extra_ca,src=$ca")
  t0=$(date +%s)
  # shellcheck disable=SC2086 # GPUAAS_PODMAN_BUILD_ARGS: words
  podman build --pull=never --isolation chroot --network host "${secret[@]}" ${GPUAAS_PODMAN_BUILD_ARGS:-} \
    --build-arg BASE="$base" -t "$IMAGE" -f deploy/workspace/Containerfile . \
    >"$WORK/build.log" 2>&1 || fail "podman build of deploy/workspace/Containerfile"
  echo "workspace_image: cold: built $IMAGE in $(($(date +%s) - t0)) s"
  # earlier test builds of other sources, a day old: podman's storage is shared by every
  # checkout on the machine, and removing another checkout's image (with -f, its container)
  # while its run used it killed that run's IDE (uv_cwd ENOENT); without -f an image in use
  # stays, and the age spares the builds other checkouts still rerun
  podman images --filter until=24h --format '{{.Repository}}:{{.Tag}}' |
    grep '^localhost/gpuaas-workspace:test-' | grep -vx "$IMAGE" | xargs -r podman rmi >/dev/null 2>&1 ||
    true
fi

# ---- the image as a root file system, entry point and environment from its configuration ----
CTR=$(podman create "$IMAGE")
MNT=$(podman mount "$CTR")
VOL=$(mktemp -d /var/tmp/gpuaas-home.XXXXXX)
MOUNTS=()
it_cleanup_extra() {
  local p m
  # processes started in the image's root (by this test): by id
  for p in /proc/[0-9]*; do
    if [ "$(readlink "$p/root" 2>/dev/null)" = "$MNT" ]; then kill -KILL "${p#/proc/}" 2>/dev/null || true; fi
  done
  for ((m = ${#MOUNTS[@]} - 1; m >= 0; m--)); do umount "${MOUNTS[m]}" 2>/dev/null || true; done
  podman umount "$CTR" >/dev/null 2>&1 || true
  podman rm -f "$CTR" >/dev/null 2>&1 || true
  rm -rf "$VOL"
}
mnt() { # mnt ARGS... TARGET
  mount "$@" && MOUNTS+=("${*: -1}")
}
mnt --bind /dev "$MNT/dev" || fail "cannot bind /dev"
mnt -t proc proc "$MNT/proc" || fail "cannot mount proc"
# the home volume: group 0, group-writable, setgid, as an fsGroup-managed claim
chgrp 0 "$VOL" && chmod 2775 "$VOL"
mnt --bind "$VOL" "$MNT/home/workspace" || fail "cannot mount the home volume"
mapfile -t ENV < <(podman image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$IMAGE" | sed '/^$/d')
mapfile -t ENTRY < <(podman image inspect --format '{{range .Config.Entrypoint}}{{println .}}{{end}}' "$IMAGE" | sed '/^$/d')
USER_=$(podman image inspect --format '{{.Config.User}}' "$IMAGE")
WDIR=$(podman image inspect --format '{{.Config.WorkingDir}}' "$IMAGE")
if [ -z "$USER_" ] || [ "${USER_%%:*}" = 0 ]; then fail "the image runs as root (USER '$USER_')"; fi
[ "${#ENTRY[@]}" -gt 0 ] || fail "the image has no entry point"
for want in HOME=/home/workspace HF_HOME=/cache/huggingface; do
  printf '%s\n' "${ENV[@]}" | grep -qx "$want" || fail "the image lacks ENV $want (the plan's mounts)"
done
UID_=123456
run() { # run ENV... -- COMMAND...: as UID_ in group 0, in the image, with its environment
  local extra=()
  while [ "$1" != -- ]; do extra+=("$1"); shift; done
  shift
  # shellcheck disable=SC2016 # expanded by the shell in the image
  chroot --userspec="$UID_:0" "$MNT" /usr/bin/env -i "${ENV[@]}" "${extra[@]}" \
    /bin/sh -c 'cd "$0" && exec "$@"' "$WDIR" "$@"
}

# ---- the tools ----
run -- python3 -c 'import torch; print("torch", torch.__version__); assert torch.tensor([2.0]).mul(3).item() == 6.0' \
  >"$WORK/torch.txt" 2>&1 || fail "import torch: $(cat "$WORK/torch.txt")"
run -- kubectl version --client >"$WORK/kubectl.txt" 2>&1 || fail "kubectl version --client: $(cat "$WORK/kubectl.txt")"
run -- git --version >/dev/null || fail "no git"
run -- jq --version >/dev/null || fail "no jq"
run -- gpuaas-serve --help >"$WORK/serve-help.txt" 2>&1 || fail "gpuaas-serve --help: $(cat "$WORK/serve-help.txt")"
rc=0
run -- gpuaas-serve mistral m >"$WORK/serve-bad.txt" 2>&1 || rc=$?
if [ "$rc" != 2 ] || ! grep -q 'unknown engine "mistral"' "$WORK/serve-bad.txt"; then
  fail "gpuaas-serve in the image: exit $rc: $(cat "$WORK/serve-bad.txt")"
fi
echo "workspace_image: $(cat "$WORK/torch.txt"); $(head -1 "$WORK/kubectl.txt")"

# ---- the IDE, as the entry point starts it, on the plan's port ----
# KNOWN RACE, kept: code-server and Jupyter are the image's third-party servers, started by its
# entry point on the ports a session plan fixes ($GPUAAS_WORKSPACE_PORT, $GPUAAS_JUPYTER_PORT);
# neither reports a kernel-picked port to its starter, and Jupyter moves to another port on
# its own when its port is taken. So a port the kernel reports free now is handed over, and
# another process may take it before the server binds (then this test fails, it never passes
# wrongly). The gpuaas daemons report their ports instead (--port-file).
candidate_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
PORT=$(candidate_port)
JPORT=$(candidate_port)
chroot --userspec="$UID_:0" "$MNT" /usr/bin/env -i "${ENV[@]}" GPUAAS_WORKSPACE_LISTEN=127.0.0.1 \
  GPUAAS_WORKSPACE_PORT="$PORT" GPUAAS_JUPYTER_PORT="$JPORT" "${ENTRY[@]}" >"$WORK/ide.log" 2>&1 &
PIDS+=($!)
# Node.js and the notebook server start in a few seconds; 120 s leaves room on a loaded
# 2-core machine, and a wait that ends early on success costs nothing
wait_for 120 "code-server on 127.0.0.1:$PORT (/healthz)" curl -fs -o "$WORK/healthz" "http://127.0.0.1:$PORT/healthz"
grep -q '"status"' "$WORK/healthz" || fail "code-server /healthz: $(cat "$WORK/healthz")"
curl -fsSL -o "$WORK/page.html" "http://127.0.0.1:$PORT/" || fail "code-server's page"
grep -qi 'vs/code\|workbench' "$WORK/page.html" || fail "code-server's page is not the workbench"
wait_for 120 "Jupyter behind code-server (/absproxy/$JPORT/api)" \
  curl -fs -o "$WORK/jupyter.json" "http://127.0.0.1:$PORT/absproxy/$JPORT/api"
jq -e '.version' "$WORK/jupyter.json" >/dev/null || fail "Jupyter /api: $(cat "$WORK/jupyter.json")"
# a kernel started through code-server's proxy (with Jupyter's XSRF cookie, as a browser does),
# then its WebSocket channel through the same proxy: the kernel answers kernel_info
JBASE=http://127.0.0.1:$PORT/absproxy/$JPORT
curl -fsS -c "$WORK/cookies" -o /dev/null "$JBASE/tree" || fail "Jupyter's tree page"
xsrf=$(awk '$6 == "_xsrf" {print $7}' "$WORK/cookies")
[ -n "$xsrf" ] || fail "Jupyter set no _xsrf cookie"
curl -fsS -b "$WORK/cookies" -H "X-XSRFToken: $xsrf" -H 'Content-Type: application/json' \
  -d '{"name": "python3"}' -o "$WORK/kernel.json" "$JBASE/api/kernels" || fail "start a kernel"
kid=$(jq -r .id "$WORK/kernel.json")
python3 tests/lib/ws_handshake.py --echo-kernel "$JBASE/api/kernels/$kid/channels" \
  >"$WORK/ws.txt" 2>&1 || fail "kernel WebSocket through code-server: $(cat "$WORK/ws.txt")"
grep -q 'kernel_info_reply: python' "$WORK/ws.txt" || fail "no kernel_info_reply: $(cat "$WORK/ws.txt")"

# ---- writes land in $HOME: the volume, as the arbitrary UID ----
run -- sh -c 'echo from-the-workspace >"$HOME/probe.txt"' || fail "cannot write \$HOME"
[ "$(cat "$VOL/probe.txt" 2>/dev/null)" = from-the-workspace ] || fail "\$HOME is not the home volume"
[ "$(stat -c %u "$VOL/probe.txt")" = "$UID_" ] || fail "probe.txt is not owned by uid $UID_"
[ -d "$VOL/.local/share/code-server" ] || fail "code-server keeps no state in \$HOME (on the volume)"
wait_for 30 "Jupyter's runtime files in \$HOME" bash -c "ls '$VOL'/.local/share/jupyter/runtime/* >/dev/null 2>&1"
if find "$MNT" -xdev -user "$UID_" -not -path "$MNT/tmp/*" -not -path "$MNT/proc/*" | grep -q .; then
  fail "the workspace wrote outside \$HOME and /tmp: $(find "$MNT" -xdev -user "$UID_" -not -path "$MNT/tmp/*" | head -5)"
fi

# ---- no proxy in front: listening on every address, the IDE asks for a password ----
PORT2=$(candidate_port)
chroot --userspec="$UID_:0" "$MNT" /usr/bin/env -i "${ENV[@]}" GPUAAS_WORKSPACE_PORT="$PORT2" \
  GPUAAS_JUPYTER_PORT="$(candidate_port)" "${ENTRY[@]}" >"$WORK/ide-password.log" 2>&1 &
PIDS+=($!)
wait_for 120 "code-server on *:$PORT2" curl -fs -o /dev/null "http://127.0.0.1:$PORT2/healthz"
loc=$(curl -sS -o /dev/null -w '%{redirect_url}' "http://127.0.0.1:$PORT2/")
[[ "$loc" == *login* ]] || fail "code-server on all addresses does not ask for a password (redirect: $loc)"
[ "$(stat -c %a "$VOL/.config/gpuaas/workspace-password")" = 600 ] || fail "the password file is not 0600"
if grep -qF "$(cat "$VOL/.config/gpuaas/workspace-password")" "$WORK/ide-password.log"; then
  fail "the password is in the log"
fi
stop_all
echo "workspace_image: ok ($IMAGE; Jupyter $(jq -r .version "$WORK/jupyter.json") behind code-server, $(tail -1 "$WORK/ws.txt") over its WebSocket)"
