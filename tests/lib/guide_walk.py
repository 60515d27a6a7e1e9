#!/usr/bin/env python3
"""Walks the commands of docs/install.md in order, as a newcomer would, for one install path,
and fails when a command uses something no earlier step created.

    guide_walk.py GUIDE SANDBOX GPUAAS_BIN PLATFORM DATABASE [sso]

SANDBOX is a copy of the repository (the guide writes files into it). Every ```sh block runs
unless a `<!-- walk: TAG -->` line right before it names a tag this path lacks (the path's
tags: PLATFORM, DATABASE and, with `sso`, sso); ```text blocks are not walked. What a command
does:
  - file commands (mkdir, cp, cat > FILE <<'EOF', kubectl kustomize DIR > FILE) and the local
    `gpuaas` CLI run for real in SANDBOX (the CLI only once the guide has said how to get it);
  - cluster commands act on a model of the cluster: `kubectl apply -k/-f` renders the objects
    and adds them, after checking that each one's namespace exists and that every Secret and
    ConfigMap its pods need (not optional) exists or comes in the same apply; `create
    secret|namespace` adds; `wait`, `rollout status`, `exec`, `get secret`, `start-build`,
    `-n NS` need what they name. The CloudNativePG operator's own objects (Secrets
    <cluster>-app and -ca, Service <cluster>-rw) appear when a Cluster is applied, the serving
    certificate Secret when a Service asks OpenShift for it;
  - `kubectl exec` and `kubectl debug` fed on stdin (a pipe, `<`, `<<<`) must have -i;
  - `oc start-build` needs the internal registry enabled (the registry patch with a claim
    that an earlier step created).
Prints each problem with the guide's line number and exits 1 if there was any."""
import os
import re
import shlex
import subprocess
import sys

import yaml

GUIDE, SANDBOX, GPUAAS, PLATFORM, DATABASE = sys.argv[1:6]
TAGS = {PLATFORM, DATABASE} | set(sys.argv[6:])
problems = []
# (kind, namespace or "", name)
model = set()
for ns in ("default", "kube-system"):
    model.add(("Namespace", "", ns))
# what the prerequisites install: the GPU operator's namespace (OperatorHub or Helm)
model.add(("Namespace", "", "nvidia-gpu-operator" if PLATFORM == "openshift" else "gpu-operator"))
if PLATFORM == "openshift":
    model.add(("Namespace", "", "openshift-image-registry"))
state = {"cli": False, "registry": False, "images": set()}

KINDS = {"deploy": "Deployment", "deployment": "Deployment", "deployments": "Deployment",
         "daemonset": "DaemonSet", "ds": "DaemonSet", "cluster": "Cluster", "secret": "Secret",
         "pod": "Pod", "svc": "Service", "service": "Service", "ns": "Namespace",
         "namespace": "Namespace", "buildconfig": "BuildConfig", "route": "Route"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "SecurityContextConstraints",
                  "MachineConfig", "ValidatingAdmissionPolicy",
                  "ValidatingAdmissionPolicyBinding", "PersistentVolume", "PinnedImageSet"}


def bad(line, msg):
    problems.append("install.md:%d: %s" % (line, msg))


def blocks():
    """(first line number, lines) of every walked ```sh block."""
    lines = open(GUIDE).read().split("\n")
    tag, i = None, 0
    while i < len(lines):
        m = re.match(r"\s*<!-- walk: (\w[\w-]*) -->", lines[i])
        if m:
            tag = m.group(1)
        elif lines[i].strip().startswith("```"):
            lang = lines[i].strip()[3:]
            j = i + 1
            while not lines[j].strip().startswith("```"):
                j += 1
            body = [l[2:] if l.startswith("  ") and lines[i].startswith("  ") else l
                    for l in lines[i + 1:j]]
            if lang == "sh" and (tag is None or tag in TAGS):
                yield i + 2, body
            tag, i = None, j
        elif lines[i].strip():
            tag = None
        i += 1


