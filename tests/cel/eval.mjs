// Evaluates ValidatingAdmissionPolicies the way the Kubernetes API server applies them, with
// an independent CEL implementation (@bufbuild/cel, test-only), so that the CEL shipped in
// deploy/ is run by the tests and not only read.
//
// As a program:
//   node tests/cel/eval.mjs POLICIES.json... < requests.jsonl
// POLICIES.json: a JSON array or v1 List of objects (e.g. `kubectl kustomize` output turned
// into JSON); every ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding in them
// is used, everything else is ignored. Each stdin line is one admission request:
//   {"name": "...",                 optional, echoed back
//    "policy": "gpuaas-tenant-pod", optional: evaluate only this policy
//    "object": {...}, "oldObject": {...} | null,
//    "namespaceObject": {...} | null,
//    "request": {"operation": "CREATE", "namespace": "gpuaas-42",
//                "userInfo": {"username": "alice", "groups": [...]},
//                "resource": {"group": "", "version": "v1", "resource": "pods"},
//                "subResource": ""}}
// Missing request.resource is derived from object.kind for the kinds the policies name.
// Each answer is one line:
//   {"name", "allowed": true|false, "denials": [{"policy", "binding", "message", "reason"}],
//    "evaluated": [policy names that applied], "notEvaluated": [{"policy", "why"}]}
// Semantics followed (Kubernetes "Validating Admission Policy"): matchConstraints
// (resourceRules, namespaceSelector, objectSelector), binding matchResources, matchConditions
// (all must hold), variables (in order), validations (all must hold), failurePolicy Fail: an
// evaluation error denies. A policy that uses what this evaluator lacks (authorizer, params
// from a paramRef) is reported in notEvaluated, never silently allowed.
import { celEnv, isCelError, parse, plan } from "@bufbuild/cel";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";

const KIND_RESOURCE = {
  Pod: ["", "pods"],
  ConfigMap: ["", "configmaps"],
  Secret: ["", "secrets"],
  Service: ["", "services"],
  Namespace: ["", "namespaces"],
  ServiceAccount: ["", "serviceaccounts"],
  PersistentVolume: ["", "persistentvolumes"],
  PersistentVolumeClaim: ["", "persistentvolumeclaims"],
  ResourceQuota: ["", "resourcequotas"],
  LimitRange: ["", "limitranges"],
  Endpoints: ["", "endpoints"],
  Deployment: ["apps", "deployments"],
  Ingress: ["networking.k8s.io", "ingresses"],
  NetworkPolicy: ["networking.k8s.io", "networkpolicies"],
  Route: ["route.openshift.io", "routes"],
  RoleBinding: ["rbac.authorization.k8s.io", "rolebindings"],
  ClusterRoleBinding: ["rbac.authorization.k8s.io", "clusterrolebindings"],
};

const env = celEnv();
const compiled = new Map();

function compile(expr) {
  let fn = compiled.get(expr);
  if (!fn) {
    fn = plan(env, parse(expr));
    compiled.set(expr, fn);
  }
  return fn;
}

// Evaluates one expression; returns {value} or {error}.
function evaluate(expr, vars) {
  let r;
  try {
    r = compile(expr)(vars);
  } catch (e) {
    return { error: String(e && e.message ? e.message : e) };
  }
  if (isCelError(r)) return { error: r.message };
  return { value: r };
}

export function loadPolicies(objects) {
  const policies = new Map();
  const bindings = [];
  for (const o of objects) {
    if (!o || typeof o !== "object") continue;
    if (o.kind === "ValidatingAdmissionPolicy") policies.set(o.metadata.name, o);
    else if (o.kind === "ValidatingAdmissionPolicyBinding") bindings.push(o);
  }
  return { policies, bindings };
}

export function loadPolicyFiles(paths) {
  const all = [];
  for (const p of paths) {
    const doc = JSON.parse(readFileSync(p, "utf8"));
    const items = Array.isArray(doc) ? doc : doc.kind === "List" ? doc.items : [doc];
    all.push(...items);
  }
  return loadPolicies(all);
}

function labelsOf(o) {
  return (o && o.metadata && o.metadata.labels) || {};
}

