/* The REST verbs on one resource: list, get, create, update, patch (merge, strategic, JSON
 * patch, server-side apply), delete. */
#include "kubesim/sim_internal.h"

static const char *qparam(json_t *q, const char *name)
{
    return json_string_value(json_object_get(q, name));
}

static void handle_list(struct ksim *k, struct req *rq, struct ksim_response *r)
{
    struct ksim_selector ls, fs;
    struct error e = {0};
    if (ksim_selector_parse(qparam(rq->query, "labelSelector"), &ls, &e) ||
        ksim_selector_parse(qparam(rq->query, "fieldSelector"), &fs, &e)) {
        ks_reply_status(r, 400, "BadRequest", NULL, NULL, "unable to parse requirement: %s",
                        e.message);
        return;
    }
    const char *w = qparam(rq->query, "watch");
    if (w && (!strcmp(w, "1") || !strcmp(w, "true"))) {
        r->watch = 1;
        ks_rt_key(rq->rt, r->watch_key, sizeof(r->watch_key));
        snprintf(r->watch_ns, sizeof(r->watch_ns), "%s", rq->ns);
        snprintf(r->watch_labels, sizeof(r->watch_labels), "%s",
                 qparam(rq->query, "labelSelector") ?: "");
        snprintf(r->watch_fields, sizeof(r->watch_fields), "%s",
                 qparam(rq->query, "fieldSelector") ?: "");
        const char *rv = qparam(rq->query, "resourceVersion");
        r->watch_rv = rv ? strtoull(rv, NULL, 10) : 0;
        const char *to = qparam(rq->query, "timeoutSeconds");
        r->watch_timeout_s = to ? atoi(to) : 1800;
        if (r->watch_timeout_s <= 0 || r->watch_timeout_s > 3600)
            r->watch_timeout_s = 1800;
        r->status = 200;
        r->content_type = "application/json";
        return;
    }
    char prefix[80];
    snprintf(prefix, sizeof(prefix), "%s/", rq->ns);
    json_t *items = json_array();
    const char *key;
    json_t *obj;
    json_object_foreach(ks_bucket(k, rq->rt), key, obj)
    {
        if (rq->rt->namespaced && *rq->ns && strncmp(key, prefix, strlen(prefix)))
            continue;
        if (!ksim_selector_match(&ls, json_object_get(ks_meta(obj), "labels")) ||
            !ksim_selector_match_fields(&fs, obj))
            continue;
        json_array_append(items, obj);
    }
    if (ks_wants_table(rq->accept)) {
        ks_reply(r, 200, ks_to_table(k, rq->rt, items));
        json_decref(items);
        return;
    }
    char av[160], kind[96], rv[32];
    snprintf(kind, sizeof(kind), "%sList", rq->rt->kind);
    snprintf(rv, sizeof(rv), "%llu", (unsigned long long)k->rv);
    ks_reply(r, 200,
             json_pack("{s:s, s:s, s:{s:s}, s:o}", "kind", kind, "apiVersion",
                       ks_api_version(rq->rt, av, sizeof(av)), "metadata", "resourceVersion", rv,
                       "items", items));
}

/* gracePeriodSeconds of a DELETE, from the query or the DeleteOptions body (-1 when neither
 * names one). Answers 400 and returns 1 when it is not a non-negative integer. */
static int delete_grace(const struct req *rq, long *ret, struct ksim_response *r)
{
    const char *q = qparam(rq->query, "gracePeriodSeconds");
    json_t *body = rq->body_len ? json_loadb(rq->body, rq->body_len, 0, NULL) : NULL;
    json_t *b = json_object_get(body, "gracePeriodSeconds");
    int bad = 0;
    if (q) {
        char *end = NULL;
        long v = strtol(q, &end, 10);
        bad = !*q || *end || v < 0;
        *ret = v;
    } else if (b) {
        bad = !json_is_integer(b) || json_integer_value(b) < 0;
        *ret = (long)json_integer_value(b);
    }
    json_decref(body);
    if (bad)
        ks_reply_status(r, 400, "BadRequest", NULL, NULL,
                        "gracePeriodSeconds: must be a non-negative integer");
    return bad;
}