def commands(start, body):
    """(line, text, heredoc text or None), continuation lines joined, loops unrolled."""
    i = 0
    while i < len(body):
        line, n = body[i], start + i
        while line.rstrip().endswith("\\"):
            i += 1
            line = line.rstrip()[:-1] + " " + body[i].strip()
        i += 1
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        m = re.search(r"<<-?'?(\w+)'?\s*$", s)
        if m:
            end = m.group(1)
            doc = []
            while body[i].strip() != end:
                doc.append(body[i])
                i += 1
            i += 1
            yield n, s, "\n".join(doc) + "\n"
            continue
        m = re.match(r"for \w+ in (.*); do$", s)
        if m:
            words = m.group(1).strip()
            if words.startswith("$(") and words.endswith(")"):
                yield n, words[2:-1], None
            continue
        if s == "done":
            continue
        yield n, s, None


def run_local(n, text, heredoc=None):
    env = dict(os.environ)
    script = 'gpuaas() { "%s" "$@"; }\n%s\n' % (GPUAAS, text)
    if heredoc is not None:
        end = re.search(r"<<-?'?(\w+)'?\s*$", text).group(1)
        script += heredoc + end + "\n"
    r = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=SANDBOX,
                       capture_output=True, text=True, env=env)
    if r.returncode != 0:
        bad(n, "`%s` failed: %s" % (text, (r.stderr or r.stdout).strip()[-400:]))
    return r.returncode == 0


def render(n, args):
    r = subprocess.run(["kubectl", "kustomize"] + args, cwd=SANDBOX, capture_output=True,
                       text=True)
    if r.returncode != 0:
        bad(n, "kubectl kustomize %s: %s" % (" ".join(args), r.stderr.strip()[-300:]))
        return []
    return [d for d in yaml.safe_load_all(r.stdout) if d]


def key(o, ns_default=""):
    md = o.get("metadata") or {}
    kind = o.get("kind")
    ns = "" if kind in CLUSTER_SCOPED else md.get("namespace") or ns_default
    return (kind, ns, md.get("name"))


def pod_specs(o):
    spec = o.get("spec") or {}
    if o.get("kind") in ("Deployment", "DaemonSet", "StatefulSet", "Job"):
        yield (spec.get("template") or {}).get("spec") or {}


def needs(o):
    """The Secrets and ConfigMaps a workload cannot start without."""
    ns = (o.get("metadata") or {}).get("namespace", "")
    for ps in pod_specs(o):
        for v in ps.get("volumes") or []:
            if "secret" in v and not v["secret"].get("optional"):
                yield ("Secret", ns, v["secret"]["secretName"])
            if "configMap" in v and not v["configMap"].get("optional"):
                yield ("ConfigMap", ns, v["configMap"]["name"])
        for c in (ps.get("initContainers") or []) + (ps.get("containers") or []):
            for e in c.get("env") or []:
                ref = (e.get("valueFrom") or {}).get("secretKeyRef")
                if ref and not ref.get("optional"):
                    yield ("Secret", ns, ref["name"])


def apply(n, objs, ns_default=""):
    incoming = {key(o, ns_default) for o in objs}
    # what operators make from objects of the same apply
    made = set()
    for o in objs:
        k = key(o, ns_default)
        if o.get("kind") == "Cluster" and o.get("apiVersion", "").startswith("postgresql.cnpg.io"):
            made |= {("Secret", k[1], k[2] + "-app"), ("Secret", k[1], k[2] + "-ca"),
                     ("Service", k[1], k[2] + "-rw")}
        ann = (o.get("metadata") or {}).get("annotations") or {}
        if o.get("kind") == "Service" and "service.beta.openshift.io/serving-cert-secret-name" in ann:
            made.add(("Secret", k[1], ann["service.beta.openshift.io/serving-cert-secret-name"]))
    have = model | incoming | made
    for o in objs:
        k = key(o, ns_default)
        if k[1] and ("Namespace", "", k[1]) not in have:
            bad(n, "%s %s/%s goes into namespace %s, which does not exist yet" % (k[0], k[1], k[2], k[1]))
        for need in needs(o):
            if need not in have:
                bad(n, "%s %s needs %s %s/%s, which does not exist yet"
                    % (k[0], k[2], need[0], need[1], need[2]))
    model.update(incoming | made)


