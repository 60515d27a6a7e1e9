#!/usr/bin/env python3
"""Checks the server's OpenAPI document against the answers the server really gave.

    openapi_api_check.py DOC EXCHANGES_DIR

DOC is GET /api/v1/openapi.json as served. EXCHANGES_DIR holds one exchange per NAME.meta
(method, path with query, status, request Content-Type, response Content-Type: one a line),
NAME.req (the request body) and NAME.res (the response body), as tests/it/test_api.sh
records them. Fails (exit 1, one line per problem) when:
  - the document is not OpenAPI 3.1 (openapi 3.1.x, info, paths, components), a $ref does
    not resolve, an operation lacks operationId/summary/tags/responses/a 2xx (or 3xx), or a schema is
    not a valid JSON Schema 2020-12;
  - an answer's status is not among its operation's responses, or its body does not match
    the response's schema (JSON Schema 2020-12, formats checked);
  - a request body the server accepted does not match the operation's requestBody schema, or
    one it refused as malformed/unknown field/wrong type/missing field does match it;
  - an error body (any 4xx/5xx JSON answer, also 404/405 without an operation) is not an
    Error.
Needs python3-jsonschema (Debian)."""
import datetime
import json
import os
import re
import sys

try:
    import jsonschema
    from jsonschema import Draft202012Validator, FormatChecker
except ImportError:
    print("openapi check: python3-jsonschema is not installed")
    sys.exit(1)

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
problems = []


def bad(msg):
    problems.append(msg)


def esc(key):
    return key.replace("~", "~0").replace("/", "~1")


def resolve(doc, ref):
    if not ref.startswith("#/"):
        return None
    cur = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return None
    return cur


def walk_refs(doc, v, where):
    if isinstance(v, dict):
        for k, x in v.items():
            if k == "$ref" and (not isinstance(x, str) or resolve(doc, x) is None):
                bad(f"{where}: $ref {x!r} does not resolve")
            walk_refs(doc, x, where + "/" + esc(k))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            walk_refs(doc, x, f"{where}/{i}")


def deref(doc, obj, ptr):
    """Follows a $ref: (object, JSON pointer of it)."""
    while isinstance(obj, dict) and "$ref" in obj:
        ptr = obj["$ref"]
        obj = resolve(doc, ptr)
    return obj, ptr


fmt = FormatChecker()
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


@fmt.checks("date-time")
def is_datetime(v):
    if not isinstance(v, str):
        return True
    if not RFC3339.match(v):
        return False
    try:
        datetime.datetime.fromisoformat(v[:19])
    except ValueError:
        return False
    return True


def validator(doc, ptr):
    """A validator for the schema at JSON pointer ptr, resolving $refs within doc."""
    root = dict(doc)
    root["$ref"] = ptr
    return Draft202012Validator(root, format_checker=fmt)


def errors(doc, ptr, value):
    v = validator(doc, ptr)
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
            for e in sorted(v.iter_errors(value), key=lambda e: list(e.absolute_path))][:5]


def check_document(doc):
    if not re.match(r"^3\.1\.\d+$", str(doc.get("openapi", ""))):
        bad(f"openapi is {doc.get('openapi')!r}, not 3.1.x")
    info = doc.get("info")
    if not isinstance(info, dict) or not isinstance(info.get("title"), str) \
            or not isinstance(info.get("version"), str):
        bad("info.title and info.version are required")
    if not isinstance(doc.get("paths"), dict) or not doc["paths"]:
        bad("paths is missing or empty")
    comps = doc.get("components")
    if not isinstance(comps, dict) or not isinstance(comps.get("schemas"), dict):
        bad("components.schemas is missing")
        return
    walk_refs(doc, doc, "#")
    schemes = comps.get("securitySchemes", {})
    for name, s in comps["schemas"].items():
        try:
            Draft202012Validator.check_schema(s)
        except jsonschema.exceptions.SchemaError as e:
            bad(f"components.schemas.{name}: not a JSON Schema 2020-12: {e.message}")
    ids = set()
    for path, item in doc.get("paths", {}).items():
        for m in METHODS:
            op = item.get(m)
            if op is None:
                continue
            where = f"{m.upper()} {path}"
            for k in ("operationId", "summary", "tags", "responses"):
                if not op.get(k):
                    bad(f"{where}: no {k}")
            if op.get("operationId") in ids:
                bad(f"{where}: operationId {op.get('operationId')} is not unique")
            ids.add(op.get("operationId"))
            # a success: 2xx, or the 3xx of a redirect (the workspace sign-in answers 303)
            if not any(re.match(r"^[23]\d\d$", s) for s in op.get("responses", {})):
                bad(f"{where}: no 2xx or 3xx response")
            for req in op.get("security", doc.get("security", [])):
                for s in req:
                    if s not in schemes:
                        bad(f"{where}: unknown security scheme {s}")
            for name in re.findall(r"\{(\w+)\}", path):
                if not any(deref(doc, p, "")[0].get("name") == name and
                           deref(doc, p, "")[0].get("in") == "path"
                           for p in op.get("parameters", []) + item.get("parameters", [])):
                    bad(f"{where}: path parameter {name} is not declared")


