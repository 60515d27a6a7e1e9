#!/bin/sh
# Installs code-server (VS Code in the browser) from npm into the image being built, on the
# distribution's Node.js (run as root by deploy/workspace/Containerfile after install.sh).
# Environment: CODE_SERVER (a version, or none).
set -eu
CODE_SERVER=${CODE_SERVER:-4.89.1}
export DEBIAN_FRONTEND=noninteractive
die() {
    echo "install-code-server.sh: $*" >&2
    exit 1
}
case "$CODE_SERVER" in none | [0-9]*.[0-9]*.[0-9]*) ;; *) die "CODE_SERVER=$CODE_SERVER: a version (4.89.1) or none" ;; esac
[ "$CODE_SERVER" != none ] || exit 0
if [ -f /run/secrets/extra_ca ]; then
    export NODE_EXTRA_CA_CERTS=/run/secrets/extra_ca
fi
apt-get update
# code-server from npm. Its postinstall fetches ripgrep from GitHub and compiles native modules;
# to build without GitHub, the packages are installed without scripts, the distribution's
# ripgrep is put where @vscode/ripgrep would download its own, then the native modules are
# built from source (node-gyp: build-essential, python3, libkrb5-dev for kerberos).
apt-get install -y --no-install-recommends nodejs npm ripgrep pkg-config libkrb5-dev
need=18 # the Node.js major code-server's postinstall requires (4.20 .. 4.89.x)
case "$CODE_SERVER" in 4.9[0-9].* | 4.1[0-9][0-9].*) need=20 ;; esac
have=$(node -p 'process.versions.node.split(".")[0]')
[ "$have" = "$need" ] ||
    die "code-server $CODE_SERVER needs Node.js $need; this base's distribution has Node.js $have" \
        "(build with CODE_SERVER=4.89.1 on Debian 12 / Ubuntu 24.04, or CODE_SERVER=none)"
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
npm install -g --unsafe-perm --ignore-scripts "code-server@$CODE_SERVER"
cs=$(npm root -g)/code-server
for d in "$cs/lib/vscode" "$cs/lib/vscode/extensions"; do
    (cd "$d" && npm install --unsafe-perm --legacy-peer-deps --omit=dev --ignore-scripts)
done
mkdir -p "$cs/lib/vscode/node_modules/@vscode/ripgrep/bin"
ln -sf /usr/bin/rg "$cs/lib/vscode/node_modules/@vscode/ripgrep/bin/rg"
# the install scripts skipped above: native modules (from source) and the postinstall's links.
# kerberos' bundled node-addon-api predates the const finalizer type of Node.js 18.20's
# headers: a warning with -fpermissive, as it is with the headers it was written for
export CXXFLAGS="${CXXFLAGS:-} -fpermissive"
(cd "$cs" && npm rebuild --unsafe-perm)
(cd "$cs/lib/vscode" && npm rebuild --unsafe-perm)
(cd "$cs/lib/vscode" && ln -sfn node_modules node_modules.asar &&
    ln -sfn code-linux.sh bin/remote-cli/code-server && ln -sfn browser-linux.sh bin/helpers/browser.sh)
code-server --version
npm cache clean --force
rm -rf /root/.npm /root/.cache
apt-get clean
