#!/bin/sh
# Installs the workspace into the image being built (run as root by deploy/workspace/Containerfile).
# One recipe for every apt-based base image; what differs between bases is decided here from
# what the base already has, so that the base is the only thing a build changes:
#   - PyTorch: kept when python3 can already import torch (the CUDA production base), else the
#     distribution's python3-torch (Debian 12: 1.13, CPU only);
#   - Jupyter (JUPYTER=auto|lab|notebook|none): JupyterLab from pip where the base has pip,
#     else the distribution's jupyter-notebook;
#   - kubectl: the distribution's kubernetes-client where it has one, else KUBECTL_VERSION from
#     dl.k8s.io, checked against the published SHA-256; oc from OC_URL when given;
# code-server is installed by install-code-server.sh, in a layer of its own.
# Environment: JUPYTER, KUBECTL_VERSION, OC_URL (see the Containerfile).
set -eu
JUPYTER=${JUPYTER:-auto}
KUBECTL_VERSION=${KUBECTL_VERSION:-1.31.4}
OC_URL=${OC_URL:-}
LIB=/usr/local/lib/gpuaas-workspace
export DEBIAN_FRONTEND=noninteractive

die() {
    echo "install.sh: $*" >&2
    exit 1
}
have_pkg() { # a package the configured apt sources offer
    [ -n "$(apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: *\([^(].*\)$/\1/p')" ]
}
apt_install() {
    apt-get install -y --no-install-recommends "$@"
}

case "$JUPYTER" in auto | lab | notebook | none) ;; *) die "JUPYTER=$JUPYTER: use auto, lab, notebook or none" ;; esac

# what the base brings, before anything is installed
base_pip=0
python3 -m pip --version >/dev/null 2>&1 && base_pip=1
base_torch=0
python3 -c 'import torch' >/dev/null 2>&1 && base_torch=1
if [ "$JUPYTER" = auto ]; then
    JUPYTER=notebook
    [ "$base_pip" = 0 ] || JUPYTER=lab
fi

if [ -f /run/secrets/extra_ca ]; then
    export NODE_EXTRA_CA_CERTS=/run/secrets/extra_ca PIP_CERT=/run/secrets/extra_ca
fi
mkdir -p "$LIB"
apt-get update

# common tools; tini reaps the IDE's children as PID 1
apt_install ca-certificates curl wget git git-lfs openssh-client less nano vim-tiny jq procps \
    psmisc htop tmux rsync unzip zip bzip2 xz-utils file tini bash-completion \
    build-essential python3 python3-venv
# PyTorch
if [ "$base_torch" = 0 ]; then
    apt_install python3-torch python3-numpy
fi
# Jupyter
case "$JUPYTER" in
lab)
    [ "$base_pip" = 1 ] || die "JUPYTER=lab needs pip in the base image (use notebook)"
    python3 -c 'import jupyterlab' 2>/dev/null || python3 -m pip install --no-cache-dir 'jupyterlab>=4,<5'
    ;;
notebook)
    apt_install jupyter-notebook python3-ipykernel
    ;;
esac
echo "$JUPYTER" >"$LIB/jupyter"
# kubectl, oc
if have_pkg kubernetes-client; then
    apt_install kubernetes-client
else
    arch=$(dpkg --print-architecture)
    url="https://dl.k8s.io/release/v$KUBECTL_VERSION/bin/linux/$arch/kubectl"
    curl -fsSLo /usr/local/bin/kubectl "$url"
    echo "$(curl -fsSL "$url.sha256")  /usr/local/bin/kubectl" | sha256sum -c - ||
        die "kubectl from $url does not match its published SHA-256"
    chmod 0755 /usr/local/bin/kubectl
fi
if [ -n "$OC_URL" ]; then
    curl -fsSL "$OC_URL" | tar -xz -C /usr/local/bin oc
    chmod 0755 /usr/local/bin/oc
fi
rm -rf /root/.npm /root/.cache
apt-get clean
