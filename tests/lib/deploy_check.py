"""Checks on rendered install manifests, used by tests/it/deploy.sh.

  deploy_check.py tojson IN.yaml OUT.json      YAML stream -> JSON array (for the OpenAPI checker)
  deploy_check.py security IN.yaml             no root, no privilege escalation, requests set
  deploy_check.py config IN.yaml OUT.yaml [--drop-section S]...
                                               the gpuaas.yaml held by ConfigMap gpuaas-config-*
  deploy_check.py kinds IN.yaml                "apiVersion kind namespace name" per object
  deploy_check.py resources IN.yaml            "resource.group namespace name" per object
  deploy_check.py served IN.yaml SERVED OUT.yaml
                                               the objects whose resource is in SERVED
                                               (`kubectl api-resources -o name`); lists the rest
  deploy_check.py covers IN.yaml SESSION.yaml  the reconciler's role may apply every object of a
                                               session (`gpuaas deploy session`) and bind its roles
  deploy_check.py containerfile FILE           lint rules for the image build
  deploy_check.py rbac IN.yaml CALLS.txt       the reconciler's (Cluster)Roles grant exactly the
                                               calls listed ("group resource verb" per line,
                                               group "core" for the core API)
  deploy_check.py images IN.yaml IMAGE [SKIP]...
                                               every container runs IMAGE, except containers
                                               whose image starts with a SKIP prefix
  deploy_check.py nodeprep IN.yaml SCRIPT MC.yaml...
                                               the node preparation (prepare-node.sh and the
                                               MachineConfigs) makes the cache DaemonSet's
                                               hostPath (type Directory, = cache.store_dir)
                                               owned by the daemon's UID, group 0, container_file_t
  deploy_check.py requests CALLS.txt LOG... [--only-failure-paths KUBE_CALLS.c] [--subset]
                                               the Kubernetes API requests the reconciler made
                                               against the test double (gpuaas-kubesim
                                               --request-log) are all in the list of calls
                                               (`gpuaas deploy kube-calls`), and every listed
                                               call was made, except those marked
                                               /* failure path */ in KUBE_CALLS.c;
                                               --subset: only the first half (one scenario)
Exit status 0 when the check passes, 1 with one line per problem otherwise.
"""
import json
import re
import sys

import yaml