def find_operation(doc, method, path):
    for pattern, item in doc["paths"].items():
        rx = "^" + re.sub(r"\\\{\w+\\\}", "[1-9][0-9]*", re.escape(pattern)) + "$"
        if re.match(rx, path):
            op = item.get(method.lower())
            if op is None and method == "HEAD":
                op = item.get("get")
            return pattern, op
    return None, None


# 400 messages of the strict decoders that a schema must refuse as well
SCHEMA_REFUSALS = re.compile(r"unknown field|must be an integer|must be a string|must be true or "
                             r"false|is required|: required|must be an object|malformed JSON|must be a "
                             r"JSON object|must be a number|must be a list")


def check_exchange(doc, name, meta, req, res):
    method, target, status = meta[0], meta[1], meta[2]
    req_type = meta[3] if len(meta) > 3 else ""
    res_type = meta[4] if len(meta) > 4 else ""
    path = target.split("?", 1)[0]
    where = f"{method} {target} -> {status}"
    err_ptr = "#/components/schemas/Error"
    body = None
    if res:
        try:
            body = json.loads(res)
        except ValueError:
            body = None
    if status[0] in "45" and res_type.startswith("application/json"):
        if body is None:
            bad(f"{where}: error body is not JSON")
        else:
            for e in errors(doc, err_ptr, body):
                bad(f"{where}: error body is not an Error: {e}")
    pattern, op = find_operation(doc, method, path)
    if op is None:
        if pattern is None and not path.startswith("/api/"):
            return None  # the web UI's static files
        if status in ("404", "405") and (pattern is None) == (status == "404"):
            return None  # no such path (404) / method (405): described in info.description
        bad(f"{where}: no operation in the document")
        return None
    key = f"{method.upper()} {pattern}"
    responses = op.get("responses", {})
    if status not in responses:
        bad(f"{where}: status {status} is not among the responses of {key} "
            f"({', '.join(responses)})")
        return key
    resp, rptr = deref(doc, responses[status],
                       f"#/paths/{esc(pattern)}/{method.lower()}/responses/{status}")
    content = resp.get("content")
    if not content:
        if res:
            bad(f"{where}: the document says no body, the server sent {len(res)} bytes")
    else:
        mt = next((m for m in content if res_type.startswith(m.split(";")[0])), None)
        if mt is None:
            bad(f"{where}: Content-Type {res_type!r} is not among {list(content)}")
        elif mt.startswith("application/json"):
            if body is None:
                bad(f"{where}: the body is not JSON")
            elif "schema" in content[mt]:
                for e in errors(doc, f"{rptr}/content/{esc(mt)}/schema", body):
                    bad(f"{where}: the body does not match the schema: {e}")
    rb = op.get("requestBody")
    if rb is not None and req and not req.startswith("@") and req_type.startswith("application/json"):
        rb, rbptr = deref(doc, rb, f"#/paths/{esc(pattern)}/{method.lower()}/requestBody")
        sptr = f"{rbptr}/content/application~1json/schema"
        try:
            sent = json.loads(req)
            parsed = True
        except ValueError:
            parsed = False
        errs = errors(doc, sptr, sent) if parsed else ["malformed"]
        if status[0] == "2" and errs:
            bad(f"{where}: the server accepted a body that the requestBody schema refuses: {errs}")
        msg = body.get("error", {}).get("message", "") if isinstance(body, dict) else ""
        if status == "400" and SCHEMA_REFUSALS.search(msg) and not errs:
            bad(f"{where}: the server refused the body ({msg}) but the requestBody schema "
                f"accepts it: {req[:200]}")
    return key


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    with open(sys.argv[1]) as f:
        doc = json.load(f)
    check_document(doc)
    if problems:
        for p in problems:
            print("openapi check:", p)
        return 1
    seen = set()
    names = sorted(n[:-5] for n in os.listdir(sys.argv[2]) if n.endswith(".meta"))
    for n in names:
        base = os.path.join(sys.argv[2], n)
        with open(base + ".meta") as f:
            meta = f.read().split("\n")
        req = open(base + ".req").read() if os.path.exists(base + ".req") else ""
        res = open(base + ".res").read() if os.path.exists(base + ".res") else ""
        key = check_exchange(doc, n, meta, req, res)
        if key:
            seen.add(key)
    ops = {f"{m.upper()} {p}" for p, item in doc["paths"].items() for m in METHODS if m in item}
    for p in problems:
        print("openapi check:", p)
    print(f"openapi check: {len(names)} answers, {len(seen)} of {len(ops)} operations exercised"
          + (f" (not: {', '.join(sorted(ops - seen))})" if ops - seen else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