// A metav1.LabelSelector against a label map; an absent selector matches everything.
export function selectorMatches(sel, labels) {
  if (!sel) return true;
  for (const [k, v] of Object.entries(sel.matchLabels || {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions || []) {
    const has = Object.hasOwn(labels, e.key);
    const vals = e.values || [];
    if (e.operator === "In" && !(has && vals.includes(labels[e.key]))) return false;
    if (e.operator === "NotIn" && has && vals.includes(labels[e.key])) return false;
    if (e.operator === "Exists" && !has) return false;
    if (e.operator === "DoesNotExist" && has) return false;
  }
  return true;
}

function ruleMatches(rule, req) {
  const res = req.resource;
  const full = req.subResource ? `${res.resource}/${req.subResource}` : res.resource;
  const any = (list, v) => (list || []).includes("*") || (list || []).includes(v);
  return (
    any(rule.apiGroups, res.group) &&
    any(rule.apiVersions, res.version) &&
    any(rule.operations, req.operation) &&
    ((rule.resources || []).includes("*") || (rule.resources || []).includes(full))
  );
}

// The namespace labels a namespaceSelector sees: the namespace's, or the object's own when
// the object is a Namespace; null for other cluster-scoped objects (the selector is ignored).
function namespaceLabels(input) {
  const req = input.request;
  if (req.resource.group === "" && req.resource.resource === "namespaces")
    return labelsOf(input.object || input.oldObject);
  if (!req.namespace) return null;
  return labelsOf(input.namespaceObject);
}

function resourcesMatch(m, input) {
  if (!m) return true;
  const req = input.request;
  if (m.resourceRules && !m.resourceRules.some((r) => ruleMatches(r, req))) return false;
  if (m.excludeResourceRules && m.excludeResourceRules.some((r) => ruleMatches(r, req)))
    return false;
  const nsl = namespaceLabels(input);
  if (nsl !== null && !selectorMatches(m.namespaceSelector, nsl)) return false;
  const ol = labelsOf(input.object || input.oldObject);
  if (!selectorMatches(m.objectSelector, ol)) return false;
  return true;
}

function normalise(input) {
  const req = { operation: "CREATE", userInfo: { username: "", groups: [] }, ...input.request };
  req.userInfo = { username: "", groups: [], ...req.userInfo };
  const obj = input.object || input.oldObject;
  if (!req.resource && obj && KIND_RESOURCE[obj.kind]) {
    const [group, resource] = KIND_RESOURCE[obj.kind];
    const version = (obj.apiVersion || "v1").split("/").pop();
    req.resource = { group, version, resource };
  }
  if (!req.resource) throw new Error("request.resource is missing and object.kind is unknown");
  if (req.namespace === undefined && obj && obj.metadata && obj.metadata.namespace)
    req.namespace = obj.metadata.namespace;
  if (!req.subResource) req.subResource = "";
  if (!req.name && obj && obj.metadata) req.name = obj.metadata.name || "";
  return {
    object: input.object ?? null,
    oldObject: input.oldObject ?? null,
    namespaceObject: input.namespaceObject ?? null,
    request: req,
  };
}

// One policy against one request: {applies, denials, errors, notEvaluated}.
function runPolicy(policy, input) {
  const spec = policy.spec || {};
  const out = { applies: false, denials: [], notEvaluated: null };
  if (!resourcesMatch(spec.matchConstraints, input)) return out;
  const text = JSON.stringify(spec);
  if (spec.paramKind || /\bauthorizer\b/.test(text)) {
    out.applies = true;
    out.notEvaluated = "uses params or authorizer, which this evaluator does not provide";
    return out;
  }
  const failClosed = (spec.failurePolicy || "Fail") === "Fail";
  const vars = {
    object: input.object,
    oldObject: input.oldObject,
    namespaceObject: input.namespaceObject,
    request: input.request,
    params: null,
  };
  const deny = (message, reason) =>
    out.denials.push({ policy: policy.metadata.name, message, reason: reason || "Invalid" });
  for (const mc of spec.matchConditions || []) {
    const r = evaluate(mc.expression, vars);
    if (r.error) {
      if (failClosed) {
        out.applies = true;
        deny(`matchCondition ${mc.name}: evaluation error: ${r.error}`, "Invalid");
      }
      return out;
    }
    if (r.value !== true) return out;
  }
  out.applies = true;
  const variables = {};
  for (const v of spec.variables || []) {
    const r = evaluate(v.expression, { ...vars, variables });
    if (!r.error) variables[v.name] = r.value;
  }
  for (const val of spec.validations || []) {
    const r = evaluate(val.expression, { ...vars, variables });
    if (r.error) {
      if (failClosed) deny(`evaluation error in "${val.expression}": ${r.error}`, "Invalid");
      continue;
    }
    if (r.value === true) continue;
    let message = val.message || `failed expression: ${val.expression}`;
    if (val.messageExpression) {
      const m = evaluate(val.messageExpression, { ...vars, variables });
      if (!m.error && typeof m.value === "string" && m.value) message = m.value;
    }
    deny(message.trim(), val.reason);
  }
  return out;
}

export function admit(set, rawInput) {
  const input = normalise(rawInput);
  const answer = { allowed: true, denials: [], evaluated: [], notEvaluated: [] };
  for (const b of set.bindings) {
    const name = b.spec && b.spec.policyName;
    if (rawInput.policy && name !== rawInput.policy) continue;
    const policy = set.policies.get(name);
    if (!policy) continue;
    if (!resourcesMatch(b.spec.matchResources, input)) continue;
    if (b.spec.paramRef) {
      answer.notEvaluated.push({ policy: name, why: "the binding uses paramRef" });
      continue;
    }
    const r = runPolicy(policy, input);
    if (!r.applies) continue;
    if (r.notEvaluated) {
      answer.notEvaluated.push({ policy: name, why: r.notEvaluated });
      continue;
    }
    answer.evaluated.push(name);
    const actions = b.spec.validationActions || [];
    if (!actions.includes("Deny")) continue;
    for (const d of r.denials) answer.denials.push({ ...d, binding: b.metadata.name });
  }
  answer.allowed = answer.denials.length === 0;
  return answer;
}

async function main() {
  const files = process.argv.slice(2);
  if (!files.length) {
    process.stderr.write("usage: node eval.mjs POLICIES.json... < requests.jsonl\n");
    process.exit(2);
  }
  const set = loadPolicyFiles(files);
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of rl) {
    if (!line.trim()) continue;
    let input;
    let answer;
    try {
      input = JSON.parse(line);
      answer = admit(set, input);
    } catch (e) {
      answer = { allowed: false, error: String(e.message || e), denials: [] };
    }
    process.stdout.write(`${JSON.stringify({ name: input && input.name, ...answer })}\n`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
