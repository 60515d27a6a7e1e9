// The CEL evaluator of the API server double (gpuaas-kubesim --cel-eval "node THIS"): reads
// one JSON line per ValidatingAdmissionPolicy and request, as src/kubesim/sim_policy.c writes
// them ({policy, binding, request, object, oldObject, namespaceObject}), evaluates it with the
// tests' independent CEL implementation (tests/cel/eval.mjs, @bufbuild/cel) and answers one
// line: {"allowed": true} | {"allowed": false, "message", "reason"} | {"error"}. A policy the
// evaluator cannot evaluate (params, authorizer) is an "error": the double then applies the
// policy's failurePolicy and says so; it is never allowed in silence.
import { createInterface } from "node:readline";
import { admit, loadPolicies } from "../../cel/eval.mjs";

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) {
  if (!line.trim()) continue;
  let answer;
  try {
    const input = JSON.parse(line);
    const set = loadPolicies([input.policy, input.binding]);
    const r = admit(set, {
      request: input.request,
      object: input.object ?? null,
      oldObject: input.oldObject ?? null,
      namespaceObject: input.namespaceObject ?? null,
    });
    if (r.notEvaluated && r.notEvaluated.length) {
      answer = { error: `not evaluated: ${r.notEvaluated.map((n) => n.why).join("; ")}` };
    } else if (r.allowed) {
      answer = { allowed: true };
    } else {
      const d = r.denials[0];
      answer = { allowed: false, message: d.message, reason: d.reason || "Invalid" };
    }
  } catch (e) {
    answer = { error: String((e && e.message) || e) };
  }
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}
