/* The object store: keys, lookup, resource versions, names and uids, create/update/delete with
 * owner-reference cascade and finalizers, and the small JSON helpers they share. */
#include "kubesim/sim_internal.h"

#include "common/util.h"

static int64_t mono_ms(void)
{
    return time_mono_ms();
}

void ks_now_rfc3339(char *buf)
{
    time_format_rfc3339(time_now(), buf);
}

void ks_rt_key(const struct rtype *rt, char *buf, size_t len)
{
    snprintf(buf, len, "%s.%s", rt->resource, rt->group);
}

void ks_obj_key(const char *ns, const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", ns ? ns : "", name);
}

const char *ks_api_version(const struct rtype *rt, char *buf, size_t len)
{
    if (!*rt->group)
        return rt->version;
    snprintf(buf, len, "%s/%s", rt->group, rt->version);
    return buf;
}

const struct rtype *ks_find_rtype(const char *group, const char *version, const char *res)
{
    for (size_t i = 0; i < NRTYPES; i++)
        if (!strcmp(rtypes[i].group, group) && !strcmp(rtypes[i].version, version) &&
            !strcmp(rtypes[i].resource, res))
            return &rtypes[i];
    return NULL;
}

const struct rtype *ks_rtype_by_name(const char *res)
{
    for (size_t i = 0; i < NRTYPES; i++)
        if (!strcmp(rtypes[i].resource, res))
            return &rtypes[i];
    return NULL;
}

json_t *ks_bucket(struct ksim *k, const struct rtype *rt)
{
    char key[160];
    ks_rt_key(rt, key, sizeof(key));
    json_t *b = json_object_get(k->store, key);
    if (!b) {
        b = json_object();
        json_object_set_new(k->store, key, b);
    }
    return b;
}

json_t *ks_meta(json_t *obj)
{
    json_t *m = json_object_get(obj, "metadata");
    if (!json_is_object(m)) {
        m = json_object();
        json_object_set_new(obj, "metadata", m);
    }
    return m;
}

const char *ks_mstr(json_t *obj, const char *field)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), field));
}

json_t *ks_lookup(struct ksim *k, const struct rtype *rt, const char *ns, const char *name)
{
    char key[400];
    ks_obj_key(rt->namespaced ? ns : "", name, key, sizeof(key));
    return json_object_get(ks_bucket(k, rt), key);
}

void ks_set_rv(struct ksim *k, json_t *obj)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%llu", (unsigned long long)++k->rv);
    json_object_set_new(ks_meta(obj), "resourceVersion", json_string(buf));
}

void ks_add_task(struct ksim *k, enum task_type type, const char *ns, const char *name,
                 int delay_ms)
{
    if (ARRAY_GROW(k->tasks, k->cap_tasks, k->ntasks + 1, 64) < 0)
        return;
    struct task *t = &k->tasks[k->ntasks++];
    t->type = type;
    t->due = mono_ms() + (delay_ms > 0 ? delay_ms : 0);
    snprintf(t->ns, sizeof(t->ns), "%s", ns ? ns : "");
    snprintf(t->name, sizeof(t->name), "%s", name);
}

static int valid_dns_name(const char *s, int label_only)
{
    size_t n = strlen(s);
    if (!n || n > (label_only ? 63u : 253u))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                 (!label_only && c == '.');
        if (!ok)
            return 0;
    }
    return s[0] != '-' && s[n - 1] != '-' && s[0] != '.' && s[n - 1] != '.';
}

static void gen_uid(struct ksim *k, char *buf)
{
    uint64_t c = ++k->uid_counter;
    unsigned r1 = (unsigned)rand_r(&k->rng), r2 = (unsigned)rand_r(&k->rng);
    snprintf(buf, 37, "%08x-%04x-4%03x-8%03x-%012llx", r1, r2 & 0xffff, (r2 >> 16) & 0xfff,
             r1 & 0xfff, (unsigned long long)c);
}

void ks_rand_suffix(struct ksim *k, char *buf, int n)
{
    static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    for (int i = 0; i < n; i++)
        buf[i] = alphabet[rand_r(&k->rng) % (sizeof(alphabet) - 1)];
    buf[n] = '\0';
}

/* Non-metadata, non-status content changed? (generation bump) */
static int spec_changed(json_t *a, json_t *b)
{
    json_t *ca = json_copy(a), *cb = json_copy(b);
    const char *drop[] = {"metadata", "status", "apiVersion", "kind"};
    for (size_t i = 0; i < 4; i++) {
        json_object_del(ca, drop[i]);
        json_object_del(cb, drop[i]);
    }
    int eq = json_equal(ca, cb);
    json_decref(ca);
    json_decref(cb);
    return !eq;
}