def require(n, k, what):
    if k not in model:
        bad(n, "%s: %s %s%s does not exist yet" % (what, k[0], k[1] + "/" if k[1] else "", k[2]))


def kubectl(n, text, argv, stdin_fed):
    ns, files, kdirs, interactive, pos = "", [], [], False, []
    i = 1
    while i < len(argv):
        a = argv[i]
        if a in ("-n", "--namespace"):
            ns, i = argv[i + 1], i + 2
            continue
        if a.startswith("--namespace="):
            ns = a.split("=", 1)[1]
        elif a == "-k":
            kdirs.append(argv[i + 1])
            i += 2
            continue
        elif a == "-f":
            files.append(argv[i + 1])
            i += 2
            continue
        elif a in ("-i", "-it", "-ti", "--stdin") or a.startswith("--stdin="):
            interactive = True
        elif a == "--":
            pos.append("--")
            pos += argv[i + 1:]
            break
        elif a.startswith("-"):
            if a in ("-p", "-o", "-l", "--type", "--for", "--timeout", "-c", "--profile",
                     "--image", "--from-literal", "--replicas") and "=" not in a:
                i += 2
                continue
        else:
            pos.append(a)
        i += 1
    verb = pos[0] if pos else ""
    if ns and ("Namespace", "", ns) not in model:
        bad(n, "`%s` uses namespace %s, which does not exist yet" % (text, ns))
    if verb in ("exec", "debug") and stdin_fed and not interactive:
        bad(n, "`%s` is fed on stdin but has no -i: kubectl passes no stdin without it" % text)
    if verb == "apply":
        for d in kdirs:
            apply(n, render(n, [d]))
        for f in files:
            path = os.path.join(SANDBOX, f)
            if not os.path.exists(path):
                bad(n, "apply -f %s: no such file" % f)
                continue
            apply(n, [d for d in yaml.safe_load_all(open(path)) if d], ns)
    elif verb == "kustomize":
        pass  # run for real by the caller (it writes a file)
    elif verb == "create" and len(pos) > 1 and pos[1] == "secret":
        model.add(("Secret", ns, pos[3]))
    elif verb == "create" and len(pos) > 1 and pos[1] == "namespace":
        model.add(("Namespace", "", pos[2]))
    elif verb in ("wait", "exec") or (verb == "rollout" and pos[1:2] == ["status"]):
        ref = pos[2] if verb == "rollout" else pos[1]
        if "/" in ref and not ref.startswith("$") and not ref.startswith('"'):
            kind, name = ref.split("/", 1)
            if kind == "mcp":
                return
            require(n, (KINDS.get(kind, kind), "" if KINDS.get(kind) == "Namespace" else ns, name), "`%s`" % text)
    elif verb == "get" and pos[1:2] == ["secret"]:
        for name in pos[2:]:
            require(n, ("Secret", ns, name), "`%s`" % text)
    elif verb == "start-build":
        require(n, ("BuildConfig", ns, pos[1]), "`%s`" % text)
        if not state["registry"]:
            bad(n, "`%s`: the internal image registry was not enabled before the build pushes to it" % text)
    elif verb == "patch" and pos[1:3] == ["configs.imageregistry.operator.openshift.io", "cluster"]:
        spec = yaml.safe_load(argv[argv.index("-p") + 1])["spec"]
        claim = ((spec.get("storage") or {}).get("pvc") or {}).get("claim")
        require(n, ("PersistentVolumeClaim", "openshift-image-registry", claim), "the registry's storage")
        if spec.get("managementState") == "Managed" and claim:
            state["registry"] = True