static void handle_delete(struct ksim *k, struct req *rq, struct ksim_response *r)
{
    json_t *obj = ks_lookup(k, rq->rt, rq->ns, rq->name);
    if (!obj) {
        ks_reply_not_found(r, rq->rt, rq->name);
        return;
    }
    if (!*rq->sub && ks_admit(k, rq->rt, rq->ns, "DELETE", NULL, obj, r))
        return;
    char ts[RFC3339_LEN];
    ks_now_rfc3339(ts);
    if (!strcmp(rq->rt->resource, "namespaces")) {
        if (!ks_ns_terminating(obj)) {
            json_object_set_new(ks_meta(obj), "deletionTimestamp", json_string(ts));
            json_object_set_new(json_object_get(obj, "status"), "phase",
                                json_string("Terminating"));
            ks_set_rv(k, obj);
            ks_emit(k, rq->rt, "", "MODIFIED", obj);
            ks_add_task(k, T_NS_DELETE, "", rq->name, k->opt.ns_delete_delay_ms);
        }
        ks_reply(r, 200, json_incref(obj));
        return;
    }
    if (ks_has_finalizers(obj)) {
        if (!json_object_get(ks_meta(obj), "deletionTimestamp")) {
            json_object_set_new(ks_meta(obj), "deletionTimestamp", json_string(ts));
            ks_set_rv(k, obj);
            ks_emit(k, rq->rt, rq->ns, "MODIFIED", obj);
        }
        ks_reply(r, 200, json_incref(obj));
        return;
    }
    if (!strcmp(rq->rt->resource, "pods")) {
        long grace = -1;
        if (delete_grace(rq, &grace, r))
            return;
        json_t *pod = json_incref(obj);
        ks_pod_delete(k, rq->ns, rq->name, grace); /* may stay Terminating (ignore-sigterm) */
        ks_reply(r, 200, pod);
        return;
    }
    json_t *copy = json_incref(obj);
    ks_remove_object(k, rq->rt, rq->ns, rq->name);
    if (!strcmp(rq->rt->resource, "pods") || !strcmp(rq->rt->resource, "deployments"))
        ks_reply(r, 200, copy);
    else {
        json_decref(copy);
        json_t *st = json_pack("{s:s, s:s, s:{}, s:s, s:{s:s, s:s}}", "kind", "Status",
                               "apiVersion", "v1", "metadata", "status", "Success", "details",
                               "name", rq->name, "kind", rq->rt->resource);
        if (*rq->rt->group)
            json_object_set_new(json_object_get(st, "details"), "group",
                                json_string(rq->rt->group));
        ks_reply(r, 200, st);
    }
}

/* Answers 409 Conflict and returns 1 when `given` names a resourceVersion other than the
 * stored object's (optimistic concurrency); 0 when it names none or the same. */
static int rv_conflict(const struct req *rq, json_t *given, json_t *old, struct ksim_response *r)
{
    const char *rv = ks_mstr(given, "resourceVersion");
    if (!rv || !*rv || !strcmp(rv, ks_mstr(old, "resourceVersion")))
        return 0;
    char q[160];
    ks_reply_status(r, 409, "Conflict", rq->name, rq->rt,
                    "Operation cannot be fulfilled on %s \"%s\": the object has been modified; "
                    "please apply your changes to the latest version and try again",
                    ks_qualified(rq->rt, q, sizeof(q)), rq->name);
    return 1;
}