/* RFC 7386 merge patch; strategic-merge directives ($patch, $setElementOrder...) dropped. */
void ks_merge_patch(json_t *target, json_t *patch, int null_deletes)
{
    const char *key;
    json_t *pv;
    json_object_foreach(patch, key, pv)
    {
        if (key[0] == '$')
            continue;
        if (json_is_null(pv) && null_deletes) {
            json_object_del(target, key);
            continue;
        }
        json_t *tv = json_object_get(target, key);
        if (json_is_object(pv) && json_is_object(tv)) {
            ks_merge_patch(tv, pv, null_deletes);
        } else if (json_is_object(pv)) {
            json_t *n = json_object();
            ks_merge_patch(n, pv, null_deletes);
            json_object_set_new(target, key, n);
        } else {
            json_object_set(target, key, pv);
        }
    }
}

int ks_parse_body(const char *ct, const char *body, size_t len, json_t **ret, struct error *err)
{
    if (!body || !len)
        return error_set(err, ERR_INVALID, "", "request body is empty");
    json_error_t jerr;
    json_t *v = json_loadb(body, len, 0, &jerr);
    if (!v) {
        if (ct && strstr(ct, "json") && !strstr(ct, "yaml"))
            return error_set(err, ERR_INVALID, "",
                             "couldn't get version/kind; json parse error: %s", jerr.text);
        int rc = yaml_to_json(body, len, "request body", &v, err);
        if (rc)
            return rc;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        return error_set(err, ERR_INVALID, "", "Object 'Kind' is missing in request body");
    }
    *ret = v;
    return 0;
}

int ks_ns_terminating(json_t *ns)
{
    const char *phase = json_string_value(json_object_get(json_object_get(ns, "status"), "phase"));
    return phase && !strcmp(phase, "Terminating");
}

/* Creates obj (owned by the caller, copied on success). On success replies 201 when r. */
/* Admission of a create made for a request (r set; the double's own creations are not
 * admitted): ks_admit, with its refusal's message copied to errmsg. */
static int admit_create(struct ksim *k, const struct rtype *rt, const char *ns, json_t *obj,
                        struct ksim_response *r, char *errmsg, size_t errlen)
{
    json_object_set_new(ks_meta(obj), "namespace", json_string(ns));
    if (!*ns)
        json_object_del(ks_meta(obj), "namespace");
    if (!ks_admit(k, rt, ns, "CREATE", obj, NULL, r))
        return 0;
    if (errmsg && r->body) {
        json_t *st = json_loads(r->body, 0, NULL);
        snprintf(errmsg, errlen, "%s",
                 json_string_value(json_object_get(st, "message")) ?: "refused by admission");
        json_decref(st);
    }
    return -1;
}