def split_pipeline(text):
    """The commands of a pipeline: splits on | outside quotes and $(...)."""
    pieces, cur, depth, quote, i = [], "", 0, None, 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == quote:
                quote = None
            elif c == "$" and text[i + 1:i + 2] == "(" and quote == '"':
                depth += 1
        elif c in "'\"":
            quote = c
        elif c == "$" and text[i + 1:i + 2] == "(":
            depth += 1
        elif c == ")" and depth:
            depth -= 1
        elif c == "|" and depth == 0 and text[i + 1:i + 2] != "|":
            pieces.append(cur.strip())
            cur, i = "", i + 1
            continue
        if c == ")" and quote == '"' and depth:
            depth -= 1
        cur += c
        i += 1
    pieces.append(cur.strip())
    return pieces


def walk():
    for start, body in blocks():
        for n, text, heredoc in commands(start, body):
            # a shell function that runs the CLI from the image: the CLI is available from here
            if re.match(r"gpuaas\(\)\s*\{", text):
                if "localhost/gpuaas:" in text and "localhost/gpuaas" not in state["images"]:
                    bad(n, "the CLI runs from an image that was not built")
                state["cli"] = True
                continue
            pieces = split_pipeline(text)
            fed = False
            for k, piece in enumerate(pieces):
                stdin_fed = k > 0 or bool(re.search(r"(^|\s)<(<<)?\s*\S", piece)) or heredoc is not None
                piece_nos = re.sub(r"\s[<>]+\s*\S+", " ", piece).strip()
                try:
                    argv = shlex.split(piece_nos)
                except ValueError:
                    argv = piece_nos.split()
                if argv and re.match(r"^[A-Z_]+=", argv[0]):
                    argv = argv[1:]
                if not argv:
                    continue
                cmd = argv[0]
                if cmd in ("kubectl", "oc"):
                    kubectl(n, piece, argv, stdin_fed)
                    if argv[1:2] == ["kustomize"]:
                        run_local(n, piece)
                elif cmd == "gpuaas":
                    if not state["cli"]:
                        bad(n, "`%s`: the guide has not said how to get the gpuaas CLI yet" % piece)
                    elif argv[1:2] != ["doctor"]:
                        run_local(n, piece)
                    else:
                        for a, b in zip(argv, argv[1:]):
                            if a == "--config" and not os.path.exists(os.path.join(SANDBOX, b)):
                                bad(n, "gpuaas doctor: %s does not exist yet" % b)
                elif cmd in ("mkdir", "cat") and (heredoc is not None or cmd == "mkdir"):
                    if heredoc and "sso" in TAGS:  # "(Single sign-on: ../openshift-sso instead)"
                        heredoc = heredoc.replace("  - ../openshift\n", "  - ../openshift-sso\n")
                    run_local(n, piece, heredoc)
                elif cmd == "cp":
                    src = argv[1]
                    if src.startswith("/path/to/"):  # the reader's own file
                        with open(os.path.join(SANDBOX, argv[2]), "w") as f:
                            f.write("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
                    else:
                        run_local(n, piece)
                elif cmd == "podman":
                    sub = argv[1]
                    if sub == "build":
                        tag = argv[argv.index("-t") + 1]
                        state["images"].add(tag.rsplit(":", 1)[0])
                    elif sub == "tag":
                        if argv[2].rsplit(":", 1)[0] not in state["images"]:
                            bad(n, "podman tag of %s, which was not built" % argv[2])
                        state["images"].add(argv[3].rsplit(":", 1)[0])
                    elif sub == "push" and argv[2].rsplit(":", 1)[0] not in state["images"]:
                        bad(n, "podman push of %s, which was not built or tagged" % argv[2])
                elif cmd in ("git", "head", "base64", "grep", "$EDITOR", "less"):
                    pass
                else:
                    bad(n, "the walk does not know the command `%s`: teach tests/lib/guide_walk.py" % cmd)
                fed = fed or stdin_fed
    return problems


if __name__ == "__main__":
    p = walk()
    for x in p:
        print(x)
    print("%s/%s%s: %d problems" % (PLATFORM, DATABASE, "/sso" if "sso" in TAGS else "", len(p)))
    sys.exit(1 if p else 0)