/* PUT: full replacement, optimistic concurrency on metadata.resourceVersion. */
static void handle_update(struct ksim *k, struct req *rq, json_t *obj, struct ksim_response *r)
{
    if (ks_check_type_meta(rq->rt, obj, r) || ks_validate(k, rq->rt, obj, r))
        return;
    const char *name = ks_mstr(obj, "name");
    if (!name || strcmp(name, rq->name)) {
        ks_reply_status(r, 400, "BadRequest", NULL, NULL,
                        "the name of the object (%s) does not match the name on the URL (%s)",
                        name ? name : "", rq->name);
        return;
    }
    json_t *old = ks_lookup(k, rq->rt, rq->ns, rq->name);
    if (!old) {
        ks_reply_not_found(r, rq->rt, rq->name);
        return;
    }
    if (rv_conflict(rq, obj, old, r))
        return;
    json_t *nw = json_deep_copy(obj);
    if (!strcmp(rq->sub, "status")) {
        json_t *base = json_deep_copy(old);
        json_object_set(base, "status", json_object_get(nw, "status"));
        json_decref(nw);
        nw = base;
    } else if (!strcmp(rq->sub, "finalize")) {
        json_t *base = json_deep_copy(old);
        json_t *fin = json_object_get(json_object_get(nw, "spec"), "finalizers");
        json_object_set_new(base, "spec",
                            json_pack("{s:O}", "finalizers", fin ? fin : json_array()));
        json_decref(nw);
        nw = base;
    } else if (rq->rt->has_status) {
        json_t *os = json_object_get(old, "status");
        if (os)
            json_object_set(nw, "status", os);
        else
            json_object_del(nw, "status");
        if (!strcmp(rq->rt->resource, "namespaces"))
            json_object_set(nw, "spec", json_object_get(old, "spec"));
    }
    if (!*rq->sub && ks_admit(k, rq->rt, rq->ns, "UPDATE", nw, old, r)) {
        json_decref(nw);
        return;
    }
    ks_store_update(k, rq->rt, rq->ns, old, nw);
    if (!strcmp(rq->rt->resource, "namespaces"))
        ks_ns_finish(k, rq->name);
    json_t *cur = ks_lookup(k, rq->rt, rq->ns, rq->name);
    ks_reply(r, 200, cur ? json_incref(cur) : json_deep_copy(obj));
}

/* RFC 6901 pointer: resolves all but the last token; *ret_last gets the unescaped last token. */
static json_t *pointer_parent(json_t *doc, const char *ptr, char *last, size_t lastlen)
{
    if (*ptr != '/')
        return NULL;
    json_t *cur = doc;
    const char *p = ptr + 1;
    for (;;) {
        char tok[256];
        size_t n = 0;
        while (*p && *p != '/') {
            char c = *p++;
            if (c == '~' && (*p == '0' || *p == '1'))
                c = *p++ == '0' ? '~' : '/';
            if (n + 1 >= sizeof(tok))
                return NULL;
            tok[n++] = c;
        }
        tok[n] = '\0';
        if (!*p) {
            snprintf(last, lastlen, "%s", tok);
            return cur;
        }
        p++;
        if (json_is_object(cur))
            cur = json_object_get(cur, tok);
        else if (json_is_array(cur))
            cur = json_array_get(cur, (size_t)strtoul(tok, NULL, 10));
        else
            return NULL;
        if (!cur)
            return NULL;
    }
}

/* RFC 6902 add/remove/replace/test on doc in place. 0 or -1 with msg. */
static int json_patch_apply(json_t *doc, json_t *ops, char *msg, size_t msglen)
{
    if (!json_is_array(ops)) {
        snprintf(msg, msglen, "json patch must be an array of operations");
        return -1;
    }
    size_t i;
    json_t *op;
    json_array_foreach(ops, i, op)
    {
        const char *o = json_string_value(json_object_get(op, "op"));
        const char *path = json_string_value(json_object_get(op, "path"));
        json_t *value = json_object_get(op, "value");
        char last[256];
        json_t *parent = path ? pointer_parent(doc, path, last, sizeof(last)) : NULL;
        if (!o || !parent) {
            snprintf(msg, msglen, "doc is missing path: \"%s\"", path ? path : "");
            return -1;
        }
        int is_arr = json_is_array(parent);
        size_t idx = !strcmp(last, "-") ? json_array_size(parent) : (size_t)strtoul(last, NULL, 10);
        json_t *cur = is_arr ? json_array_get(parent, idx) : json_object_get(parent, last);
        if (!strcmp(o, "test")) {
            if (!cur || !json_equal(cur, value)) {
                snprintf(msg, msglen, "testing value %s failed", path);
                return -1;
            }
        } else if (!strcmp(o, "remove") || !strcmp(o, "replace")) {
            if (!cur) {
                snprintf(msg, msglen,
                         "jsonpatch %s operation does not apply: doc is missing key: %s", o, path);
                return -1;
            }
            if (!strcmp(o, "remove"))
                is_arr ? json_array_remove(parent, idx) : json_object_del(parent, last);
            else if (!value) {
                snprintf(msg, msglen, "replace operation needs a value");
                return -1;
            } else
                is_arr ? json_array_set(parent, idx, value) : json_object_set(parent, last, value);
        } else if (!strcmp(o, "add")) {
            if (!value) {
                snprintf(msg, msglen, "add operation needs a value");
                return -1;
            }
            if (is_arr) {
                if (idx > json_array_size(parent)) {
                    snprintf(msg, msglen, "add operation index out of bounds: %s", path);
                    return -1;
                }
                json_array_insert(parent, idx, value);
            } else if (json_is_object(parent)) {
                json_object_set(parent, last, value);
            } else {
                snprintf(msg, msglen, "doc is missing path: \"%s\"", path);
                return -1;
            }
        } else {
            snprintf(msg, msglen, "Unexpected kind: %s", o);
            return -1;
        }
    }
    return 0;
}