int ks_do_create(struct ksim *k, const struct rtype *rt, const char *ns, json_t *obj,
                 struct ksim_response *r, char *errmsg, size_t errlen)
{
    if (ks_check_type_meta(rt, obj, r) || ks_validate(k, rt, obj, r))
        return -1;
    json_t *m = ks_meta(obj);
    const char *ons = json_string_value(json_object_get(m, "namespace"));
    if (rt->namespaced) {
        if (ons && *ons && strcmp(ons, ns)) {
            ks_reply_status(
                r, 400, "BadRequest", NULL, NULL,
                "the namespace of the provided object does not match the namespace sent "
                "on the request");
            return -1;
        }
        json_object_set_new(m, "namespace", json_string(ns));
    } else {
        json_object_del(m, "namespace");
    }
    const char *name = json_string_value(json_object_get(m, "name"));
    const char *gen = json_string_value(json_object_get(m, "generateName"));
    char namebuf[MAX_NAME + 1];
    if ((!name || !*name) && gen && *gen) {
        char suf[8];
        ks_rand_suffix(k, suf, 5);
        snprintf(namebuf, sizeof(namebuf), "%.*s%s", 58, gen, suf);
        json_object_set_new(m, "name", json_string(namebuf));
        name = json_string_value(json_object_get(m, "name"));
    }
    if (!name || !*name) {
        ks_reply_invalid(r, rt, "", "metadata.name", "Required value",
                         "name or generateName is required");
        return -1;
    }
    if (!valid_dns_name(name,
                        !strcmp(rt->resource, "namespaces") || !strcmp(rt->resource, "services"))) {
        if (strcmp(rt->resource, "rolebindings") && strcmp(rt->resource, "clusterrolebindings") &&
            strcmp(rt->resource, "clusterroles") && strcmp(rt->resource, "roles")) {
            char d[400];
            snprintf(d, sizeof(d),
                     "a lowercase RFC 1123 %s must consist of lower case alphanumeric characters, "
                     "'-' or '.', and must start and end with an alphanumeric character",
                     strcmp(rt->resource, "namespaces") ? "subdomain" : "label");
            char val[300];
            snprintf(val, sizeof(val), "Invalid value: \"%s\"", name);
            ks_reply_invalid(r, rt, name, "metadata.name", val, d);
            return -1;
        }
    }
    char nsname[64] = "";
    if (!rt->namespaced) {
        ks_apply_defaults(rt, obj);
        if (r && admit_create(k, rt, "", obj, r, errmsg, errlen))
            return -1;
    }
    if (rt->namespaced) {
        snprintf(nsname, sizeof(nsname), "%s", ns);
        json_t *nso = ks_lookup(k, &rtypes[0], "", ns);
        if (!nso) {
            ks_reply_not_found(r, &rtypes[0], ns);
            return -1;
        }
        if (ks_ns_terminating(nso)) {
            char q[160];
            ks_reply_status(r, 403, "Forbidden", name, rt,
                            "%s \"%s\" is forbidden: unable to create new content in namespace %s "
                            "because it is being terminated",
                            ks_qualified(rt, q, sizeof(q)), name, ns);
            return -1;
        }
        if (!strcmp(rt->resource, "pods"))
            ks_limitrange_default(k, ns, obj);
        ks_apply_defaults(rt, obj);
        if (r && admit_create(k, rt, ns, obj, r, errmsg, errlen))
            return -1;
        char msg[900];
        if (ks_quota_admit(k, rt, ns, obj, msg, sizeof(msg))) {
            char q[160];
            if (errmsg)
                snprintf(errmsg, errlen, "%s \"%s\" is forbidden: %s",
                         ks_qualified(rt, q, sizeof(q)), name, msg);
            ks_reply_status(r, 403, "Forbidden", name, rt, "%s \"%s\" is forbidden: %s",
                            ks_qualified(rt, q, sizeof(q)), name, msg);
            return -1;
        }
    }
    if (ks_lookup(k, rt, ns, name)) {
        char q[160];
        ks_reply_status(r, 409, "AlreadyExists", name, rt, "%s \"%s\" already exists",
                        ks_qualified(rt, q, sizeof(q)), name);
        return -1;
    }
    json_t *stored = json_deep_copy(obj);
    m = ks_meta(stored);
    char uid[40], ts[RFC3339_LEN];
    gen_uid(k, uid);
    ks_now_rfc3339(ts);
    json_object_set_new(m, "uid", json_string(uid));
    json_object_set_new(m, "creationTimestamp", json_string(ts));
    json_object_del(m, "deletionTimestamp");
    json_object_del(m, "managedFields");
    if (rt->has_status || !strcmp(rt->resource, "deployments") || json_object_get(stored, "spec"))
        json_object_set_new(m, "generation", json_integer(1));
    if (!strcmp(rt->resource, "namespaces")) {
        json_object_set_new(stored, "spec", json_pack("{s:[s]}", "finalizers", "kubernetes"));
        json_object_set_new(stored, "status", json_pack("{s:s}", "phase", "Active"));
        json_t *labels = json_object_get(m, "labels");
        if (!json_is_object(labels)) {
            labels = json_object();
            json_object_set_new(m, "labels", labels);
        }
        json_object_set_new(labels, "kubernetes.io/metadata.name", json_string(name));
    }
    if (rt->has_status && strcmp(rt->resource, "namespaces") && strcmp(rt->resource, "nodes") &&
        strcmp(rt->resource, "pods"))
        json_object_del(stored, "status");
    ks_set_rv(k, stored);
    char key[400];
    ks_obj_key(nsname, name, key, sizeof(key));
    json_object_set_new(ks_bucket(k, rt), key, stored);
    ks_emit(k, rt, nsname, "ADDED", stored);
    ks_after_write(k, rt, nsname, stored, 1);
    if (r)
        ks_reply(r, 201, json_incref(stored));
    return 0;
}

