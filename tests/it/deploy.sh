#!/usr/bin/env bash
# The install manifests (deploy/) and the image build (Containerfile):
#  1. `kubectl kustomize` renders every overlay and the database options;
#  2. every rendered object validates strictly against the OpenAPI definitions in
#     third_party/openapi/ (unknown fields fail);
#  3. no container runs as root, allows privilege escalation, or lacks cpu/memory requests;
#  4. the tenant ClusterRoles equal what `gpuaas deploy tenant-role` generates from the code;
#  5. the reconciler's RBAC grants exactly the Kubernetes API calls the code makes
#     (`gpuaas deploy kube-calls`, from src/kube/kube_calls.h);
#  6. the shipped configuration passes `gpuaas config check`;
#  7. the Containerfile passes the lint rules and its runtime packages provide every shared
#     library the binary links; the image builds with podman (on a Debian base made by
#     tests/scripts/base-images.sh unless GPUAAS_IMAGE_BASE names one), and the built image's
#     server, run as an arbitrary UID in group 0, answers /healthz, /readyz and the portal,
#     and its nginx, on the sessions' sign-in proxy configuration, refuses a request without
#     a sign-in (401);
#  8. the rendered install applied to the Kubernetes API test double, then `kubectl get` of
#     every object; the double's request log maps kubectl's requests to the right RBAC verbs
#     (the log tests/it/kube_calls.sh checks the reconciler's calls with);
#  9. the node preparation (deploy/node-prep: MachineConfigs, prepare-node.sh) prepares the
#     directory the cache DaemonSet mounts (type Directory) for the UID it runs as;
# 10. the image override documented in docs/install.md §2, on a copy of each overlay,
#     renders the new image in every gpuaas container;
# 11. the namespace is its own kustomization (deleting the application keeps the database),
#     with the Pod Security level its DaemonSet needs; the portal's Ingress serves the host
#     of server.public_url with reconciler.ingress_class; no image that nobody publishes; the
#     database CA is mounted where sslrootcert names it; the CloudNativePG Cluster (single
#     instance, no PDB that blocks a drain, barman-cloud plugin backup, recovery under the
#     same name so the Secrets keep theirs); the pre-pull DaemonSet generated from each
#     overlay's configuration is valid and restricted.
# Knobs: GPUAAS_BUILD (build folder), GPUAAS_TEST_OUTPUT, GPUAAS_IMAGE_BUILD=0 (skip the
# podman build), GPUAAS_IMAGE_BASE (base image), GPUAAS_PODMAN_BUILD_ARGS, CI=true.
set -euo pipefail
cd "${GPUAAS_SRC:-$(dirname "$0")/../..}"
BUILD=${GPUAAS_BUILD:-build}
OUT=${GPUAAS_TEST_OUTPUT:-test-output}/deploy
OPENAPI=third_party/openapi
CHECK="python3 tests/lib/deploy_check.py"
rm -rf "$OUT" && mkdir -p "$OUT"
fail=0
step() { printf '== %s\n' "$*"; }
bad() {
    printf 'FAIL: %s\n' "$*"
    fail=1
}

for tool in kubectl python3; do
    command -v "$tool" >/dev/null || {
        echo "FAIL: $tool is required"
        exit 1
    }
done
python3 -c 'import yaml' 2>/dev/null || {
    echo "FAIL: python3-yaml is required"
    exit 1
}
for bin in "$BUILD/gpuaas" "$BUILD/gpuaas-openapi-check"; do
    [ -x "$bin" ] || {
        echo "FAIL: $bin not built (make build)"
        exit 1
    }
done