def load(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def pod_specs(obj):
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        yield spec
    elif kind in ("Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "Job"):
        yield (spec.get("template") or {}).get("spec") or {}
    elif kind == "CronJob":
        yield ((spec.get("jobTemplate") or {}).get("spec", {}).get("template") or {}).get("spec") or {}


CLUSTER_SCOPED = {"Namespace", "MachineConfig", "ClusterRole", "ClusterRoleBinding", "SecurityContextConstraints",
                  "StorageClass", "PriorityClass", "CustomResourceDefinition", "Node",
                  "PersistentVolume", "IngressClass", "ValidatingWebhookConfiguration",
                  "MutatingWebhookConfiguration"}


def security(path):
    problems = []
    seen = 0
    for obj in load(path):
        name = "%s/%s" % (obj.get("kind"), obj["metadata"].get("name"))
        ns = obj["metadata"].get("namespace")
        if obj.get("kind") in CLUSTER_SCOPED and ns:
            problems.append("%s: cluster-scoped but has namespace %s" % (name, ns))
        if obj.get("kind") not in CLUSTER_SCOPED and ns != "gpuaas-system":
            problems.append("%s: not in namespace gpuaas-system" % name)
        for ps in pod_specs(obj):
            psc = ps.get("securityContext") or {}
            if ps.get("hostNetwork") or ps.get("hostPID") or ps.get("hostIPC"):
                problems.append("%s: uses the host network, PID or IPC namespace" % name)
            for c in (ps.get("initContainers") or []) + (ps.get("containers") or []):
                seen += 1
                cname = "%s container %s" % (name, c.get("name"))
                sc = c.get("securityContext") or {}
                non_root = sc.get("runAsNonRoot", psc.get("runAsNonRoot"))
                uid = sc.get("runAsUser", psc.get("runAsUser"))
                if non_root is not True:
                    problems.append("%s: runAsNonRoot is not true" % cname)
                if uid == 0:
                    problems.append("%s: runs as UID 0" % cname)
                if sc.get("allowPrivilegeEscalation") is not False:
                    problems.append("%s: allowPrivilegeEscalation is not false" % cname)
                if sc.get("privileged"):
                    problems.append("%s: privileged" % cname)
                caps = (sc.get("capabilities") or {})
                if "ALL" not in (caps.get("drop") or []):
                    problems.append("%s: does not drop ALL capabilities" % cname)
                if caps.get("add"):
                    problems.append("%s: adds capabilities %s" % (cname, caps["add"]))
                req = (c.get("resources") or {}).get("requests") or {}
                for r in ("cpu", "memory"):
                    if r not in req:
                        problems.append("%s: no %s request" % (cname, r))
    if seen == 0:
        problems.append("no container found: nothing was checked")
    return problems


def config(path, out, drop):
    for obj in load(path):
        if obj.get("kind") == "ConfigMap" and obj["metadata"]["name"].startswith("gpuaas-config"):
            text = obj["data"]["gpuaas.yaml"]
            doc = yaml.safe_load(text)
            for s in drop:
                doc.pop(s, None)
            with open(out, "w") as f:
                if drop:
                    yaml.safe_dump(doc, f)
                else:
                    f.write(text)
            return []
    return ["no ConfigMap gpuaas-config-* in %s" % path]


def containerfile(path):
    problems = []
    lines = open(path).read().replace("\\\n", " ").splitlines()
    instrs = [l.strip() for l in lines if l.strip() and not l.strip().startswith("#")]
    froms = [l for l in instrs if l.upper().startswith("FROM ")]
    # global ARGs (before the first FROM) may name the base images: check their defaults
    args = {}
    for l in instrs[: instrs.index(froms[0])] if froms else []:
        m = re.match(r"ARG\s+([A-Za-z_][A-Za-z0-9_]*)=(\S+)$", l)
        if m:
            args[m.group(1)] = m.group(2)
    from_at = [instrs.index(f) for f in froms]
    froms = [re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: args.get(m.group(1), m.group(0)), f)
             for f in froms]
    if len(froms) < 2:
        problems.append("not a multi-stage build (%d FROM)" % len(froms))
    for f in froms:
        image = f.split()[1]
        if "$" in image:
            problems.append("base image from an ARG without a default: %s" % image)
        elif ":" not in image.split("/")[-1] and "@sha256:" not in image:
            problems.append("base image without a tag: %s" % image)
        if image.endswith(":latest"):
            problems.append("base image tagged latest: %s" % image)
    last = instrs[from_at[-1]:] if froms else []
    users = [l.split()[1] for l in last if l.upper().startswith("USER ")]
    if not users:
        problems.append("the runtime stage sets no USER")
    else:
        u = users[-1].split(":")[0]
        if not u.isdigit() or int(u) == 0:
            problems.append("the runtime USER must be a numeric non-root UID, got %s" % users[-1])
    for l in instrs:
        up = l.upper()
        if up.startswith("ADD ") and re.search(r"https?://", l):
            problems.append("ADD of a URL (use a pinned, verified download): %s" % l)
        if "apt-get install" in l:
            if "--no-install-recommends" not in l:
                problems.append("apt-get install without --no-install-recommends")
            if "rm -rf /var/lib/apt/lists" not in l:
                problems.append("apt lists not removed in the same layer")
            if " -y" not in l and "--yes" not in l:
                problems.append("apt-get install without -y")
        if "sudo " in l:
            problems.append("sudo in a build step")
    entry = [l for l in last if l.upper().startswith("ENTRYPOINT ")]
    if not entry:
        problems.append("the runtime stage has no ENTRYPOINT")
    else:
        try:
            json.loads(entry[-1].split(None, 1)[1])
        except ValueError:
            problems.append("ENTRYPOINT is not in exec (JSON array) form")
    if not any("COPY --from=" in l for l in last):
        problems.append("the runtime stage copies nothing from the build stage")
    # arbitrary UID (OpenShift): group 0 must own and be able to write what the process writes
    if not any("g=u" in l or "chgrp" in l for l in instrs):
        problems.append("no group-0 permissions for an arbitrary UID (chgrp 0 / chmod g=u)")
    return problems


def plural(kind):
    k = kind.lower()
    if k.endswith("constraints"):
        return k
    if k.endswith("y"):
        return k[:-1] + "ies"
    if k.endswith("s"):
        return k + "es"
    return k + "s"


def resource_name(obj):
    api = obj["apiVersion"]
    group = api.split("/")[0] if "/" in api else ""
    return plural(obj["kind"]) + ("." + group if group else "")


RECONCILER_ROLES = (("ClusterRole", "gpuaas-reconciler"), ("Role", "gpuaas-reconciler-leader"))


def role_grants(objs):
    """{(group, resource, verb)} granted to the reconciler, and the bind rules apart."""
    grants, binds = set(), set()
    for o in objs:
        if (o.get("kind"), o["metadata"].get("name")) not in RECONCILER_ROLES:
            continue
        for rule in o.get("rules") or []:
            for g in rule.get("apiGroups") or []:
                for r in rule.get("resources") or []:
                    for v in rule.get("verbs") or []:
                        if "*" in (g, r, v):
                            raise SystemExit("wildcard in the reconciler's role: %s" % rule)
                        if v == "bind":
                            for n in rule.get("resourceNames") or ["*"]:
                                binds.add(n)
                        else:
                            grants.add((g or "core", r, v))
    return grants, binds


def rbac(path, calls_path, bind_names):
    objs = load(path)
    grants, binds = role_grants(objs)
    calls = set()
    for line in open(calls_path):
        f = line.split()
        if f:
            calls.add((f[0], f[1], f[2]))
    problems = []
    for c in sorted(calls - grants):
        problems.append("the code calls %s %s %s but the role does not allow it" % c)
    # authorization checks that are not API calls of their own: OpenShift asks for
    # routes/custom-host when a route names its host (sessions do)
    if any(c[1] == "routes" and c[2] in ("create", "patch") for c in calls):
        calls.add(("route.openshift.io", "routes/custom-host", "create"))
    for g in sorted(grants - calls):
        problems.append("the role allows %s %s %s but the code never calls it" % g)
    creates_bindings = any(c[1] == "rolebindings" and c[2] in ("create", "patch") for c in calls)
    want = set(bind_names) if creates_bindings else set()
    for n in sorted(want - binds):
        problems.append("the reconciler binds ClusterRole %s but may not (verb bind)" % n)
    for n in sorted(binds - want):
        problems.append("the role may bind %s, which the reconciler never binds" % n)
    return problems


def covers(path, session_path):
    grants, binds = role_grants(load(path))
    problems = []
    for o in load(session_path):
        api = o["apiVersion"]
        group = api.split("/")[0] if "/" in api else "core"
        res = plural(o["kind"])
        # namespaces are created, then read for the ownership check; everything else is
        # server-side applied (patch, and create when new)
        verbs = ("get", "create") if o["kind"] == "Namespace" else ("create", "patch")
        for v in verbs:
            if (group, res, v) not in grants:
                problems.append("the reconciler may not %s %s (%s %s)" % (v, res, o["kind"],
                                                                         o["metadata"]["name"]))
        if o["kind"] == "RoleBinding":
            ref = o["roleRef"]["name"]
            if ref not in binds:
                problems.append("the reconciler may not bind ClusterRole %s" % ref)
    return problems


def images(path, image, skip):
    problems = []
    seen = 0
    for obj in load(path):
        name = "%s/%s" % (obj.get("kind"), obj["metadata"].get("name"))
        for ps in pod_specs(obj):
            for c in (ps.get("initContainers") or []) + (ps.get("containers") or []):
                img = c.get("image", "")
                if any(img.startswith(p) for p in skip):
                    continue
                seen += 1
                if img != image:
                    problems.append("%s container %s: image %s, want %s" % (name, c.get("name"), img,
                                                                            image))
    if seen == 0:
        problems.append("no container found: nothing was checked")
    return problems


def gpuaas_config(objs):
    for obj in objs:
        if obj.get("kind") == "ConfigMap" and obj["metadata"]["name"].startswith("gpuaas-config"):
            return yaml.safe_load(obj["data"]["gpuaas.yaml"]) or {}
    return None


def portal(path):
    """The portal's Ingress serves the host of server.public_url through the controller of
    reconciler.ingress_class (issue: a hard-coded host and no class reached no controller)."""
    from urllib.parse import urlparse
    objs = load(path)
    cfg = gpuaas_config(objs)
    if cfg is None:
        return ["no gpuaas-config ConfigMap"]
    host = urlparse((cfg.get("server") or {}).get("public_url", "")).hostname
    klass = (cfg.get("reconciler") or {}).get("ingress_class")
    problems = []
    for o in objs:
        if o.get("kind") != "Ingress":
            continue
        spec = o.get("spec") or {}
        if spec.get("ingressClassName") != klass:
            problems.append("Ingress %s: ingressClassName %r, reconciler.ingress_class is %r"
                            % (o["metadata"]["name"], spec.get("ingressClassName"), klass))
        for r in spec.get("rules") or []:
            if r.get("host") != host:
                problems.append("Ingress %s: host %r, server.public_url names %r"
                                % (o["metadata"]["name"], r.get("host"), host))
        for t in spec.get("tls") or []:
            for h in t.get("hosts") or []:
                if h != host:
                    problems.append("Ingress %s: TLS host %r, server.public_url names %r"
                                    % (o["metadata"]["name"], h, host))
    for o in objs:
        if o.get("kind") == "HTTPRoute":
            hosts = (o.get("spec") or {}).get("hostnames") or []
            if hosts != [host]:
                problems.append("HTTPRoute %s: hostnames %r, server.public_url names %r"
                                % (o["metadata"]["name"], hosts, host))
    return problems


UNPUBLISHED = ("quay.io/gpuaas/",)


def published(path):
    """No image that nobody publishes: gpuaas images are built by the installer and named by
    its overlay (registry.example.com, a reserved domain, until then)."""
    problems = []
    for o in load(path):
        for ps in pod_specs(o):
            for c in (ps.get("initContainers") or []) + (ps.get("containers") or []):
                if c.get("image", "").startswith(UNPUBLISHED):
                    problems.append("%s/%s container %s: %s is published by no one"
                                    % (o["kind"], o["metadata"]["name"], c["name"], c["image"]))
    return problems


def dbca(path, want_secret):
    """Every pod that reads the database credentials mounts the database CA at the path the
    documented sslrootcert names, from the Secret the database option provides."""
    problems = []
    seen = 0
    for o in load(path):
        for ps in pod_specs(o):
            vols = {v["name"]: v for v in ps.get("volumes") or []}
            for c in ps.get("containers") or []:
                env = [e for e in c.get("env") or []
                       if ((e.get("valueFrom") or {}).get("secretKeyRef") or {}).get("name")
                       == "gpuaas-db-app"]
                if not env:
                    continue
                seen += 1
                m = [m for m in c.get("volumeMounts") or [] if m.get("mountPath") == "/etc/gpuaas-db"]
                if not m:
                    problems.append("%s container %s: no mount at /etc/gpuaas-db"
                                    % (o["metadata"]["name"], c["name"]))
                    continue
                sec = (vols.get(m[0]["name"]) or {}).get("secret") or {}
                if sec.get("secretName") != want_secret or not any(
                        i.get("key") == "ca.crt" and i.get("path") == "ca.crt" for i in sec.get("items") or []):
                    problems.append("%s container %s: /etc/gpuaas-db is not ca.crt of Secret %s"
                                    % (o["metadata"]["name"], c["name"], want_secret))
    if seen < 2:
        problems.append("expected the server and the reconciler to read gpuaas-db-app, saw %d" % seen)
    return problems


def cnpg(path, want_instances, want_pdb):
    """The CloudNativePG Cluster: its name makes the Secret <name>-app and <name>-ca the pods
    read, its instances and PDB setting suit the shipped single node."""
    problems = []
    clusters = [o for o in load(path) if o.get("kind") == "Cluster"]
    if len(clusters) != 1:
        return ["%d Cluster objects, want 1" % len(clusters)]
    c = clusters[0]
    if c["metadata"]["name"] != "gpuaas-db":
        problems.append("Cluster %s makes Secret %s-app, the pods read gpuaas-db-app"
                        % (c["metadata"]["name"], c["metadata"]["name"]))
    if c["apiVersion"] != "postgresql.cnpg.io/v1":
        problems.append("Cluster apiVersion %s" % c["apiVersion"])
    spec = c.get("spec") or {}
    if spec.get("instances") != int(want_instances):
        problems.append("instances %r, want %s" % (spec.get("instances"), want_instances))
    if str(spec.get("enablePDB")).lower() != want_pdb:
        problems.append("enablePDB %r, want %s" % (spec.get("enablePDB"), want_pdb))
    if "barmanObjectStore" in (spec.get("backup") or {}):
        problems.append("the deprecated in-tree barmanObjectStore is used")
    return problems


def nodeprep(path, script, mc_paths):
    """The node preparation matches what the cache DaemonSet mounts and runs as."""
    problems = []
    objs = load(path)
    ds = [o for o in objs if o.get("kind") == "DaemonSet" and o["metadata"]["name"] == "gpuaas-cache"]
    if not ds:
        return ["no DaemonSet gpuaas-cache in %s" % path]
    ps = ds[0]["spec"]["template"]["spec"]
    uid = (ps.get("securityContext") or {}).get("runAsUser")
    gid = (ps.get("securityContext") or {}).get("runAsGroup", 0)
    store = [v for v in ps.get("volumes") or [] if v["name"] == "store"]
    if not store or "hostPath" not in store[0]:
        return ["the cache DaemonSet has no hostPath volume store"]
    hp = store[0]["hostPath"]
    host_dir = hp["path"]
    if hp.get("type") != "Directory":
        problems.append("the cache store hostPath has type %s: Directory, so that an unprepared "
                        "node fails visibly instead of getting a root-owned directory"
                        % hp.get("type"))
    if not isinstance(uid, int) or uid == 0:
        problems.append("the cache DaemonSet sets no non-root runAsUser (%s)" % uid)
    for o in objs:
        if o.get("kind") == "ConfigMap" and o["metadata"]["name"].startswith("gpuaas-config"):
            cfg = yaml.safe_load(o["data"]["gpuaas.yaml"]) or {}
            c = cfg.get("cache") or {}
            want = c.get("host_path") or c.get("store_dir")
            if c.get("enabled") and want != host_dir:
                problems.append("cache.store_dir/host_path %s is not the DaemonSet's hostPath %s"
                                % (want, host_dir))

    def commands(lines, where):
        text = "\n".join(lines)
        own = "%s:%s" % (uid, gid)
        for what, pat in (("mkdir -p", r"mkdir -p %s\b"), ("chown " + own, r"chown %s %%s\b" % own),
                          ("chmod 0775", r"chmod 0?775 %s\b"),
                          ("chcon -R -t container_file_t -l s0", r"chcon -R -t container_file_t -l s0 %s\b")):
            if not re.search(pat % re.escape(host_dir).replace("%", "%%"), text):
                problems.append("%s: no `%s %s`" % (where, what, host_dir))

    src = open(script).read()
    m = re.search(r"dir=\$\{1:-([^}]+)\}", src)
    if not m or m.group(1) != host_dir:
        problems.append("%s: the default directory is %s, not %s" % (script, m and m.group(1), host_dir))
    # the script names its directory "$dir": check its commands with the default substituted
    commands([l.replace('"$dir"', host_dir) for l in src.splitlines()], script)
    roles = set()
    for p in mc_paths:
        for o in load(p):
            where = "%s %s" % (p, o["metadata"].get("name"))
            if o.get("apiVersion") != "machineconfiguration.openshift.io/v1" or o.get("kind") != "MachineConfig":
                problems.append("%s: not a machineconfiguration.openshift.io/v1 MachineConfig" % where)
                continue
            role = (o["metadata"].get("labels") or {}).get("machineconfiguration.openshift.io/role")
            roles.add(role)
            ign = ((o.get("spec") or {}).get("config") or {}).get("ignition") or {}
            if not str(ign.get("version", "")).startswith("3."):
                problems.append("%s: ignition version %s, want 3.x" % (where, ign.get("version")))
            units = (((o["spec"]["config"].get("systemd") or {}).get("units")) or [])
            ok = [u for u in units if u.get("enabled") and "Type=oneshot" in (u.get("contents") or "")]
            if not ok:
                problems.append("%s: no enabled oneshot systemd unit" % where)
                continue
            body = ok[0]["contents"]
            if "Before=kubelet.service" not in body or "WantedBy=multi-user.target" not in body:
                problems.append("%s: the unit must run before the kubelet at boot" % where)
            execs = [l.split("=", 1)[1] for l in body.splitlines() if l.startswith("ExecStart=")]
            commands(execs, where)
    if not {"worker", "master"} <= roles:
        problems.append("MachineConfigs for the roles worker and master expected, got %s"
                        % sorted(r for r in roles if r))
    return problems


def kube_calls(path):
    """{(group, resource, verb)} of `gpuaas deploy kube-calls` output."""
    calls = set()
    for line in open(path):
        f = line.split()
        if f:
            calls.add((f[0], f[1], f[2]))
    return calls


def requests(calls_path, logs, only_failure_paths, subset=False):
    """Requests logged by gpuaas-kubesim --request-log ("verb group/resource[/sub] client")."""
    calls = kube_calls(calls_path)
    seen, other = {}, 0
    for log in logs:
        for line in open(log):
            f = line.split()
            if len(f) < 3:
                continue
            verb, res, client = f[0], f[1], f[2]
            # only the reconciler's own client (libcurl sends no User-Agent; a gpuaas one
            # would be named gpuaas*): kubectl and curl in the tests are not the reconciler
            if client != "-" and not client.startswith("gpuaas"):
                other += 1
                continue
            group, resource = res.split("/", 1)
            seen.setdefault((group, resource, verb), log)
    problems = []
    if not seen:
        return ["no request of the reconciler in %s: nothing was checked" % " ".join(logs)]
    for c in sorted(set(seen) - calls):
        problems.append("the reconciler made %s %s %s (%s) but src/kube/kube_calls.c does not list "
                        "it" % (c[2], c[0], c[1], seen[c]))
    # calls marked /* failure path */ in src/kube/kube_calls.c: made only after an error
    failure_only = set()
    if only_failure_paths:
        mark = re.compile(r'\{"(\w+)",\s*"([^"]*)",\s*"([^"]+)",[^}]*\},\s*/\*\s*failure path')
        for line in open(only_failure_paths):
            m = mark.search(line)
            if m:
                failure_only.add((m.group(2) or "core", m.group(3), m.group(1)))
    failure_only &= calls  # the calls file is one platform's
    if subset:  # one scenario's requests: every one listed, not every listed one made
        print("%d calls seen, %d requests of other clients ignored" % (len(seen), other))
        return problems
    for c in sorted(calls - set(seen) - failure_only):
        problems.append("src/kube/kube_calls.c lists %s %s %s but no test made that call (make "
                        "a test do it, or mark the entry /* failure path */ if only an error "
                        "leads there)" % (c[2], c[0], c[1]))
    for c in sorted(failure_only & set(seen)):
        problems.append("%s %s %s is marked /* failure path */ in src/kube/kube_calls.c but a "
                        "test made it: remove the mark" % (c[2], c[0], c[1]))
    print("%d calls seen, %d marked failure path, %d requests of other clients ignored"
          % (len(seen), len(failure_only), other))
    return problems


def main(argv):
    cmd = argv[1]
    if cmd == "tojson":
        with open(argv[3], "w") as f:
            json.dump(load(argv[2]), f)
        return 0
    if cmd == "kinds":
        for o in load(argv[2]):
            md = o.get("metadata", {})
            print(o.get("apiVersion"), o.get("kind"), md.get("namespace", "-"), md.get("name"))
        return 0
    if cmd == "resources":
        for o in load(argv[2]):
            md = o.get("metadata", {})
            print(resource_name(o), md.get("namespace", "-"), md.get("name"))
        return 0
    if cmd == "served":
        served = {l.strip() for l in open(argv[3]) if l.strip()}
        keep, skipped = [], set()
        for o in load(argv[2]):
            (keep.append(o) if resource_name(o) in served else skipped.add(resource_name(o)))
        with open(argv[4], "w") as f:
            yaml.safe_dump_all(keep, f)
        if skipped:
            # every kind the install renders must be applied and read back
            print("FAIL: the test double does not serve " + " ".join(sorted(skipped)))
            return 1
        return 0
    if cmd == "security":
        problems = security(argv[2])
    elif cmd == "config":
        drop = [argv[i + 1] for i in range(4, len(argv) - 1) if argv[i] == "--drop-section"]
        problems = config(argv[2], argv[3], drop)
    elif cmd == "covers":
        problems = covers(argv[2], argv[3])
    elif cmd == "rbac":
        problems = rbac(argv[2], argv[3], argv[4:])
    elif cmd == "images":
        problems = images(argv[2], argv[3], argv[4:])
    elif cmd == "portal":
        problems = portal(argv[2])
    elif cmd == "published":
        problems = published(argv[2])
    elif cmd == "dbca":
        problems = dbca(argv[2], argv[3])
    elif cmd == "cnpg":
        problems = cnpg(argv[2], argv[3], argv[4])
    elif cmd == "nodeprep":
        problems = nodeprep(argv[2], argv[3], argv[4:])
    elif cmd == "requests":
        rest = argv[3:]
        fp = None
        subset = "--subset" in rest
        rest = [a for a in rest if a != "--subset"]
        if "--only-failure-paths" in rest:
            i = rest.index("--only-failure-paths")
            fp = rest[i + 1]
            rest = rest[:i] + rest[i + 2:]
        problems = requests(argv[2], rest, fp, subset)
    elif cmd == "containerfile":
        problems = containerfile(argv[2])
    else:
        print("unknown check " + cmd)
        return 2
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
