#!/usr/bin/env bash
# Who may reach whom: the NetworkPolicies of two sessions (`gpuaas deploy session`) and of
# gpuaas-system (deploy/, rendered by kubectl kustomize), evaluated by tests/lib/netpol_reach.py
# (the NetworkPolicy spec: isolation, unions, ipBlock/except, named ports) over a model cluster
# of labelled pods and outside addresses (issue 14 findings 4 and 11, docs/security.md):
#  - session -> other session refused; session -> PostgreSQL, server, cache refused except the
#    workspace (its authenticating proxy) -> the server's port; router -> the workspace
#    pod's sign-in proxy port allowed (not the workspace's own port), router -> anything
#    else in a session refused; DNS only to the cluster resolver;
#    metadata, nodes, node ports, the service network and the DCGM exporter refused; the
#    internet directly per reconciler.egress_cidrs (kubernetes: the default, anywhere outside
#    the private ranges) or only through reconciler.egress_proxy (openshift: proxy only);
#  - 400 generated tenant NetworkPolicies go through the admission policy
#    gpuaas-tenant-networkpolicy (tests/cel/eval.mjs): every accepted one keeps the matrix,
#    also after the tenant replaced allow-same-namespace with its own narrower policy;
#  - removing any one platform policy changes some required connection (each is needed).
set -euo pipefail
# shellcheck source=../lib/policy_common.sh
. "$(dirname "$0")/../lib/policy_common.sh"
policy_test_setup netpol_reachability
python3 tests/lib/netpol_reach.py tenant-requests 14 400 >"$OUT/tenant.jsonl"
for o in kubernetes openshift; do
    # the install as the guide applies it: the namespace (deploy/namespace), then the overlay
    { kubectl kustomize deploy/namespace && echo --- && kubectl kustomize "deploy/overlays/$o"; } >"$OUT/$o.yaml"
    $CHECK tojson "$OUT/$o.yaml" "$OUT/$o.json"
    $CHECK config "$OUT/$o.yaml" "$OUT/config-$o.yaml" --drop-section cache
    if [ "$o" = openshift ]; then
        # this site reaches the internet only through its proxy
        python3 - "$OUT/config-$o.yaml" <<'PY'
import sys, yaml
p = sys.argv[1]
c = yaml.safe_load(open(p))
c["reconciler"]["egress_cidrs"] = ""
c["reconciler"]["egress_proxy"] = "10.20.0.5/32:3128"
yaml.safe_dump(c, open(p, "w"))
PY
    fi
    for id in 42 43; do
        "$BUILD/gpuaas" deploy session --config "$OUT/config-$o.yaml" --id "$id" --user "user$id" \
            --gpu-type nvidia.com/gpu --count 1 >"$OUT/session-$o-$id.yaml"
        $CHECK tojson "$OUT/session-$o-$id.yaml" "$OUT/session-$o-$id.json"
    done
    node tests/cel/eval.mjs "$OUT/$o.json" <"$OUT/tenant.jsonl" >"$OUT/verdicts-$o.jsonl"
    python3 tests/lib/netpol_reach.py check "$o" "$OUT/$o.json" "$OUT/session-$o-42.json" \
        "$OUT/session-$o-43.json" "$OUT/tenant.jsonl" "$OUT/verdicts-$o.jsonl" \
        >"$OUT/check-$o.log" || fail=1
    grep -v '^ok ' "$OUT/check-$o.log" || true
done
[ "$fail" = 0 ] && echo "PASS" || echo "FAIL (details in $OUT/check-*.log)"
exit "$fail"