OVERLAYS="kubernetes openshift openshift-sso"
step "render namespace"
kubectl kustomize deploy/namespace >"$OUT/namespace.yaml" || bad "kustomize namespace"
$CHECK tojson "$OUT/namespace.yaml" "$OUT/namespace.json"
python3 - "$OUT/namespace.yaml" <<'PY' || bad "namespace: Pod Security labels"
import sys, yaml
ns = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"] == "Namespace"]
assert [n["metadata"]["name"] for n in ns] == ["gpuaas-system"], ns
labels = ns[0]["metadata"].get("labels") or {}
# the cache DaemonSet mounts a hostPath volume: only the privileged level admits it
assert labels.get("pod-security.kubernetes.io/enforce") == "privileged", labels
PY
for o in $OVERLAYS; do
    step "render overlays/$o"
    kubectl kustomize "deploy/overlays/$o" >"$OUT/$o.yaml" || {
        bad "kustomize $o"
        continue
    }
    $CHECK tojson "$OUT/$o.yaml" "$OUT/$o.json"
    step "container security overlays/$o"
    $CHECK security "$OUT/$o.yaml" || bad "security $o"
    step "overlays/$o: no namespace, portal host and class, images, database CA"
    # the application's overlays must not own the namespace: `kubectl delete -k` of one
    # would delete the database with it
    if grep -q '^kind: Namespace$' "$OUT/$o.yaml"; then bad "overlays/$o renders a Namespace"; fi
    $CHECK portal "$OUT/$o.yaml" || bad "portal $o"
    $CHECK published "$OUT/$o.yaml" || bad "unpublished image in $o"
    $CHECK dbca "$OUT/$o.yaml" gpuaas-db-ca || bad "database CA $o"
done

step "Gateway API: overlays/kubernetes with the gateway component"
gw=$(mktemp -d)
cp -r deploy "$gw/"
mkdir -p "$gw/deploy/overlays/gw"
printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [../kubernetes]\ncomponents: [../../gateway]\n' \
    >"$gw/deploy/overlays/gw/kustomization.yaml"
if kubectl kustomize "$gw/deploy/overlays/gw" >"$OUT/kubernetes-gateway.yaml"; then
    $CHECK tojson "$OUT/kubernetes-gateway.yaml" "$OUT/kubernetes-gateway.json"
    grep -q '^kind: HTTPRoute$' "$OUT/kubernetes-gateway.yaml" || bad "gateway: no HTTPRoute"
    if grep -q '^kind: Ingress$' "$OUT/kubernetes-gateway.yaml"; then bad "gateway: the portal Ingress stays"; fi
    $CHECK portal "$OUT/kubernetes-gateway.yaml" || bad "gateway: HTTPRoute host"
    # the HTTPRoute schema is in force: a field it does not have is refused
    python3 - "$OUT/kubernetes-gateway.json" "$gw/bad-route.json" <<'PY'
import json, sys
objs = [o for o in json.load(open(sys.argv[1])) if o["kind"] == "HTTPRoute"]
objs[0]["spec"]["rules"][0]["backendRefs"][0]["prot"] = 8080
json.dump(objs, open(sys.argv[2], "w"))
PY
    if "$BUILD/gpuaas-openapi-check" --openapi "$OPENAPI" "$gw/bad-route.json" >/dev/null 2>&1; then
        bad "gateway: an HTTPRoute with an unknown field passed the schema check"
    fi
else
    bad "kustomize overlays/kubernetes + gateway"
fi
# the example Gateway: schema-valid, and the sessions' listener admits routes only from
# namespaces labelled as the reconciler labels session namespaces
$CHECK tojson deploy/gateway/gateway-example.yaml "$OUT/gateway-example.json"
"$BUILD/gpuaas-openapi-check" --openapi "$OPENAPI" "$OUT/gateway-example.json" ||
    bad "gateway-example.yaml: the Gateway schema refuses it"
python3 - "$OUT/gateway-example.json" "$gw/bad-gateway.json" <<'PY' || bad "gateway-example.yaml: allowedRoutes"
import json, sys
gws = [o for o in json.load(open(sys.argv[1])) if o["kind"] == "Gateway"]
assert len(gws) == 1, "one Gateway"
ls = {l["name"]: l for l in gws[0]["spec"]["listeners"]}
ns = ls["sessions"]["allowedRoutes"]["namespaces"]
assert ns["from"] == "Selector", "sessions listener: namespaces.from %r" % ns["from"]
assert ns["selector"]["matchLabels"] == {"app.kubernetes.io/managed-by": "gpuaas"}, ns
assert {"key": "gpuaas.io/reservation", "operator": "Exists"} in ns["selector"]["matchExpressions"]
portal = ls["https"]["allowedRoutes"]["namespaces"]
assert portal == {"from": "Selector", "selector": {"matchLabels": {
    "kubernetes.io/metadata.name": "gpuaas-system"}}}, portal