/* Stores nw over old (ownership of nw passes to the store) and answers 200 with the stored
 * object. A namespace whose last finalizer the update removed goes away first; the answer is
 * then `gone` (a new reference, dropped when the object is answered). */
static void store_and_reply(struct ksim *k, const struct req *rq, json_t *old, json_t *nw,
                            json_t *gone, struct ksim_response *r)
{
    ks_store_update(k, rq->rt, rq->ns, old, nw);
    if (!strcmp(rq->rt->resource, "namespaces"))
        ks_ns_finish(k, rq->name);
    json_t *cur = ks_lookup(k, rq->rt, rq->ns, rq->name);
    if (cur) {
        json_decref(gone);
        ks_reply(r, 200, json_incref(cur));
    } else {
        ks_reply(r, 200, gone);
    }
}

/* PATCH with application/json-patch+json (RFC 6902) on an existing object. */
static void patch_json(struct ksim *k, struct req *rq, struct ksim_response *r)
{
    json_error_t jerr;
    json_t *ops = json_loadb(rq->body ? rq->body : "", rq->body_len, 0, &jerr);
    json_t *old = ks_lookup(k, rq->rt, rq->ns, rq->name);
    char msg[600];
    if (!ops) {
        ks_reply_status(r, 400, "BadRequest", NULL, NULL, "%s", jerr.text);
        return;
    }
    if (!old) {
        json_decref(ops);
        ks_reply_not_found(r, rq->rt, rq->name);
        return;
    }
    json_t *nw = json_deep_copy(old);
    int bad = json_patch_apply(nw, ops, msg, sizeof(msg));
    json_decref(ops);
    if (bad) {
        json_decref(nw);
        ks_reply_status(r, 422, "Invalid", NULL, NULL, "%s", msg);
        return;
    }
    if (ks_check_type_meta(rq->rt, nw, r) || ks_validate(k, rq->rt, nw, r)) {
        json_decref(nw);
        return;
    }
    if (strcmp(rq->sub, "status") && rq->rt->has_status)
        json_object_set(nw, "status",
                        json_object_get(old, "status") ? json_object_get(old, "status")
                                                       : json_null());
    if (json_is_null(json_object_get(nw, "status")))
        json_object_del(nw, "status");
    if (!*rq->sub && ks_admit(k, rq->rt, rq->ns, "UPDATE", nw, old, r)) {
        json_decref(nw);
        return;
    }
    store_and_reply(k, rq, old, nw,
                    json_pack("{s:s, s:s, s:{}, s:s}", "kind", "Status", "apiVersion", "v1",
                              "metadata", "status", "Success"),
                    r);
}

/* Server-side apply of an object that does not exist yet: a create, under the URL's name. */
static void apply_create(struct ksim *k, struct req *rq, json_t *patch, struct ksim_response *r)
{
    const char *pname = ks_mstr(patch, "name");
    if (pname && strcmp(pname, rq->name)) {
        ks_reply_status(r, 400, "BadRequest", NULL, NULL,
                        "the name of the object (%s) does not match the name on the URL (%s)",
                        pname, rq->name);
        return;
    }
    json_object_set_new(ks_meta(patch), "name", json_string(rq->name));
    json_object_del(ks_meta(patch), "resourceVersion");
    ks_do_create(k, rq->rt, rq->ns, patch, r, NULL, 0);
}

/* Merges patch into nw (a copy of the stored object): on the status subresource only its
 * status; otherwise everything but the status of a type that has one. A merge patch
 * (not apply) deletes the keys it sets to null. */
