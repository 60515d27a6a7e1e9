// Runs the admission corpus (corpus.mjs) through the shipped policies (eval.mjs) and checks:
//  1. every case gets the expected answer; a refusal is printed with the policy and message;
//  2. every validation of every policy is load-bearing: with that one validation removed, at
//     least one hostile case that expected a refusal from its policy gets through (so a
//     control deleted from deploy/ fails this test);
//  3. every finding a policy closes (1, 3, 5, 6, 8, 10, 11) has at least one hostile case;
//  4. with --session FILE.json (a rendered `gpuaas deploy session`), every object of the
//     session plan, created by the reconciler, and the workspace pod, created by the
//     ReplicaSet controller from the Deployment's template, are admitted.
// usage: node check-corpus.mjs POLICIES.json... [--session SESSION.json]...
import { admit, loadPolicyFiles } from "./eval.mjs";
import { cases, defaults } from "./corpus.mjs";
import { readFileSync } from "node:fs";

const FINDINGS = [1, 3, 5, 6, 8, 10, 11];
const args = process.argv.slice(2);
const policyFiles = [];
const sessionFiles = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--session") sessionFiles.push(args[++i]);
  else policyFiles.push(args[i]);
}
const set = loadPolicyFiles(policyFiles);
let failures = 0;
const fail = (msg) => {
  failures++;
  console.log(`FAIL: ${msg}`);
};

function input(c) {
  const obj = c.object || c.oldObject;
  const request = { ...(c.request || {}) };
  request.userInfo = { username: defaults.user, groups: ["system:authenticated"], ...(request.userInfo || {}) };
  if (request.namespace === undefined) request.namespace = (obj && obj.metadata && obj.metadata.namespace) || "";
  let namespaceObject = c.namespaceObject;
  if (namespaceObject === undefined)
    namespaceObject = request.namespace === defaults.namespace ? defaults.namespaceObject : null;
  return { object: c.object ?? null, oldObject: c.oldObject ?? null, namespaceObject, request };
}

function verdict(s, c) {
  const a = admit(s, input(c));
  if (a.notEvaluated.length)
    console.log(`  note: not evaluated here: ${a.notEvaluated.map((n) => `${n.policy} (${n.why})`).join(", ")}`);
  return a;
}

function matches(a, expect) {
  if (expect === "allow") return a.allowed;
  return !a.allowed && a.denials.some((d) => d.policy === expect.deny);
}

// 1. the corpus
for (const c of cases) {
  const a = verdict(set, c);
  const want = c.expect === "allow" ? "allow" : `deny by ${c.expect.deny}`;
  if (matches(a, c.expect)) {
    const why = a.allowed ? "allowed" : a.denials.map((d) => `${d.policy}: ${d.message}`).join("; ");
    console.log(`ok   ${c.finding ? `[finding ${c.finding}] ` : ""}${c.name}: ${why}`);
  } else {
    fail(`${c.name}: want ${want}, got ${a.allowed ? "allowed" : a.denials.map((d) => `${d.policy}: ${d.message}`).join("; ")}`);
  }
}

// 2. every validation is needed by some case
for (const [name, policy] of set.policies) {
  const vals = (policy.spec && policy.spec.validations) || [];
  const hostile = cases.filter((c) => c.expect !== "allow" && c.expect.deny === name);
  if (!hostile.length) fail(`policy ${name} has no hostile case in the corpus`);
  vals.forEach((v, i) => {
    const weakened = structuredClone(policy);
    weakened.spec.validations.splice(i, 1);
    const s2 = { policies: new Map(set.policies), bindings: set.bindings };
    s2.policies.set(name, weakened);
    const through = hostile.filter((c) => matches(admit(s2, input(c)), "allow"));
    if (!through.length)
      fail(`${name}: without validation ${i} ("${v.message ? v.message.trim().slice(0, 60) : v.expression}") no hostile case gets through: the corpus does not test it`);
    else console.log(`ok   ${name} validation ${i} removed: "${through[0].name}" gets through`);
  });
}

// 3. findings covered
for (const f of FINDINGS)
  if (!cases.some((c) => c.finding === f && c.expect !== "allow")) fail(`finding ${f} has no hostile case`);

// 4. the session plan itself is admitted
for (const file of sessionFiles) {
  const objs = JSON.parse(readFileSync(file, "utf8"));
  const nsObj = objs.find((o) => o.kind === "Namespace");
  for (const o of objs) {
    const ns = (o.metadata && o.metadata.namespace) || "";
    const c = {
      object: o,
      namespaceObject: ns ? nsObj : null,
      request: { userInfo: { username: defaults.reconciler }, namespace: ns },
    };
    const a = admit(set, input(c));
    if (!a.allowed)
      fail(`${file}: the reconciler's ${o.kind}/${o.metadata.name} is refused: ${a.denials.map((d) => `${d.policy}: ${d.message}`).join("; ")}`);
    if (o.kind === "Deployment") {
      const tmpl = o.spec.template;
      const podObj = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { ...tmpl.metadata, name: `${o.metadata.name}-abc12`, namespace: ns },
        // the API server defaults the grace period before admission
        spec: { terminationGracePeriodSeconds: 30, ...tmpl.spec },
      };
      const p = admit(set, input({
        object: podObj,
        namespaceObject: nsObj,
        request: { userInfo: { username: "system:serviceaccount:kube-system:replicaset-controller" }, namespace: ns },
      }));
      if (!p.allowed)
        fail(`${file}: the workspace pod is refused: ${p.denials.map((d) => `${d.policy}: ${d.message}`).join("; ")}`);
    }
  }
  console.log(`ok   ${file}: the reconciler's ${objs.length} objects and the workspace pod are admitted`);
}

console.log(`${cases.length} cases, ${set.policies.size} policies, ${failures} failure(s)`);
process.exit(failures ? 1 : 0);