gws[0]["spec"]["listeners"][1]["allowedRoutes"]["namespaces"]["form"] = "All"
json.dump(gws, open(sys.argv[2], "w"))
PY
if "$BUILD/gpuaas-openapi-check" --openapi "$OPENAPI" "$gw/bad-gateway.json" >/dev/null 2>&1; then
    bad "gateway: a Gateway with an unknown field passed the schema check"
fi
rm -rf "$gw"

step "single-node component: no disruption budget left to block a one-node drain"
sn=$(mktemp -d)
cp -r deploy "$sn/"
mkdir -p "$sn/deploy/overlays/sn"
printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [../openshift]\ncomponents: [../../single-node]\n' \
    >"$sn/deploy/overlays/sn/kustomization.yaml"
if kubectl kustomize "$sn/deploy/overlays/sn" >"$OUT/openshift-single-node.yaml"; then
    if grep -q '^kind: PodDisruptionBudget$' "$OUT/openshift-single-node.yaml"; then
        bad "single-node: a PodDisruptionBudget remains"
    fi
    grep -q '^kind: PodDisruptionBudget$' "$OUT/openshift.yaml" || bad "the multi-node overlay lost its PodDisruptionBudgets"
else
    bad "kustomize overlays/openshift + single-node"
fi
rm -rf "$sn"

step "node preparation (deploy/node-prep) matches the cache DaemonSet"
kubectl kustomize deploy/node-prep/openshift >"$OUT/node-prep-openshift.yaml" || bad "kustomize node-prep"
grep -q 'name: 99-worker-gpuaas-cache' "$OUT/node-prep-openshift.yaml" || bad "node-prep: no worker MachineConfig"
for o in $OVERLAYS; do
    # MachineConfig has no schema in the reference definitions: checked structurally here
    $CHECK nodeprep "$OUT/$o.yaml" deploy/node-prep/prepare-node.sh \
        "$OUT/node-prep-openshift.yaml" deploy/node-prep/openshift/99-master-gpuaas-cache.yaml ||
        bad "node preparation vs overlays/$o"
done
if command -v shellcheck >/dev/null; then
    shellcheck deploy/node-prep/prepare-node.sh || bad "shellcheck prepare-node.sh"
fi
np=$(mktemp -d)
sh deploy/node-prep/prepare-node.sh "$np/cache" >/dev/null || bad "prepare-node.sh failed"
if [ "$(id -u)" = 0 ]; then
    [ "$(stat -c '%u:%g %a' "$np/cache")" = "1001:0 775" ] ||
        bad "prepare-node.sh: $(stat -c '%u:%g %a' "$np/cache"), want 1001:0 775"
fi
rm -rf "$np"

step "image override as docs/install.md §2 documents it, on a copy of each overlay"
for o in kubernetes openshift openshift-sso; do
    cp_root=$(mktemp -d)
    cp -r deploy "$cp_root/"
    # the documented override: images: [{name: <the image the layer below renders>, newName,
    # newTag}] -- registry.example.com/gpuaas/gpuaas (the base's), replacing the openshift overlay's own
    # entry for the ImageStream; on openshift-sso, the openshift overlay's ImageStream image
    name=registry.example.com/gpuaas/gpuaas
    [ "$o" != openshift-sso ] ||
        name=image-registry.openshift-image-registry.svc:5000/gpuaas-system/gpuaas
    python3 - "$cp_root/deploy/overlays/$o/kustomization.yaml" "$name" <<'PY'
import sys, yaml
p, name = sys.argv[1], sys.argv[2]
k = yaml.safe_load(open(p))
k["images"] = [i for i in k.get("images") or [] if i.get("name") != name]
k["images"].append({"name": name, "newName": "registry.example.com/gpuaas", "newTag": "9.9.9"})
yaml.safe_dump(k, open(p, "w"))
PY
    if kubectl kustomize "$cp_root/deploy/overlays/$o" >"$OUT/image-override-$o.yaml"; then
        $CHECK images "$OUT/image-override-$o.yaml" registry.example.com/gpuaas:9.9.9 \
            registry.redhat.io/ || bad "image override ($o)"
    else
        bad "kustomize with the image override ($o)"
    fi
    rm -rf "$cp_root"
