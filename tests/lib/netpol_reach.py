#!/usr/bin/env python3
"""NetworkPolicy reachability for a session and the platform namespace (issue 14, finding 4
and 11; docs/security.md "Network").

From rendered NetworkPolicies (the install of deploy/ and two sessions from
`gpuaas deploy session`) and a model cluster of labelled pods and outside addresses, computes
whether a connection SRC -> DST:PORT/PROTO is allowed, following the NetworkPolicy spec
(networking.k8s.io/v1):
  - a pod is isolated for ingress (egress) when some policy of its namespace selects it with
    that policy type; policyTypes defaults to [Ingress] plus Egress when spec.egress is set;
  - a connection needs the source's egress and the destination's ingress to allow it; the
    allows are the union of the rules of every policy selecting the pod;
  - a rule without from/to allows every peer, without ports every port;
  - peers: podSelector alone (pods of the policy's namespace), namespaceSelector alone (every
    pod of the selected namespaces), both (selected pods in selected namespaces), ipBlock
    (cidr minus except); an ipBlock is also applied to pod addresses (what some network
    plugins do: the stricter reading for isolation, since it can only add allows);
  - ports: number, or a name resolved against the destination pod's container ports with the
    same protocol; endPort ranges; protocol defaults to TCP;
  - a namespace carries kubernetes.io/metadata.name=<name> (set by the API server).
Addresses outside the cluster are endpoints with an IP and no namespace: only ipBlocks match
them, and they enforce no policy of their own.

Commands:
  netpol_reach.py tenant-requests SEED N          hostile and narrowing tenant NetworkPolicies
                                                  as admission requests (JSON lines for
                                                  tests/cel/eval.mjs)
  netpol_reach.py check PLATFORM INSTALL.json SESSION_A.json SESSION_B.json
                  TENANT.jsonl VERDICTS.jsonl
      asserts the matrix, that every tenant policy the admission policy accepts leaves it
      intact (and that the refused ones would have broken it, so the admission policy is
      what holds), and that removing any one platform policy breaks some assertion.
"""
import copy
import ipaddress
import json
import random
import sys

SESSION_A, SESSION_B = "gpuaas-42", "gpuaas-43"
PLATFORM_NS = "gpuaas-system"
ROUTER_NS = {"kubernetes": "ingress-nginx", "openshift": "openshift-ingress"}


# ---- the model cluster ----

class Endpoint:
    def __init__(self, name, ip, ns=None, labels=None, ports=None):
        self.name, self.ip, self.ns = name, ipaddress.ip_address(ip), ns
        self.labels = labels or {}
        self.ports = ports or []  # [{"name", "containerPort", "protocol"}]

    def __repr__(self):
        return self.name


def pod_ports(spec):
    out = []
    for c in spec.get("containers", []):
        for p in c.get("ports", []) or []:
            out.append({"name": p.get("name"), "containerPort": p["containerPort"],
                        "protocol": p.get("protocol", "TCP")})
    return out


def template_of(objs, kind, name):
    for o in objs:
        if o["kind"] == kind and o["metadata"]["name"] == name:
            return o["spec"]["template"]
    raise SystemExit(f"netpol_reach: no {kind}/{name} in the rendered objects")


