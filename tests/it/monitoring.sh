#!/usr/bin/env bash
# The monitoring component (deploy/monitoring):
#  1. renders inside each platform overlay, mounts the scrape token into the server and points
#     the ServiceMonitor at the same Secret;
#  2. its alerts pass `promtool check rules`, and `promtool test rules` (rules-test.yaml) has a
#     test for every alert; every alert names a runbook section that docs/operations.md has;
#  3. the Grafana dashboard is valid JSON and every metric its queries, and the alerts' queries,
#     read is one the code exports (a metric name written in src/, histogram suffixes allowed).
set -euo pipefail
cd "${GPUAAS_SRC:-$(dirname "$0")/../..}"
for t in kubectl promtool python3; do
  command -v "$t" >/dev/null || { echo "monitoring: $t is required (promtool: Debian package prometheus)"; exit 1; }
done
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL (monitoring): $*"; exit 1; }

for o in kubernetes openshift; do
  mkdir -p "$W/repo"
  git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$W/repo"
  mkdir -p "$W/repo/deploy/overlays/mon"
  printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [../%s]\ncomponents: [../../monitoring]\n' "$o" \
    >"$W/repo/deploy/overlays/mon/kustomization.yaml"
  kubectl kustomize "$W/repo/deploy/overlays/mon" >"$W/mon-$o.yaml" || fail "render with the component ($o)"
  python3 - "$W/mon-$o.yaml" <<'PY' || fail "component objects ($o)"
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
sm = by[("ServiceMonitor", "gpuaas-server")]
secret = sm["spec"]["endpoints"][0]["bearerTokenSecret"]
srv = by[("Deployment", "gpuaas-server")]["spec"]["template"]["spec"]
vol = [v for v in srv["volumes"] if v.get("secret", {}).get("secretName") == secret["name"]]
assert vol, "the server does not mount the Secret the ServiceMonitor uses"
mount = [m for m in srv["containers"][0]["volumeMounts"] if m["name"] == vol[0]["name"]]
assert mount and mount[0]["mountPath"] == "/etc/gpuaas-metrics", mount
assert vol[0]["secret"]["items"] == [{"key": secret["key"], "path": "token"}]
svc = by[("Service", "gpuaas-server")]
assert sm["spec"]["endpoints"][0]["port"] in [p["name"] for p in svc["spec"]["ports"]]
assert ("PodMonitor", "gpuaas-cache") in by and ("PrometheusRule", "gpuaas") in by
assert any(k[0] == "ConfigMap" and k[1].startswith("gpuaas-grafana-dashboard") for k in by)
PY
  rm -rf "$W/repo"
done

python3 - deploy/monitoring/prometheusrule.yaml "$W/rules.yaml" <<'PY'
import sys, yaml
yaml.safe_dump(yaml.safe_load(open(sys.argv[1]))["spec"], open(sys.argv[2], "w"))
PY
cp deploy/monitoring/rules-test.yaml "$W/"
promtool check rules "$W/rules.yaml" || fail "promtool check rules"
promtool test rules "$W/rules-test.yaml" || fail "promtool test rules"
python3 - "$W/rules.yaml" deploy/monitoring/rules-test.yaml docs/operations.md <<'PY' || fail "alerts, tests and runbooks"
import re, sys, yaml
rules = [r for g in yaml.safe_load(open(sys.argv[1]))["groups"] for r in g["rules"] if "alert" in r]
tested = {t["alertname"] for c in yaml.safe_load(open(sys.argv[2]))["tests"] for t in c.get("alert_rule_test", [])}
firing = {t["alertname"] for c in yaml.safe_load(open(sys.argv[2]))["tests"] for t in c.get("alert_rule_test", []) if t.get("exp_alerts")}
doc = open(sys.argv[3]).read()
anchors = {a for a in re.findall(r'<a id="([^"]+)"></a>', doc)}
anchors |= {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in re.findall(r"^#+ (.*)$", doc, re.M)}
bad = []
for r in rules:
    a = r["alert"]
    if a not in tested or a not in firing:
        bad.append("%s: no promtool test that fires it" % a)
    rb = r.get("annotations", {}).get("runbook", "")
    m = re.match(r"docs/operations\.md#(.+)$", rb)
    if not m or m.group(1) not in anchors:
        bad.append("%s: runbook %r is not a section of docs/operations.md" % (a, rb))
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
PY

python3 - deploy/monitoring/gpuaas-dashboard.json "$W/rules.yaml" <<'PY' || fail "dashboard and alert queries"
import json, pathlib, re, sys
dash = json.load(open(sys.argv[1]))
exported = set()
for p in pathlib.Path("src").rglob("*.c"):
    text = p.read_text(errors="replace")
    # a name that starts a string literal, or that a "# TYPE" line declares
    exported |= set(re.findall(r'"((?:gpuaas|http)_[a-z_]+)', text))
    exported |= set(re.findall(r'# TYPE ((?:gpuaas|http)_[a-z_]+) ', text))
def base(m):
    for suf in ("_bucket", "_sum", "_count"):
        if m.endswith(suf) and m[: -len(suf)] in exported:
            return m[: -len(suf)]
    return m
promql_words = {"or", "and", "unless", "vector", "sum", "by", "rate", "max", "min", "avg", "increase", "histogram_quantile", "time",
                "offset", "without", "on", "ignoring", "le", "state", "route", "status", "job",
                "pod", "count", "irate", "delta", "outcome", "reason", "action", "kind", "resource"}
import yaml
rules = [r for g in yaml.safe_load(open(sys.argv[2]))["groups"] for r in g["rules"] if "alert" in r]
# the alerts' queries are checked like the panels' (up is Prometheus's own)
panels = dash["panels"] + [{"title": "alert " + r["alert"], "targets": [{"expr": r["expr"]}]} for r in rules]
exported.add("up")
promql_words |= {"absent", "humanizePercentage"}
bad, n = [], 0
for panel in panels:
    for t in panel.get("targets", []):
        n += 1
        expr = re.sub(r'\{[^}]*\}', "", t["expr"])
        expr = re.sub(r"\[[^\]]*\]", "", expr)
        names = [w for w in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr) if w not in promql_words
                 and not re.fullmatch(r"\d+[smhdw]?", w) and w not in ("d", "h", "m", "s")]
        if not names:
            bad.append("%s: no metric" % panel["title"])
        for w in names:
            if base(w) not in exported:
                bad.append("%s: %s is not a metric the code exports" % (panel["title"], w))
for b in bad:
    print(b)
print("%d dashboard and alert queries checked against %d exported metric names" % (n, len(exported)))
sys.exit(1 if bad or not n else 0)
PY
echo "monitoring: ok"