done

step "render postgres/cloudnative-pg"
kubectl kustomize deploy/postgres/cloudnative-pg >"$OUT/postgres-cnpg.yaml" || bad "kustomize cnpg"
grep -q '^kind: Cluster$' "$OUT/postgres-cnpg.yaml" || bad "no CloudNativePG Cluster rendered"
$CHECK cnpg "$OUT/postgres-cnpg.yaml" 1 false || bad "postgres/cloudnative-pg"
for v in backup restore; do
    step "render postgres/cloudnative-pg-$v"
    kubectl kustomize "deploy/postgres/cloudnative-pg-$v" >"$OUT/postgres-cnpg-$v.yaml" ||
        bad "kustomize cnpg-$v"
    $CHECK cnpg "$OUT/postgres-cnpg-$v.yaml" 1 false || bad "postgres/cloudnative-pg-$v"
done
python3 - "$OUT/postgres-cnpg-backup.yaml" "$OUT/postgres-cnpg-restore.yaml" <<'PY' || bad "cnpg backup/restore"
import sys, yaml
b = {d["kind"]: d for d in yaml.safe_load_all(open(sys.argv[1])) if d}
r = {d["kind"]: d for d in yaml.safe_load_all(open(sys.argv[2])) if d}
plug = b["Cluster"]["spec"]["plugins"][0]
assert plug["name"] == "barman-cloud.cloudnative-pg.io" and plug["isWALArchiver"], plug
assert plug["parameters"]["barmanObjectName"] == b["ObjectStore"]["metadata"]["name"]
assert b["ScheduledBackup"]["spec"]["method"] == "plugin"
rc = r["Cluster"]["spec"]
assert list(rc["bootstrap"]) == ["recovery"], rc["bootstrap"]
src = [e for e in rc["externalClusters"] if e["name"] == rc["bootstrap"]["recovery"]["source"]][0]
# recovers from the original cluster's archive and archives under another server name
assert src["plugin"]["parameters"]["serverName"] == b["Cluster"]["metadata"]["name"]
assert rc["plugins"][0]["parameters"]["serverName"] != src["plugin"]["parameters"]["serverName"]
PY
step "render postgres/external"
tmp=$(mktemp -d)
simpid=
cleanup() {
    [ -z "$simpid" ] || kill "$simpid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
cp deploy/postgres/external/kustomization.yaml "$tmp/"
cp deploy/postgres/external/credentials.env.example "$tmp/credentials.env"
printf -- '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' >"$tmp/ca.crt"
kubectl kustomize "$tmp" >"$OUT/postgres-external.yaml" || bad "kustomize external"
$CHECK tojson "$OUT/postgres-external.yaml" "$OUT/postgres-external.json"
grep -q 'name: gpuaas-db-app' "$OUT/postgres-external.yaml" || bad "external: no Secret gpuaas-db-app"
# the CA the pods mount for sslmode=verify-full, under the name they mount
python3 - "$OUT/postgres-external.yaml" <<'PY' || bad "external: no Secret gpuaas-db-ca with ca.crt"
import sys, yaml
s = {d["metadata"]["name"]: d for d in yaml.safe_load_all(open(sys.argv[1])) if d}
assert "ca.crt" in s["gpuaas-db-ca"]["data"], s
assert all(d["metadata"]["namespace"] == "gpuaas-system" for d in s.values())
PY

for o in kubernetes openshift; do
    step "pre-pull DaemonSet generated from overlays/$o"
    $CHECK config "$OUT/$o.yaml" "$OUT/prepull-config-$o.yaml" --drop-section cache
    "$BUILD/gpuaas" deploy prepull --config "$OUT/prepull-config-$o.yaml" >"$OUT/prepull-$o.yaml" ||
        bad "deploy prepull $o"
    $CHECK tojson "$OUT/prepull-$o.yaml" "$OUT/prepull-$o.json"
    $CHECK security "$OUT/prepull-$o.yaml" || bad "prepull security $o"
    python3 - "$OUT/prepull-$o.yaml" "$OUT/prepull-config-$o.yaml" "$BUILD/gpuaas" <<'PY' || bad "prepull images $o"
import subprocess, sys, yaml
ds = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d][0]
cfg = yaml.safe_load(open(sys.argv[2]))
keys = subprocess.run([sys.argv[3], "config", "keys"], capture_output=True, text=True).stdout
want = set()
for k in ("workspace_image", "serve_vllm_image", "serve_ollama_image", "serve_tgi_image",
          "serve_triton_image"):
    v = (cfg.get("reconciler") or {}).get(k)
    if v is None:  # the default, as `gpuaas config keys` prints it
        v = [l.split()[3] for l in keys.splitlines() if l.split()[:1] == ["reconciler." + k]][0]
    want.add(v.strip('"'))