static void merge_into(const struct req *rq, json_t *nw, json_t *patch, int apply)
{
    if (!strcmp(rq->sub, "status")) {
        json_t *ps = json_object_get(patch, "status");
        if (json_is_object(ps)) {
            json_t *st = json_object_get(nw, "status");
            if (!json_is_object(st)) {
                st = json_object();
                json_object_set_new(nw, "status", st);
            }
            ks_merge_patch(st, ps, !apply);
        }
        return;
    }
    json_t *ps = rq->rt->has_status ? json_incref(json_object_get(patch, "status")) : NULL;
    if (ps)
        json_object_del(patch, "status");
    ks_merge_patch(nw, patch, !apply);
    json_decref(ps);
}

static void handle_patch(struct ksim *k, struct req *rq, struct ksim_response *r)
{
    const char *ct = rq->ct ? rq->ct : "";
    int apply = strstr(ct, "apply-patch") != NULL;
    if (strstr(ct, "json-patch")) {
        patch_json(k, rq, r);
        return;
    }
    if (!apply && !strstr(ct, "merge-patch") && !strstr(ct, "strategic-merge-patch")) {
        ks_reply_status(r, 415, "UnsupportedMediaType", NULL, NULL,
                        "the body of the request was in an unknown format - accepted media types "
                        "include: application/json-patch+json, application/merge-patch+json, "
                        "application/strategic-merge-patch+json, "
                        "application/apply-patch+yaml");
        return;
    }
    json_t *patch = NULL;
    struct error e = {0};
    if (ks_parse_body(apply ? "yaml" : "json", rq->body, rq->body_len, &patch, &e)) {
        ks_reply_status(r, 400, "BadRequest", NULL, NULL, "%s", e.message);
        return;
    }
    if (apply && !qparam(rq->query, "fieldManager")) {
        ks_reply_status(r, 400, "BadRequest", NULL, NULL,
                        "PATCH %s: fieldManager is required for apply requests", rq->rt->resource);
        goto out;
    }
    json_t *old = ks_lookup(k, rq->rt, rq->ns, rq->name);
    if (!old) {
        if (apply)
            apply_create(k, rq, patch, r);
        else
            ks_reply_not_found(r, rq->rt, rq->name);
        goto out;
    }
    if (apply && (ks_check_type_meta(rq->rt, patch, r) || ks_validate(k, rq->rt, patch, r)))
        goto out;
    if (rv_conflict(rq, patch, old, r))
        goto out;
    json_t *nw = json_deep_copy(old);
    merge_into(rq, nw, patch, apply);
    if (ks_validate(k, rq->rt, nw, r) ||
        (!*rq->sub && ks_admit(k, rq->rt, rq->ns, "UPDATE", nw, old, r))) {
        json_decref(nw);
        goto out;
    }
    store_and_reply(k, rq, old, nw, json_incref(patch), r);
out:
    json_decref(patch);
}

/* GET pods/NAME/log: the double runs no containers, so a pod's log is one line naming what a
 * kubelet would have started (the container asked for with ?container=, else the first). */
static void handle_pod_log(struct ksim *k, struct req *rq, struct ksim_response *r)
{
    json_t *pod = ks_lookup(k, rq->rt, rq->ns, rq->name);
    if (!pod) {
        ks_reply_not_found(r, rq->rt, rq->name);
        return;
    }
    const char *want = qparam(rq->query, "container");
    json_t *ctrs = json_object_get(json_object_get(pod, "spec"), "containers");
    json_t *c = json_array_get(ctrs, 0);
    size_t i;
    json_t *e;
    json_array_foreach(ctrs, i, e)
    {
        const char *n = json_string_value(json_object_get(e, "name"));
        if (want && *want && n && !strcmp(n, want))
            c = e;
    }
    const char *cname = json_string_value(json_object_get(c, "name"));
    if (want && *want && (!cname || strcmp(cname, want))) {
        ks_reply_status(r, 400, "BadRequest", NULL, NULL, "container %s is not valid for pod %s",
                        want, rq->name);
        return;
    }
    const char *image = json_string_value(json_object_get(c, "image"));
    char line[1024];
    snprintf(line, sizeof(line), "kubesim: container %s of pod %s/%s runs image %s\n",
             cname ? cname : "", rq->ns, rq->name, image ? image : "");
    r->status = 200;
    r->body = strdup(line);
    r->len = r->body ? strlen(r->body) : 0;
    r->content_type = "text/plain";
}