/* Cascading delete of objects owned by uid in ns. */
static void delete_dependents(struct ksim *k, const char *ns, const char *uid)
{
    for (size_t t = 0; t < NRTYPES; t++) {
        if (!rtypes[t].namespaced)
            continue;
        const char *key;
        json_t *obj;
        void *tmp;
        char names[64][MAX_NAME + 1];
        int n = 0;
        json_object_foreach_safe(ks_bucket(k, &rtypes[t]), tmp, key, obj)
        {
            const char *ons = ks_mstr(obj, "namespace");
            if (!ons || strcmp(ons, ns))
                continue;
            size_t i;
            json_t *ref;
            json_array_foreach(json_object_get(ks_meta(obj), "ownerReferences"), i, ref)
            {
                const char *ru = json_string_value(json_object_get(ref, "uid"));
                if (ru && !strcmp(ru, uid) && n < 64) {
                    snprintf(names[n++], MAX_NAME + 1, "%s", ks_mstr(obj, "name"));
                    break;
                }
            }
        }
        for (int i = 0; i < n; i++) {
            if (!strcmp(rtypes[t].resource, "pods"))
                ks_pod_delete(k, ns, names[i], -1);
            else
                ks_remove_object(k, &rtypes[t], ns, names[i]);
        }
    }
}

void ks_remove_object(struct ksim *k, const struct rtype *rt, const char *ns, const char *name)
{
    char key[400];
    ks_obj_key(rt->namespaced ? ns : "", name, key, sizeof(key));
    json_t *obj = json_object_get(ks_bucket(k, rt), key);
    if (!obj)
        return;
    json_incref(obj);
    json_object_del(ks_bucket(k, rt), key);
    ks_set_rv(k, obj);
    ks_emit(k, rt, ns, "DELETED", obj);
    char uid[64];
    snprintf(uid, sizeof(uid), "%s", ks_mstr(obj, "uid") ? ks_mstr(obj, "uid") : "");
    if (rt->namespaced && *uid)
        delete_dependents(k, ns, uid);
    if (rt->namespaced) {
        if (ks_quota_tracks(rt->resource))
            ks_quota_refresh(k, ns, NULL, 0);
        json_t *owners = json_object_get(ks_meta(obj), "ownerReferences");
        size_t i;
        json_t *ref;
        json_array_foreach(owners, i, ref)
        {
            const char *kind = json_string_value(json_object_get(ref, "kind"));
            const char *oname = json_string_value(json_object_get(ref, "name"));
            if (kind && oname && !strcmp(kind, "Deployment"))
                ks_add_task(k, T_DEPLOY, ns, oname, 0);
        }
    }
    json_decref(obj);
}

int ks_has_finalizers(json_t *obj)
{
    return json_array_size(json_object_get(ks_meta(obj), "finalizers")) > 0;
}

/* Stores new version nw (a new reference the function takes) over old. */
void ks_store_update(struct ksim *k, const struct rtype *rt, const char *ns, json_t *old,
                     json_t *nw)
{
    ks_apply_defaults(rt, nw);
    json_t *m = ks_meta(nw), *om = ks_meta(old);
    const char *keep[] = {"uid", "creationTimestamp", "deletionTimestamp", "generation"};
    for (size_t i = 0; i < 4; i++) {
        json_t *v = json_object_get(om, keep[i]);
        if (v)
            json_object_set(m, keep[i], v);
        else
            json_object_del(m, keep[i]);
    }
    json_object_del(m, "managedFields");
    if (rt->namespaced)
        json_object_set_new(m, "namespace", json_string(ns));
    if (spec_changed(old, nw) && json_object_get(om, "generation"))
        json_object_set_new(
            m, "generation",
            json_integer(json_integer_value(json_object_get(om, "generation")) + 1));
    if (json_equal(old, nw) ||
        (json_object_set(m, "resourceVersion", json_object_get(om, "resourceVersion")),
         json_equal(old, nw))) {
        json_decref(nw);
        return; /* no-op write keeps the resourceVersion */
    }
    ks_set_rv(k, nw);
    char key[400];
    const char *name = ks_mstr(nw, "name");
    ks_obj_key(rt->namespaced ? ns : "", name, key, sizeof(key));
    json_object_set_new(ks_bucket(k, rt), key, nw);
    if (json_object_get(m, "deletionTimestamp") && !ks_has_finalizers(nw) &&
        strcmp(rt->resource, "namespaces")) {
        ks_remove_object(k, rt, ns, name);
        return;
    }
    ks_emit(k, rt, ns, "MODIFIED", nw);
    ks_after_write(k, rt, ns, nw, 0);
}