spec = ds["spec"]["template"]["spec"]
got = {c["image"] for c in spec["initContainers"]}
assert got == want, (got, want)
assert spec["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
PY
done

for p in kubernetes openshift; do
    step "tenant ClusterRole overlays/$p equals the code"
    "$BUILD/gpuaas" deploy tenant-role --platform "$p" >"$OUT/tenant-$p.yaml"
    diff -u "deploy/overlays/$p/tenant-clusterrole.yaml" "$OUT/tenant-$p.yaml" ||
        bad "deploy/overlays/$p/tenant-clusterrole.yaml is stale: regenerate it with" \
            "gpuaas deploy tenant-role --platform $p"
done

for o in kubernetes openshift; do
    step "a session on $o: valid objects the reconciler may apply"
    $CHECK config "$OUT/$o.yaml" "$OUT/session-config-$o.yaml" --drop-section cache
    "$BUILD/gpuaas" deploy session --config "$OUT/session-config-$o.yaml" --id 42 --user alice \
        --gpu-type nvidia.com/mig-1g.24gb --count 2 >"$OUT/session-$o.yaml" || bad "session $o"
    $CHECK tojson "$OUT/session-$o.yaml" "$OUT/session-$o.json"
    $CHECK covers "$OUT/$o.yaml" "$OUT/session-$o.yaml" || bad "reconciler role vs session $o"
    $CHECK published "$OUT/session-$o.yaml" || bad "unpublished image in a session ($o)"
done

step "docs/air-gapped.md names every image the install renders"
python3 - docs/air-gapped.md "$OUT"/kubernetes.yaml "$OUT"/openshift.yaml "$OUT"/openshift-sso.yaml \
    "$OUT"/prepull-kubernetes.yaml "$OUT"/prepull-openshift.yaml <<'PY' || bad "air-gapped image list"
import re, sys, yaml
doc = open(sys.argv[1]).read()
missing = set()
for path in sys.argv[2:]:
    for o in yaml.safe_load_all(open(path)):
        spec = ((o or {}).get("spec") or {}).get("template", {}).get("spec") or {}
        for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
            img = c["image"]
            repo = re.sub(r"[:@][^/]*$", "", img)
            # the images the install builds: named by the placeholder or the internal registry
            if repo.startswith(("registry.example.com/", "image-registry.openshift-image-registry.svc")):
                continue
            if repo not in doc:
                missing.add(img)
for m in sorted(missing):
    print("not in docs/air-gapped.md: " + m)
sys.exit(1 if missing else 0)
PY

step "OpenAPI (strict): every rendered object"
# one run loads the definitions once; each invalid object is named with its file
"$BUILD/gpuaas-openapi-check" --openapi "$OPENAPI" "$OUT"/*.json || bad "OpenAPI validation"

step "reconciler RBAC equals the code's API calls"
if "$BUILD/gpuaas" deploy kube-calls --platform kubernetes >"$OUT/calls-kubernetes.txt" 2>/dev/null; then
    "$BUILD/gpuaas" deploy kube-calls --platform openshift >"$OUT/calls-openshift.txt"
    $CHECK rbac "$OUT/kubernetes.yaml" "$OUT/calls-kubernetes.txt" gpuaas-tenant || bad "rbac kubernetes"
    $CHECK rbac "$OUT/openshift.yaml" "$OUT/calls-openshift.txt" gpuaas-tenant \
        system:openshift:scc:gpuaas-workspace || bad "rbac openshift"
else
    echo "NOT CHECKED: this build has no list of Kubernetes API calls (gpuaas deploy kube-calls)"
    if [ "${CI:-}" = true ]; then bad "the RBAC check needs gpuaas deploy kube-calls"; fi
fi

step "shipped configuration passes gpuaas config check"
drop=()
"$BUILD/gpuaas" config keys | grep -Eq '^ *cache\.' || drop=(--drop-section cache)
for o in $OVERLAYS; do
    $CHECK config "$OUT/$o.yaml" "$OUT/gpuaas-$o.yaml" "${drop[@]}" || {
        bad "config $o"
        continue
    }
    "$BUILD/gpuaas" config check --config "$OUT/gpuaas-$o.yaml" >/dev/null || bad "config check $o"
done
[ ${#drop[@]} -eq 0 ] || echo "note: this build has no cache.* keys; the cache section was not checked"

step "Containerfile"
$CHECK containerfile Containerfile || bad "Containerfile lint"
# the runtime stage's packages must provide every shared library the binary needs
runtime_pkgs=$(awk '/^FROM .* AS runtime/{r=1} r' Containerfile | grep -o 'lib[a-z0-9.+-]*' | sort -u)
while read -r lib; do
    path=$(readlink -f "$lib")
    pkg=$(dpkg -S "$path" 2>/dev/null | head -1 | cut -d: -f1) || true
    case "$pkg" in libc6 | "") continue ;; esac
    echo "$runtime_pkgs" | grep -qx "$pkg" || bad "runtime stage lacks $pkg (for $lib)"
done < <(needed=$(readelf -d "$BUILD/gpuaas" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
         # direct dependencies only: apt installs what they depend on
         ldd "$BUILD/gpuaas" | awk '$3 ~ /^\// {print $1, $3}' |
         while read -r soname path; do grep -qx "$soname" <<<"$needed" && echo "$path"; done)
if [ "${GPUAAS_IMAGE_BUILD:-1}" = 0 ]; then
    echo "NOT RUN: image build (GPUAAS_IMAGE_BUILD=0)"
elif ! command -v podman >/dev/null; then
    bad "podman is required for the image build (make deps installs it; GPUAAS_IMAGE_BUILD=0 skips)"
else
    step "image build and smoke test (podman)"
    # The base image: GPUAAS_IMAGE_BASE, or a Debian 12 minbase made by debootstrap from the
    # machine's mirror (no registry needed). The build runs with chroot isolation, which works
    # inside unprivileged sandboxes and CI containers as well as on a workstation.
    base=${GPUAAS_IMAGE_BASE:-}
    [ -n "$base" ] || base=$(bash tests/scripts/base-images.sh 2>"$OUT/base-image.log") || base=
    # Can podman build at all on this machine? A one-line image from the base tells an
    # environment that cannot run builds (no storage driver, no mirror) from a broken
    # Containerfile, which fails the test below.
    probe_ok=0
    if [ -n "$base" ]; then
        printf 'FROM %s\nRUN true\n' "$base" >"$OUT/Containerfile.probe"
        podman build --pull=never --isolation chroot --network host -q -t localhost/gpuaas:probe \
            -f "$OUT/Containerfile.probe" "$OUT" >"$OUT/probe.log" 2>&1 && probe_ok=1
    fi
    if [ "$probe_ok" = 0 ]; then
        cat "$OUT/base-image.log" "$OUT/probe.log" 2>/dev/null | tail -20
        echo "NOT RUN: podman cannot build images on this machine (see above); the Containerfile" \
            "was checked by the lint rules only"
        base=
    fi
    podman rmi -f localhost/gpuaas:probe >/dev/null 2>&1 || true
    # the build trusts the CAs this machine trusts (a TLS-inspecting proxy's, for npm)
    secret=()
    ca=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
    [ ! -r "$ca" ] || secret=(--secret "id=extra_ca,src=$ca")
    # shellcheck disable=SC2086
    if [ -z "$base" ]; then
        :
    elif podman build --pull=never --isolation chroot --network host "${secret[@]}" \
        --build-arg BASE="$base" --build-arg RUNTIME_BASE="$base" ${GPUAAS_PODMAN_BUILD_ARGS:-} \
        -t localhost/gpuaas:test -f Containerfile . >"$OUT/image-build.log" 2>&1; then
        ctr=$(podman create localhost/gpuaas:test)
        mnt=$(podman mount "$ctr")
        # an arbitrary UID in group 0, as OpenShift runs it
        run() { chroot --userspec=123456:0 "$mnt" "$@"; }
        run /usr/bin/gpuaas --version || bad "the image's gpuaas does not start"
        if chroot "$mnt" ldd /usr/bin/gpuaas | grep 'not found'; then bad "missing libraries"; fi
        run /bin/sh -c ': >/var/lib/gpuaas/.w && rm /var/lib/gpuaas/.w' ||
            bad "/var/lib/gpuaas is not writable by an arbitrary UID"
        # port 0: the kernel picks a free one and the server logs it (a random fixed port
        # can be taken by another test or a developer's server)
        printf 'server:\n  listen: 127.0.0.1:%s\n  web_root: /usr/share/gpuaas/web\ndatabase:\n  url: sqlite:///var/lib/gpuaas/smoke.db\nauth:\n  admin_password_file: /var/lib/gpuaas/admin-password\n' \
            0 >"$mnt/var/lib/gpuaas/smoke.yaml"
        # chroot execs the server: the pid is the server's own
        chroot --userspec=123456:0 "$mnt" /usr/bin/gpuaas server \
            --config /var/lib/gpuaas/smoke.yaml >"$OUT/image-server.log" 2>&1 &
        spid=$!
        ok=0 hport=
        for _ in $(seq 300); do
            [ -n "$hport" ] ||
                hport=$(sed -n 's/.*"listening".* port=\([0-9][0-9]*\).*/\1/p' "$OUT/image-server.log" | head -1)
            if [ -n "$hport" ] && curl -fsS "http://127.0.0.1:$hport/healthz" >/dev/null 2>&1; then
                ok=1
                break
            fi
            sleep 0.2
        done
        [ "$ok" = 1 ] || bad "the image's server does not answer /healthz"
        curl -fsS "http://127.0.0.1:$hport/readyz" >/dev/null || bad "the image's server is not ready"
        curl -fsS "http://127.0.0.1:$hport/" | grep -qi '<html' || bad "the image serves no portal"
        # the sessions' sign-in proxy: the image's nginx on the configuration the plan
        # generates, as the same arbitrary UID, reaching this server: no sign-in -> 401
        # nginx cannot listen on port 0 and report the pick, so a candidate port is tried and a
        # collision detected, not hoped away: nginx binds before it writes its pid file, and one
        # that lost the port to another process exits with "Address already in use"; then the
        # next candidate is tried, at most 10 (each a port the kernel had just reported free)
        gpid=
        for _ in $(seq 10); do
            gport=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
            printf 'reconciler:\n  gate_auth_url: http://127.0.0.1:%s\n  gate_port: %s\n  workspace_port: %s\n' \
                "$hport" "$gport" "$hport" >"$mnt/var/lib/gpuaas/gate.yaml"
            run /bin/sh -c "mkdir -p /tmp/gate && rm -f /tmp/gate/nginx.pid && /usr/bin/gpuaas config \
                gate-nginx --config /var/lib/gpuaas/gate.yaml --reservation 1 --listen 127.0.0.1:$gport \
                --temp-dir /tmp/gate >/tmp/gate/nginx.conf" || bad "the image's gpuaas cannot write the gate's nginx.conf"
            chroot --userspec=123456:0 "$mnt" /usr/sbin/nginx -e stderr -c /tmp/gate/nginx.conf \
                >"$OUT/image-gate.log" 2>&1 &
            gpid=$!
            for _ in $(seq 250); do # 50 s: only how long a broken start takes to fail
                { [ -s "$mnt/tmp/gate/nginx.pid" ] || ! kill -0 "$gpid" 2>/dev/null; } && break
                sleep 0.2
            done
            [ -s "$mnt/tmp/gate/nginx.pid" ] && kill -0 "$gpid" 2>/dev/null && break
            wait "$gpid" 2>/dev/null || true
            gpid=
            grep -q 'Address already in use' "$OUT/image-gate.log" || break
        done
        gate=000
        for _ in $(seq 100); do
            gate=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$gport/") && [ "$gate" != 000 ] && break
            sleep 0.2
        done
        [ "$gate" = 401 ] || bad "the image's sign-in proxy answered $gate without a sign-in, want 401 (log: $OUT/image-gate.log)"
        kill -TERM "$gpid" 2>/dev/null || true
        wait "$gpid" 2>/dev/null || true
        kill -TERM "$spid" 2>/dev/null || true
        wait "$spid" || bad "the image's server did not exit 0 on SIGTERM"
        [ -s "$mnt/var/lib/gpuaas/admin-password" ] || bad "no admin password file written"
        podman umount "$ctr" >/dev/null
        podman rm "$ctr" >/dev/null
    else
        tail -20 "$OUT/image-build.log"
        bad "podman build"
    fi
fi

step "apply to the Kubernetes API test double"
SIM="$BUILD/gpuaas-kubesim"
if [ -x "$SIM" ]; then
    "$SIM" --listen 127.0.0.1:0 --kubeconfig-out "$OUT/kubeconfig" \
        --request-log "$OUT/kubesim-requests.log" >"$OUT/kubesim.log" 2>&1 &
    simpid=$!
    for _ in $(seq 600); do # up to 60 s on a loaded machine, unless the double died
        [ -s "$OUT/kubeconfig" ] && break
        kill -0 "$simpid" 2>/dev/null || break
        sleep 0.1
    done
    export KUBECONFIG="$OUT/kubeconfig"
    # kubectl get of every object of a rendered file
    get_all() {
        local resource ns name
        while read -r resource ns name; do
            if [ "$ns" = - ]; then
                kubectl get "$resource" "$name" >/dev/null || bad "kubectl get $resource $name ($2)"
            else
                kubectl get -n "$ns" "$resource" "$name" >/dev/null ||
                    bad "kubectl get -n $ns $resource $name ($2)"
            fi
        done < <($CHECK resources "$1")
    }
    kubectl api-resources --no-headers -o name >"$OUT/served.txt" || bad "discovery"
    kubectl apply --server-side --field-manager=gpuaas-install -f "$OUT/namespace.yaml" ||
        bad "apply the namespace to the double"
    for o in kubernetes openshift; do
        $CHECK served "$OUT/$o.yaml" "$OUT/served.txt" "$OUT/$o-served.yaml" || bad "unserved kinds ($o)"
        kubectl apply --server-side --field-manager=gpuaas-install -f "$OUT/$o-served.yaml" ||
            bad "apply $o to the double"
        get_all "$OUT/$o-served.yaml" "$o"
    done
    for o in kubernetes openshift; do
        # a session, object by object in apply order, as the reconciler would
        $CHECK served "$OUT/session-$o.yaml" "$OUT/served.txt" "$OUT/session-$o-served.yaml" ||
            bad "unserved kinds (session $o)"
        kubectl apply --server-side --field-manager=gpuaas -f "$OUT/session-$o-served.yaml" \
            >"$OUT/session-$o-apply.log" 2>&1 || {
            cat "$OUT/session-$o-apply.log"
            bad "apply the $o session to the double"
        }
        get_all "$OUT/session-$o-served.yaml" "session $o"
        kubectl delete namespace gpuaas-42 --wait=false >/dev/null || bad "delete the session namespace"
        for _ in $(seq 100); do
            kubectl get namespace gpuaas-42 >/dev/null 2>&1 || break
            sleep 0.1
        done
    done
    # the request log names each request by the RBAC verb it needs
    for want in "patch core/namespaces kubectl" "create core/namespaces kubectl" \
        "get core/namespaces kubectl" "delete core/namespaces kubectl" \
        "patch apps/deployments kubectl" "get rbac.authorization.k8s.io/clusterroles kubectl"; do
        grep -q "^$want/" "$OUT/kubesim-requests.log" || bad "request log: no \"$want\" line"
    done
    kubectl get namespaces >/dev/null
    grep -q '^list core/namespaces kubectl/' "$OUT/kubesim-requests.log" || bad "request log: no list"
else
    echo "NOT CHECKED: $SIM is not built"
    if [ "${CI:-}" = true ]; then bad "the test double is required in CI"; fi
fi

if [ "$fail" -ne 0 ]; then
    echo "deploy checks FAILED"
    exit 1
fi
echo "deploy checks passed"