void ks_handle_resource(struct ksim *k, struct req *rq, struct ksim_response *r)
{
    const char *m = rq->method;
    if (ks_handle_special(k, rq, r))
        return;
    if (!strcmp(rq->sub, "log") && !strcmp(rq->rt->resource, "pods") && !strcmp(m, "GET") &&
        *rq->name) {
        handle_pod_log(k, rq, r);
        return;
    }
    if (*rq->sub && strcmp(rq->sub, "status") &&
        !(strcmp(rq->sub, "finalize") == 0 && !strcmp(rq->rt->resource, "namespaces"))) {
        ks_reply_status(r, 404, "NotFound", NULL, NULL,
                        "the server could not find the requested resource");
        return;
    }
    if (!*rq->name) {
        if (!strcmp(m, "GET")) {
            handle_list(k, rq, r);
        } else if (!strcmp(m, "POST")) {
            json_t *obj;
            struct error e = {0};
            if (ks_parse_body(rq->ct, rq->body, rq->body_len, &obj, &e)) {
                ks_reply_status(r, 400, "BadRequest", NULL, NULL, "%s", e.message);
                return;
            }
            ks_do_create(k, rq->rt, rq->ns, obj, r, NULL, 0);
            json_decref(obj);
        } else if (!strcmp(m, "DELETE") && rq->rt->namespaced &&
                   strcmp(rq->rt->resource, "namespaces")) {
            /* deletecollection */
            struct ksim_selector ls;
            struct error e = {0};
            if (ksim_selector_parse(qparam(rq->query, "labelSelector"), &ls, &e)) {
                ks_reply_status(r, 400, "BadRequest", NULL, NULL, "%s", e.message);
                return;
            }
            for (;;) {
                const char *key;
                json_t *obj;
                char victim[MAX_NAME + 1] = "";
                char prefix[80];
                snprintf(prefix, sizeof(prefix), "%s/", rq->ns);
                json_object_foreach(ks_bucket(k, rq->rt), key, obj)
                {
                    if (*rq->ns && strncmp(key, prefix, strlen(prefix)))
                        continue;
                    if (ksim_selector_match(&ls, json_object_get(ks_meta(obj), "labels")) &&
                        !json_object_get(ks_meta(obj), "deletionTimestamp")) {
                        snprintf(victim, sizeof(victim), "%s", ks_mstr(obj, "name"));
                        break;
                    }
                }
                if (!victim[0])
                    break;
                struct req one = *rq;
                snprintf(one.name, sizeof(one.name), "%s", victim);
                struct ksim_response scratch = {0};
                handle_delete(k, &one, &scratch);
                ksim_response_free(&scratch);
            }
            ks_reply(r, 200,
                     json_pack("{s:s, s:s, s:{}, s:s}", "kind", "Status", "apiVersion", "v1",
                               "metadata", "status", "Success"));
        } else {
            ks_reply_status(r, 405, "MethodNotAllowed", NULL, NULL,
                            "the server does not allow this method on the requested resource");
        }
        return;
    }
    if (!strcmp(m, "GET")) {
        json_t *obj = ks_lookup(k, rq->rt, rq->ns, rq->name);
        if (!obj) {
            ks_reply_not_found(r, rq->rt, rq->name);
        } else if (ks_wants_table(rq->accept) && !*rq->sub) {
            json_t *one = json_pack("[O]", obj);
            ks_reply(r, 200, ks_to_table(k, rq->rt, one));
            json_decref(one);
        } else {
            ks_reply(r, 200, json_incref(obj));
        }
    } else if (!strcmp(m, "PUT")) {
        json_t *obj;
        struct error e = {0};
        if (ks_parse_body(rq->ct, rq->body, rq->body_len, &obj, &e)) {
            ks_reply_status(r, 400, "BadRequest", NULL, NULL, "%s", e.message);
            return;
        }
        handle_update(k, rq, obj, r);
        json_decref(obj);
    } else if (!strcmp(m, "PATCH")) {
        handle_patch(k, rq, r);
    } else if (!strcmp(m, "DELETE")) {
        handle_delete(k, rq, r);
    } else {
        ks_reply_status(r, 405, "MethodNotAllowed", NULL, NULL,
                        "the server does not allow this method on the requested resource");
    }
}