def build_cluster(platform, install, sess_a, sess_b):
    """Namespaces (name -> labels) and endpoints, from the rendered objects."""
    namespaces = {}

    def ns(name, labels=None):
        namespaces[name] = {**(labels or {}), "kubernetes.io/metadata.name": name}

    for o in install + sess_a + sess_b:
        if o["kind"] == "Namespace":
            ns(o["metadata"]["name"], o["metadata"].get("labels"))
    router_ns = ROUTER_NS[platform]
    ns(router_ns, {"policy-group.network.openshift.io/ingress": ""} if platform == "openshift" else {})
    dns_ns = "openshift-dns" if platform == "openshift" else "kube-system"
    ns(dns_ns)
    ns("nvidia-gpu-operator")
    ns("cnpg-system")
    ns("team-a")  # a namespace without policies: checks gpuaas-system's own policies

    eps = {}
    n = [10]

    def pod(key, namespace, labels, ports):
        n[0] += 1
        eps[key] = Endpoint(key, f"10.128.0.{n[0]}", namespace, labels, ports)

    for sess, tag in ((sess_a, "a"), (sess_b, "b")):
        nsname = next(o["metadata"]["name"] for o in sess if o["kind"] == "Namespace")
        t = template_of(sess, "Deployment", "workspace")
        pod(f"{tag}.workspace", nsname, t["metadata"]["labels"], pod_ports(t["spec"]))
        # tenant pods: a job with its own port, an api and a database of the tenant's app
        pod(f"{tag}.job", nsname, {"app": "job"}, [{"name": "web", "containerPort": 8888, "protocol": "TCP"}])
        pod(f"{tag}.api", nsname, {"app": "api"}, [{"name": "http", "containerPort": 8000, "protocol": "TCP"}])
        pod(f"{tag}.db", nsname, {"app": "db"}, [{"name": "pg", "containerPort": 5432, "protocol": "TCP"}])
    for kind, name, key in (("Deployment", "gpuaas-server", "server"),
                            ("Deployment", "gpuaas-reconciler", "reconciler"),
                            ("DaemonSet", "gpuaas-cache", "cache")):
        t = template_of(install, kind, name)
        pod(key, PLATFORM_NS, t["metadata"]["labels"], pod_ports(t["spec"]))
    # CloudNativePG's instance pod (the Cluster resource renders none itself)
    pod("database", PLATFORM_NS, {"cnpg.io/cluster": "gpuaas-db", "cnpg.io/instanceRole": "primary"},
        [{"name": "postgresql", "containerPort": 5432, "protocol": "TCP"},
         {"name": "status", "containerPort": 8000, "protocol": "TCP"}])
    pod("cnpg-operator", "cnpg-system", {"app.kubernetes.io/name": "cloudnative-pg"}, [])
    pod("router", router_ns, {"ingresscontroller.operator.openshift.io/deployment-ingresscontroller": "default"}
        if platform == "openshift" else {"app.kubernetes.io/name": "ingress-nginx"},
        [{"name": "http", "containerPort": 80, "protocol": "TCP"}])
    pod("dns", dns_ns, {"k8s-app": "kube-dns"} if platform == "kubernetes" else {"dns.operator.openshift.io/daemonset-dns": "default"},
        [{"name": "dns", "containerPort": 53, "protocol": "UDP"}, {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"}])
    pod("dcgm-exporter", "nvidia-gpu-operator", {"app": "nvidia-dcgm-exporter"},
        [{"name": "metrics", "containerPort": 9400, "protocol": "TCP"}])
    pod("unconfined", "team-a", {"app": "x"}, [])
    # outside the pod network
    eps["internet"] = Endpoint("internet", "93.184.216.34")
    eps["internet6"] = Endpoint("internet6", "2606:2800:220:1::1")
    eps["metadata"] = Endpoint("metadata", "169.254.169.254")
    eps["node"] = Endpoint("node", "10.0.0.10")          # kubelet, node ports
    eps["apiserver"] = Endpoint("apiserver", "172.30.0.1")
    eps["proxy"] = Endpoint("proxy", "10.20.0.5")         # the configured HTTP proxy
    return namespaces, eps


# ---- the NetworkPolicy semantics ----

def selector_matches(sel, labels):
    if sel is None:
        return False
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in sel.get("matchExpressions") or []:
        has = e["key"] in labels
        vals = e.get("values") or []
        op = e["operator"]
        if op == "In" and not (has and labels[e["key"]] in vals):
            return False
        if op == "NotIn" and has and labels[e["key"]] in vals:
            return False
        if op == "Exists" and not has:
            return False
        if op == "DoesNotExist" and has:
            return False
    return True


def policy_types(spec):
    t = spec.get("policyTypes")
    if t:
        return t
    return ["Ingress"] + (["Egress"] if "egress" in spec else [])


def peer_matches(peer, policy_ns, ep, namespaces):
    if "ipBlock" in peer:
        b = peer["ipBlock"]
        net = ipaddress.ip_network(b["cidr"])
        if ep.ip.version != net.version or ep.ip not in net:
            return False
        return not any(ep.ip in ipaddress.ip_network(x) for x in b.get("except") or []
                       if ipaddress.ip_network(x).version == ep.ip.version)
    if ep.ns is None:
        return False  # selectors match pods only
    if "namespaceSelector" in peer:
        if not selector_matches(peer["namespaceSelector"], namespaces[ep.ns]):
            return False
    elif ep.ns != policy_ns:
        return False
    if "podSelector" in peer:
        return selector_matches(peer["podSelector"], ep.labels)
    return True


def port_matches(ports, dst, port, proto):
    if not ports:
        return True
    for p in ports:
        if p.get("protocol", "TCP") != proto:
            continue
        want = p.get("port")
        if want is None:
            return True
        if isinstance(want, str):
            named = [c["containerPort"] for c in dst.ports
                     if c.get("name") == want and c.get("protocol", "TCP") == proto]
            if port in named:
                return True
            continue
        end = p.get("endPort", want)
        if want <= port <= end:
            return True
    return False


def direction_allows(policies, ep, direction, peer_ep, dst, port, proto, namespaces):
    """Whether ep's policies of this direction let the connection with peer_ep through."""
    if ep.ns is None:
        return True
    selecting = [p for p in policies if p["metadata"].get("namespace") == ep.ns
                 and direction in policy_types(p["spec"])
                 and selector_matches(p["spec"].get("podSelector", {}), ep.labels)]
    if not selecting:
        return True
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    for p in selecting:
        for rule in p["spec"].get(key) or []:
            peers = rule.get(peers_key)
            if peers and not any(peer_matches(x, ep.ns, peer_ep, namespaces) for x in peers):
                continue
            if port_matches(rule.get("ports"), dst, port, proto):
                return True
    return False


def allowed(policies, namespaces, src, dst, port, proto="TCP"):
    return (direction_allows(policies, src, "Egress", dst, dst, port, proto, namespaces) and
            direction_allows(policies, dst, "Ingress", src, dst, port, proto, namespaces))


# ---- the matrix ----

def matrix(platform, egress_direct):
    """(src, dst, port, proto, want, why) that must hold."""
    m = []
    for s in ("a", "b"):
        o = "b" if s == "a" else "a"
        for src in ("workspace", "job", "api", "db"):
            for dst, port in (("workspace", 8080), ("job", 8888), ("api", 8000), ("db", 5432)):
                m.append((f"{s}.{src}", f"{o}.{dst}", port, "TCP", False, "session -> other session"))
        for src in ("job", "api", "db"):
            m.append((f"{s}.{src}", "server", 8080, "TCP", False, "session (not the workspace) -> gpuaas-server"))
        m.append((f"{s}.workspace", "server", 8080, "TCP", True, "workspace proxy -> server auth endpoint"))
        for src in ("workspace", "job"):
            m += [(f"{s}.{src}", "database", 5432, "TCP", False, "session -> PostgreSQL"),
                  (f"{s}.{src}", "cache", 8090, "TCP", False, "session -> cache daemon"),
                  (f"{s}.{src}", "dcgm-exporter", 9400, "TCP", False, "session -> DCGM exporter"),
                  (f"{s}.{src}", "metadata", 80, "TCP", False, "session -> cloud metadata"),
                  (f"{s}.{src}", "node", 10250, "TCP", False, "session -> kubelet"),
                  (f"{s}.{src}", "node", 30080, "TCP", False, "session -> node port"),
                  (f"{s}.{src}", "apiserver", 443, "TCP", False, "session -> service network"),
                  (f"{s}.{src}", "dns", 53, "UDP", True, "session -> cluster DNS"),
                  (f"{s}.{src}", "dns", 53, "TCP", True, "session -> cluster DNS (TCP)"),
                  (f"{s}.{src}", "internet", 443, "TCP", egress_direct, "session -> internet direct (per policy)"),
                  (f"{s}.{src}", "internet6", 443, "TCP", egress_direct, "session -> internet over IPv6 (per policy)"),
                  (f"{s}.{src}", "proxy", 3128, "TCP", not egress_direct, "session -> the configured proxy")]
        m += [("router", f"{s}.workspace", 8090, "TCP", True, "router -> the workspace's sign-in proxy"),
              ("router", f"{s}.workspace", 8080, "TCP", False, "router -> the workspace's own port, past the proxy"),
              ("router", f"{s}.workspace", 22, "TCP", False, "router -> workspace, other port"),
              ("router", f"{s}.job", 8888, "TCP", False, "router -> other session pod"),
              ("router", f"{s}.db", 5432, "TCP", False, "router -> other session pod"),
              (f"{s}.workspace", f"{s}.job", 8888, "TCP", True, "inside a session (allow-same-namespace)"),
              (f"{s}.job", f"{s}.db", 5432, "TCP", True, "inside a session (allow-same-namespace)")]
    m += [("router", "server", 8080, "TCP", True, "router -> portal"),
          ("router", "database", 5432, "TCP", False, "router -> PostgreSQL"),
          ("server", "database", 5432, "TCP", True, "server -> PostgreSQL"),
          ("reconciler", "database", 5432, "TCP", True, "reconciler -> PostgreSQL"),
          ("cnpg-operator", "database", 8000, "TCP", True, "CloudNativePG operator -> instance status"),
          ("unconfined", "database", 5432, "TCP", False, "any other namespace -> PostgreSQL"),
          ("unconfined", "server", 8080, "TCP", False, "any other namespace -> server"),
          ("unconfined", "cache", 8090, "TCP", False, "any other namespace -> cache daemon"),
          ("unconfined", "reconciler", 8080, "TCP", False, "any other namespace -> reconciler")]
    return m


# the tenant of session A replaced allow-same-namespace by its own narrower policy
NARROWED = [("a.api", "a.db", 5432, "TCP", True, "tenant's own allow: api -> db"),
            ("a.workspace", "a.db", 5432, "TCP", False, "narrowed by the tenant: workspace -> db"),
            ("a.job", "a.api", 8000, "TCP", False, "narrowed by the tenant: job -> api"),
            ("b.job", "a.db", 5432, "TCP", False, "other session -> narrowed pod"),
            ("b.job", "a.job", 8888, "TCP", False, "other session -> pod no tenant policy selects"),
            ("router", "a.job", 8888, "TCP", False, "router -> pod no tenant policy selects"),
            ("router", "a.db", 5432, "TCP", False, "router -> narrowed pod"),
            ("router", "a.workspace", 8090, "TCP", True, "router -> workspace's sign-in proxy after narrowing"),
            ("a.workspace", "server", 8080, "TCP", True, "workspace auth after narrowing")]


def narrow_policies():
    """The tenant's own boundary once allow-same-namespace is gone: db accepts only api on
    its named port, and api may send to db (both ends are isolated by default-deny)."""
    def np(name, spec):
        return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": name, "namespace": SESSION_A}, "spec": spec}
    return [np("db-from-api", {"podSelector": {"matchLabels": {"app": "db"}},
                               "policyTypes": ["Ingress"],
                               "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "api"}}}],
                                            "ports": [{"protocol": "TCP", "port": "pg"}]}]}),
            np("api-to-db", {"podSelector": {"matchLabels": {"app": "api"}},
                             "policyTypes": ["Egress"],
                             "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "db"}}}]}]})]


def check(policies, namespaces, eps, assertions):
    bad = []
    for src, dst, port, proto, want, why in assertions:
        got = allowed(policies, namespaces, eps[src], eps[dst], port, proto)
        if got != want:
            bad.append(f"{src} -> {dst}:{port}/{proto} {'allowed' if got else 'refused'}, "
                       f"want {'allowed' if want else 'refused'} ({why})")
    return bad


def scenarios(session_policies, platform_policies, tenant_extra=()):
    """(name, policies, assertions-key) for the base install and the narrowed tenant."""
    base = session_policies + platform_policies + list(tenant_extra)
    narrowed = [p for p in base if not (p["metadata"]["namespace"] == SESSION_A and
                                        p["metadata"]["name"] == "allow-same-namespace")]
    narrowed += narrow_policies()
    return [("as provisioned", base, "matrix"), ("tenant narrowed session A", narrowed, "narrowed")]


# ---- tenant policies for the admission policy ----

def random_peer(rnd):
    kind = rnd.choice(["pod", "pod-labels", "ns-all", "ns-other", "ns-own", "both", "ip-all",
                       "ip-cluster", "ip-metadata", "empty"])
    return {
        "pod": {"podSelector": {}},
        "pod-labels": {"podSelector": {"matchLabels": {"app": rnd.choice(["api", "db", "job"])}}},
        "ns-all": {"namespaceSelector": {}},
        "ns-other": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": SESSION_B}}},
        "ns-own": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": SESSION_A}}},
        "both": {"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "db"}}},
        "ip-all": {"ipBlock": {"cidr": "0.0.0.0/0"}},
        "ip-cluster": {"ipBlock": {"cidr": "10.0.0.0/8"}},
        "ip-metadata": {"ipBlock": {"cidr": "169.254.169.254/32"}},
        "empty": None,
    }[kind]


def random_rule(rnd, peers_key):
    rule = {}
    n = rnd.choice([0, 1, 1, 2])
    peers = [p for p in (random_peer(rnd) for _ in range(n)) if p is not None]
    if peers or rnd.random() < 0.3:
        rule[peers_key] = peers
    if rnd.random() < 0.5:
        rule["ports"] = [{"protocol": "TCP", "port": rnd.choice([5432, 8080, "pg", 443])}]
    return rule


def tenant_requests(seed, n):
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        spec = {"podSelector": rnd.choice([{}, {"matchLabels": {"app": "db"}}])}
        types = rnd.choice([["Ingress"], ["Egress"], ["Ingress", "Egress"]])
        spec["policyTypes"] = types
        if "Ingress" in types:
            spec["ingress"] = [random_rule(rnd, "from") for _ in range(rnd.choice([1, 1, 2]))]
        if "Egress" in types:
            spec["egress"] = [random_rule(rnd, "to") for _ in range(rnd.choice([1, 1, 2]))]
        obj = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
               "metadata": {"name": f"tenant-{i}", "namespace": SESSION_A}, "spec": spec}
        out.append({"name": f"tenant-{i}", "policy": "gpuaas-tenant-networkpolicy", "object": obj,
                    "namespaceObject": {"metadata": {"name": SESSION_A, "labels": {
                        "app.kubernetes.io/managed-by": "gpuaas"}}},
                    "request": {"operation": "CREATE", "namespace": SESSION_A,
                                "userInfo": {"username": "alice", "groups": ["system:authenticated"]}}})
    return out


def load(path):
    with open(path) as f:
        return json.load(f)


def netpols(objs, namespace=None):
    out = []
    for o in objs:
        if o["kind"] != "NetworkPolicy":
            continue
        o = copy.deepcopy(o)
        o["metadata"].setdefault("namespace", namespace)
        out.append(o)
    return out


def main(argv):
    if len(argv) == 4 and argv[1] == "tenant-requests":
        for r in tenant_requests(int(argv[2]), int(argv[3])):
            print(json.dumps(r))
        return 0
    if len(argv) != 8 or argv[1] != "check":
        print(__doc__, file=sys.stderr)
        return 2
    platform = argv[2]
    install, sess_a, sess_b = load(argv[3]), load(argv[4]), load(argv[5])
    tenant = [json.loads(l) for l in open(argv[6]) if l.strip()]
    verdicts = {v["name"]: v for v in (json.loads(l) for l in open(argv[7]) if l.strip())}
    namespaces, eps = build_cluster(platform, install, sess_a, sess_b)
    platform_policies = netpols(install, PLATFORM_NS)
    session_policies = netpols(sess_a) + netpols(sess_b)
    egress = next(p for p in netpols(sess_a) if p["metadata"]["name"] == "allow-egress")
    egress_direct = any("cidr" in peer.get("ipBlock", {}) and peer["ipBlock"]["cidr"] in ("0.0.0.0/0", "::/0")
                        for r in egress["spec"].get("egress") or [] for peer in r.get("to") or [])
    want = {"matrix": matrix(platform, egress_direct), "narrowed": NARROWED}
    failures = 0

    def report(tag, bad):
        nonlocal failures
        for b in bad:
            print(f"FAIL: {tag}: {b}")
        failures += len(bad)

    # 1. the matrix, as provisioned and after the tenant narrowed its namespace
    for name, pols, key in scenarios(session_policies, platform_policies):
        bad = check(pols, namespaces, eps, want[key])
        report(name, bad)
        print(f"{'ok  ' if not bad else 'FAIL'} {platform} {name}: {len(want[key]) - len(bad)}/{len(want[key])} "
              f"connections as required")

    # 2. tenant policies: every one the admission policy accepts keeps the matrix; the refused
    # ones, if they had been written, would break it in at least one case overall
    accepted = refused = opened = 0
    for req in tenant:
        v = verdicts.get(req["name"])
        if v is None or "allowed" not in v:
            report("admission", [f"no verdict for {req['name']}"])
            continue
        pol = req["object"]
        if v["allowed"]:
            accepted += 1
            for name, pols, key in scenarios(session_policies, platform_policies, [pol]):
                bad = check(pols, namespaces, eps, want[key])
                report(f"accepted tenant policy {pol['metadata']['name']} ({name}) {json.dumps(pol['spec'])}", bad)
        else:
            refused += 1
            if any(check(pols, namespaces, eps, want[key])
                   for name, pols, key in scenarios(session_policies, platform_policies, [pol])):
                opened += 1
    print(f"ok   {platform}: {accepted} tenant policies accepted by gpuaas-tenant-networkpolicy keep "
          f"every boundary; {refused} refused, of which {opened} would have opened one")
    if accepted == 0 or opened == 0:
        report("corpus", ["the generated tenant policies must include accepted ones and refused "
                          "ones that would open a boundary"])

    # 3. every platform policy is load-bearing: without it some required connection changes.
    # A deny-all that another policy's podSelector {} duplicates is checked with that one
    # removed too: then a connection that must be refused goes through.
    redundant = {("platform", "default-deny-ingress"): "allow-same-namespace"}
    every = [("session", p) for p in netpols(sess_a)] + [("platform", p) for p in platform_policies]
    for where, p in every:
        name = p["metadata"]["name"]
        gone = {name, redundant.get((where, name), name)}
        sp = [q for q in session_policies if not (where == "session" and q["metadata"]["name"] in gone)]
        pp = [q for q in platform_policies if not (where == "platform" and q["metadata"]["name"] in gone)]
        broken = [b for n2, pols, key in scenarios(sp, pp) for b in check(pols, namespaces, eps, want[key])]
        if (where, name) in redundant:
            broken = [b for b in broken if "want refused" in b]
        if not broken:
            report("load-bearing", [f"removing {where} policy {' and '.join(sorted(gone))} changes no "
                                    "required connection"])
        else:
            print(f"ok   {platform}: without {where} policy {' and '.join(sorted(gone))}: {broken[0]}")
    print(f"{'PASS' if not failures else 'FAIL'} {platform}: {failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
