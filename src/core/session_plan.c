/* The session plan: reservation + configuration + pool -> ordered desired objects.
 * See session_plan.h for the order and the rules carried by each object. */
#include "core/session_plan.h"

#include "core/gate_conf.h"
#include "core/session_serve.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Ceilings on what a tenant may create inside a session, besides the booked resources. */
_Static_assert(sizeof(((struct session_object *)0)->namespace_) ==
                   sizeof(((struct session_plan *)0)->namespace_),
               "namespace buffers differ");

#define SESSION_MAX_PODS 20
#define SESSION_MAX_PVCS 8
#define SESSION_MAX_COMMAND_WORDS 32
/* The workspace of an inference session is small: the booked capacity is for the servers
 * the user deploys. An interactive workspace takes half of the booked cpu and memory (at
 * least the inference size), so that the other GPU slots of the booking can still run pods. */
#define INFERENCE_WORKSPACE_CPU 1
#define INFERENCE_WORKSPACE_MEMORY_GIB 4
/* LimitRange defaults for containers that state nothing. */
#define DEFAULT_CONTAINER_CPU_MILLI 500
#define DEFAULT_CONTAINER_MEMORY_GIB 1
#define DEFAULT_LIMIT_CPU 2
#define DEFAULT_LIMIT_MEMORY_GIB 8
#define DEFAULT_LIMIT_EPHEMERAL_GIB 10
#define DEFAULT_CONTAINER_EPHEMERAL_GIB 1
/* Home and cache mount points in the workspace. */
#define HOME_MOUNT "/home/workspace"
#define CACHE_MOUNT "/cache"
/* The node cache's store as sessions see it. The name index (names/<name> -> symlink
 * ../blobs/sha256/<hex>, see src/cache/cache_store.h) is mounted beside the blobs it points
 * into, so that the relative links resolve; temporaries and the index file stay hidden. */
#define STORE_NAMES_DIR "names"
#define STORE_BLOBS_DIR "blobs"
/* The read-only models claim requests a nominal size; the quota adds it on top of the booked
 * storage so that the tenant keeps all of it. */
#define MODELS_REQUEST_GIB 1
#define CACHE_ENV_MAX 16
#define CACHE_ENV_VALUE_MAX 1024
/* The sign-in proxy's share, added to the quota on top of the booking (requests = limits),
 * its configuration and its only writable directory (an emptyDir: the root is read-only). */
#define GATE_CPU_MILLI 100
#define GATE_MEMORY_MIB 64
#define GATE_EPHEMERAL_MIB 128 /* its emptyDir (GATE_TMP_SIZE) and the container's logs */
#define GATE_TMP_SIZE "64Mi"
#define GATE_CONFIG_DIR "/etc/gpuaas-gate"
#define GATE_TMP_VOLUME "gate-tmp"
#define GATE_CONFIG_VOLUME "gate-config"
/* UID/GID used on plain Kubernetes (OpenShift assigns one from the namespace range). */
#define KUBERNETES_RUN_AS 1000

static const char *const stage_names[STAGE__COUNT] = {"namespace", "quota",    "isolation",
                                                      "identity",  "workload", "access"};

const char *session_stage_name(enum session_stage s)
{
    return (unsigned)s < STAGE__COUNT ? stage_names[s] : "unknown";
}

static bool is_openshift(const struct config *c)
{
    return c->reconciler.platform && !strcmp(c->reconciler.platform, "openshift");
}

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

/* ---- names ---- */

static bool dns1123_label(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-';
        if (!ok)
            return false;
    }
    return s[0] != '-' && s[n - 1] != '-';
}

int session_namespace_name(const struct config *c, int64_t id, char *buf, size_t n,
                           struct error *err)
{
    char tmp[128];
    if (id <= 0)
        return error_set(err, ERR_INVALID, "id", "reservation id must be positive, got %" PRId64,
                         id);
    snprintf(tmp, sizeof(tmp), "%s%" PRId64, str_or_empty(c->reconciler.namespace_prefix), id);
    if (!dns1123_label(tmp))
        return error_set(err, ERR_INVALID, "reconciler.namespace_prefix",
                         "namespace \"%s\" is not a valid DNS-1123 label (lowercase letters, "
                         "digits and '-', at most 63 characters)",
                         tmp);
    if (strlen(tmp) >= n)
        return error_set(err, ERR_INVALID, "reconciler.namespace_prefix",
                         "namespace \"%s\" is too long", tmp);
    memcpy(buf, tmp, strlen(tmp) + 1);
    return 0;
}

int session_url(const struct config *c, const char *ns, char *buf, size_t n)
{
    int w = snprintf(buf, n, "https://%s.%s/", ns, str_or_empty(c->reconciler.ingress_domain));
    if (w < 0 || (size_t)w >= n)
        return -ERR_INVALID;
    return 0;
}

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

static bool label_char(char ch)
{
    return isalnum((unsigned char)ch) || ch == '-' || ch == '_' || ch == '.';
}

void session_user_label(const char *user, char *buf, size_t n)
{
    char out[64];
    size_t len = 0;
    bool changed = false;
    if (n == 0)
        return;
    if (!user || !*user) {
        snprintf(buf, n, "unknown");
        return;
    }
    for (const char *p = user; *p && len < sizeof(out) - 1; p++) {
        char ch = (char)(unsigned char)*p;
        if ((unsigned char)ch >= 0x80 || !label_char(ch)) {
            ch = '-';
            changed = true;
        }
        out[len++] = ch;
    }
    if (strlen(user) > len)
        changed = true;
    out[len] = '\0';
    if (changed) {
        /* keep room for "-xxxxxxxx" so distinct names stay distinct */
        if (len > 54)
            len = 54;
        out[len] = '\0';
        snprintf(out + len, sizeof(out) - len, "-%08" PRIx32, fnv1a(user));
        len = strlen(out);
    }
    /* label values must start and end with an alphanumeric character */
    size_t start = 0;
    while (start < len && !isalnum((unsigned char)out[start]))
        start++;
    while (len > start && !isalnum((unsigned char)out[len - 1]))
        len--;
    out[len] = '\0';
    if (start == len)
        snprintf(buf, n, "unknown");
    else
        snprintf(buf, n, "%s", out + start);
}

/* ---- small JSON helpers ---- */

static json_t *qty_int(long v)
{
    char b[32];
    snprintf(b, sizeof(b), "%ld", v);
    return json_string(b);
}

static json_t *qty_gi(long gib)
{
    char b[32];
    snprintf(b, sizeof(b), "%ldGi", gib);
    return json_string(b);
}

static json_t *qty_mi(long mib)
{
    char b[32];
    if (mib % 1024 == 0)
        snprintf(b, sizeof(b), "%ldGi", mib / 1024);
    else
        snprintf(b, sizeof(b), "%ldMi", mib);
    return json_string(b);
}

static json_t *qty_milli(long milli)
{
    char b[32];
    if (milli % 1000 == 0)
        snprintf(b, sizeof(b), "%ld", milli / 1000);
    else
        snprintf(b, sizeof(b), "%ldm", milli);
    return json_string(b);
}

static json_t *labels(const struct session_plan *plan, int64_t id)
{
    char idb[32];
    snprintf(idb, sizeof(idb), "%" PRId64, id);
    return json_pack("{s:s, s:s, s:s}", SESSION_LABEL_MANAGED_BY, SESSION_MANAGED_BY,
                     SESSION_LABEL_RESERVATION, idb, SESSION_LABEL_USER, plan->user_label);
}

static json_t *metadata(const struct session_plan *plan, int64_t id, const char *name,
                        bool namespaced)
{
    json_t *m = json_pack("{s:s, s:o}", "name", name, "labels", labels(plan, id));
    if (m && namespaced)
        json_object_set_new(m, "namespace", json_string(plan->namespace_));
    return m;
}

struct builder {
    struct session_plan *plan;
    const struct reservation *r;
    const struct config *c;
    const struct pool *p;
    struct error *err;
    int rc;
};

/* Appends one object; takes ownership of `spec_fields` (an object whose members are merged at
 * the top level beside apiVersion/kind/metadata). */
static struct session_object *add(struct builder *b, const char *step, enum session_stage stage,
                                  const char *group, const char *version, const char *kind,
                                  const char *resource, const char *name, json_t *body)
{
    struct session_plan *plan = b->plan;
    bool namespaced = strcmp(kind, "Namespace") != 0 && strcmp(kind, "PersistentVolume") != 0;
    if (b->rc) {
        json_decref(body);
        return NULL;
    }
    if (!body || plan->n >= SESSION_PLAN_MAX) {
        json_decref(body);
        if (body)
            b->rc = error_set(b->err, ERR_INTERNAL, step, "session plan has more than %d objects",
                              SESSION_PLAN_MAX);
        else
            b->rc = error_set(b->err, ERR_INVALID, step,
                              "cannot build the object (out of memory, or a configured value "
                              "or the user name is not valid UTF-8)");
        return NULL;
    }
    struct session_object *o = &plan->objs[plan->n];
    memset(o, 0, sizeof(*o));
    snprintf(o->step, sizeof(o->step), "%s", step);
    o->stage = stage;
    snprintf(o->group, sizeof(o->group), "%s", group);
    snprintf(o->version, sizeof(o->version), "%s", version);
    if (*group)
        snprintf(o->api_version, sizeof(o->api_version), "%s/%s", group, version);
    else
        snprintf(o->api_version, sizeof(o->api_version), "%s", version);
    snprintf(o->kind, sizeof(o->kind), "%s", kind);
    snprintf(o->resource, sizeof(o->resource), "%s", resource);
    if (namespaced)
        memcpy(o->namespace_, plan->namespace_, sizeof(o->namespace_));
    snprintf(o->name, sizeof(o->name), "%s", name);

    json_t *obj = json_pack("{s:s, s:s, s:o}", "apiVersion", o->api_version, "kind", kind,
                            "metadata", metadata(plan, b->r->id, name, namespaced));
    if (!obj || json_object_update(obj, body)) {
        json_decref(obj);
        json_decref(body);
        b->rc = error_set(b->err, ERR_NOMEM, step, "out of memory");
        return NULL;
    }
    json_decref(body);
    o->obj = obj;
    plan->n++;
    return o;
}

/* Splits shell-like words: whitespace separates, '...' and "..." group, \ escapes. */
static json_t *split_words(const char *s, struct error *err)
{
    json_t *arr = json_array();
    char word[1024];
    size_t len = 0;
    bool in_word = false;
    char quote = 0;
    if (!arr) {
        error_set(err, ERR_NOMEM, "reconciler.workspace_command", "out of memory");
        return NULL;
    }
    for (const char *p = s;; p++) {
        char ch = *p;
        bool end = ch == '\0';
        if (!end && quote) {
            if (ch == quote) {
                quote = 0;
                continue;
            }
            if (ch == '\\' && quote == '"' && p[1]) {
                ch = *++p;
            }
        } else if (!end && (ch == '\'' || ch == '"')) {
            quote = ch;
            in_word = true;
            continue;
        } else if (!end && ch == '\\' && p[1]) {
            ch = *++p;
        } else if (end || isspace((unsigned char)ch)) {
            if (in_word) {
                word[len] = '\0';
                if (json_array_size(arr) >= SESSION_MAX_COMMAND_WORDS ||
                    json_array_append_new(arr, json_string(word))) {
                    error_set(err, ERR_INVALID, "reconciler.workspace_command",
                              "more than %d words or invalid UTF-8", SESSION_MAX_COMMAND_WORDS);
                    json_decref(arr);
                    return NULL;
                }
                len = 0;
                in_word = false;
            }
            if (end)
                break;
            continue;
        }
        if (end) {
            break;
        }
        if (len + 1 >= sizeof(word)) {
            error_set(err, ERR_INVALID, "reconciler.workspace_command",
                      "a word is longer than %zu characters", sizeof(word) - 1);
            json_decref(arr);
            return NULL;
        }
        word[len++] = ch;
        in_word = true;
    }
    if (quote) {
        error_set(err, ERR_INVALID, "reconciler.workspace_command", "unterminated %c quote", quote);
        json_decref(arr);
        return NULL;
    }
    return arr;
}

/* ---- the objects ---- */

static void add_namespace(struct builder *b)
{
    json_t *body = json_object();
    struct session_object *o = add(b, "namespace", STAGE_NAMESPACE, "", "v1", "Namespace",
                                   "namespaces", b->plan->namespace_, body);
    if (!o)
        return;
    o->create_or_get = true;
    if (!is_openshift(b->c)) {
        /* plain Kubernetes: Pod Security Admission stands in for OpenShift's restricted-v2
         * SCC: restricted refuses root, added capabilities, privilege escalation, host
         * namespaces and hostPath (the workspace meets it). The tenant cannot change the
         * labels: its role only reads namespaces. */
        json_t *l = json_object_get(json_object_get(o->obj, "metadata"), "labels");
        json_object_set_new(l, "pod-security.kubernetes.io/enforce", json_string("restricted"));
        json_object_set_new(l, "pod-security.kubernetes.io/audit", json_string("restricted"));
        json_object_set_new(l, "pod-security.kubernetes.io/warn", json_string("restricted"));
    }
}

static void add_quota(struct builder *b, long cpu, long mem, long storage)
{
    const struct reservation *r = b->r;
    /* the read-only models claim counts against the quota: add it on top */
    bool models = b->c->cache.enabled;
    /* so does the sign-in proxy: the tenant keeps all the booked cpu and memory */
    long cpu_m = cpu * 1000 + GATE_CPU_MILLI, mem_mi = mem * 1024 + GATE_MEMORY_MIB;
    json_t *hard = json_pack(
        "{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:s}", "requests.cpu", qty_milli(cpu_m),
        "limits.cpu", qty_milli(cpu_m), "requests.memory", qty_mi(mem_mi), "limits.memory",
        qty_mi(mem_mi), "requests.storage", qty_gi(storage + (models ? MODELS_REQUEST_GIB : 0)),
        "persistentvolumeclaims", qty_int(SESSION_MAX_PVCS + (models ? 1 : 0)), "pods",
        qty_int(SESSION_MAX_PODS), "services.loadbalancers", "0", "services.nodeports", "0");
    /* node-local disk: without it emptyDir and container layers fill the node and evict other
     * tenants. Pods that state nothing get the LimitRange's default, so they count too. */
    if (hard) {
        /* the sign-in proxy's share on top, as for cpu and memory */
        long eph_mi = b->c->session.ephemeral_gib * 1024 + GATE_EPHEMERAL_MIB;
        json_object_set_new(hard, "requests.ephemeral-storage", qty_mi(eph_mi));
        json_object_set_new(hard, "limits.ephemeral-storage", qty_mi(eph_mi));
    }
    for (int i = 0; hard && i < b->p->n; i++) {
        const struct pool_resource *pr = &b->p->res[i];
        char key[128];
        if (!pool_is_gpu(pr))
            continue;
        long v = strcmp(pr->name, r->gpu_type) ? 0 : (long)r->gpu_count * pr->slots_per_unit;
        snprintf(key, sizeof(key), "requests.%s", pr->name);
        json_object_set_new(hard, key, qty_int(v));
    }
    struct session_object *o =
        add(b, "resourcequota", STAGE_QUOTA, "", "v1", "ResourceQuota", "resourcequotas",
            SESSION_QUOTA_NAME, json_pack("{s:{s:o}}", "spec", "hard", hard));
    if (o)
        o->wait_quota_status = true;
}

static void add_limitrange(struct builder *b, long cpu, long mem, long storage)
{
    long eph = b->c->session.ephemeral_gib;
    long def_eph = eph < DEFAULT_LIMIT_EPHEMERAL_GIB ? eph : DEFAULT_LIMIT_EPHEMERAL_GIB;
    long def_cpu = cpu < DEFAULT_LIMIT_CPU ? cpu : DEFAULT_LIMIT_CPU;
    long def_mem = mem < DEFAULT_LIMIT_MEMORY_GIB ? mem : DEFAULT_LIMIT_MEMORY_GIB;
    long req_cpu_m =
        def_cpu * 1000 < DEFAULT_CONTAINER_CPU_MILLI ? def_cpu * 1000 : DEFAULT_CONTAINER_CPU_MILLI;
    long req_mem = def_mem < DEFAULT_CONTAINER_MEMORY_GIB ? def_mem : DEFAULT_CONTAINER_MEMORY_GIB;
    json_t *body =
        json_pack("{s:{s:[{s:s, s:{s:o, s:o, s:o}, s:{s:o, s:o, s:o}, s:{s:o, s:o, s:o}}, "
                  "{s:s, s:{s:o}}]}}",
                  "spec", "limits", "type", "Container", "default", "cpu", qty_int(def_cpu),
                  "memory", qty_gi(def_mem), "ephemeral-storage", qty_gi(def_eph), "defaultRequest",
                  "cpu", qty_milli(req_cpu_m), "memory", qty_gi(req_mem), "ephemeral-storage",
                  qty_gi(DEFAULT_CONTAINER_EPHEMERAL_GIB), "max", "cpu", qty_int(cpu), "memory",
                  qty_gi(mem), "ephemeral-storage", qty_gi(eph), "type", "PersistentVolumeClaim",
                  "max", "storage", qty_gi(storage));
    add(b, "limitrange", STAGE_QUOTA, "", "v1", "LimitRange", "limitranges",
        SESSION_LIMITRANGE_NAME, body);
}

static json_t *workspace_selector(void)
{
    return json_pack("{s:s}", "app.kubernetes.io/name", SESSION_WORKSPACE_NAME);
}

/* ---- session egress: CIDR lists from the configuration ---- */

#define EGRESS_MAX 16

struct cidr {
    int family; /* 4 or 6 */
    unsigned char addr[16];
    int bits;
    long port; /* egress_proxy only */
    char text[64];
};

struct cidr_list {
    struct cidr v[EGRESS_MAX];
    int n;
};

/* "ADDR/BITS" with no host bits set, as the NetworkPolicy API validates ipBlock.cidr. */
static int parse_cidr(const char *s, size_t n, struct cidr *c)
{
    char buf[64];
    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    snprintf(c->text, sizeof(c->text), "%s", buf);
    char *slash = strchr(buf, '/');
    if (!slash || !slash[1] || strlen(slash + 1) > 3)
        return -1;
    *slash = '\0';
    int bits = 0;
    for (const char *p = slash + 1; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return -1;
        bits = bits * 10 + (*p - '0');
    }
    memset(c->addr, 0, sizeof(c->addr));
    int max;
    if (inet_pton(AF_INET, buf, c->addr) == 1) {
        c->family = 4;
        max = 32;
    } else if (inet_pton(AF_INET6, buf, c->addr) == 1) {
        c->family = 6;
        max = 128;
    } else {
        return -1;
    }
    if (bits > max)
        return -1;
    c->bits = bits;
    for (int i = bits; i < max; i++)
        if (c->addr[i / 8] & (0x80 >> (i % 8)))
            return -1;
    return 0;
}

/* True when inner is a strictly smaller block inside outer (what ipBlock.except admits). */
static bool cidr_inside(const struct cidr *outer, const struct cidr *inner)
{
    if (outer->family != inner->family || inner->bits <= outer->bits)
        return false;
    for (int i = 0; i < outer->bits; i++) {
        unsigned char m = (unsigned char)(0x80 >> (i % 8));
        if ((outer->addr[i / 8] & m) != (inner->addr[i / 8] & m))
            return false;
    }
    return true;
}

/* Parses a comma-separated list of CIDRs (with_port: "CIDR:PORT" items). */
static int parse_cidr_list(const char *key, const char *list, bool with_port, struct cidr_list *out,
                           struct error *err)
{
    const char *p = list ? list : "";
    out->n = 0;
    while (*p) {
        size_t len = strcspn(p, ",");
        const char *b = p, *e = p + len;
        while (b < e && isspace((unsigned char)*b))
            b++;
        while (e > b && isspace((unsigned char)e[-1]))
            e--;
        if (e > b) {
            struct cidr *c = &out->v[out->n];
            const char *ce = e;
            long port = 0;
            if (out->n >= EGRESS_MAX)
                return error_set(err, ERR_INVALID, key, "%s: more than %d entries", key,
                                 EGRESS_MAX);
            if (with_port) {
                const char *colon = e;
                while (colon > b && colon[-1] != ':')
                    colon--;
                if (colon == b || colon == e)
                    goto bad;
                for (const char *q = colon; q < e; q++) {
                    if (!isdigit((unsigned char)*q) || port > 65535)
                        goto bad;
                    port = port * 10 + (*q - '0');
                }
                if (port < 1 || port > 65535)
                    goto bad;
                ce = colon - 1;
            }
            if (parse_cidr(b, (size_t)(ce - b), c))
                goto bad;
            c->port = port;
            out->n++;
        }
        p = *e ? e + 1 : e;
        continue;
    bad:
        return error_set(err, ERR_INVALID, key,
                         "%s: \"%.*s\" is not %s (an address with its prefix length and no host "
                         "bits, e.g. %s)",
                         key, (int)(e - b), b, with_port ? "CIDR:PORT" : "a CIDR",
                         with_port ? "10.0.0.5/32:3128" : "0.0.0.0/0");
    }
    return 0;
}

struct egress {
    struct cidr_list direct, except, proxy;
};

static int parse_egress(const struct config *c, struct egress *eg, struct error *err)
{
    int rc = parse_cidr_list("reconciler.egress_cidrs", c->reconciler.egress_cidrs, false,
                             &eg->direct, err);
    if (!rc)
        rc = parse_cidr_list("reconciler.egress_except", c->reconciler.egress_except, false,
                             &eg->except, err);
    if (!rc)
        rc = parse_cidr_list("reconciler.egress_proxy", c->reconciler.egress_proxy, true,
                             &eg->proxy, err);
    if (!rc && !dns1123_label(str_or_empty(c->reconciler.platform_namespace)))
        rc = error_set(err, ERR_INVALID, "reconciler.platform_namespace",
                       "reconciler.platform_namespace: \"%s\" is not a namespace name",
                       str_or_empty(c->reconciler.platform_namespace));
    return rc;
}

/* The egress rules of allow-egress: every direct CIDR minus the excepted blocks inside it,
 * then each proxy on its port. */
static json_t *egress_rules(const struct egress *eg)
{
    json_t *rules = json_array();
    json_t *peers = json_array();
    for (int i = 0; rules && peers && i < eg->direct.n; i++) {
        const struct cidr *d = &eg->direct.v[i];
        json_t *ex = json_array();
        for (int j = 0; ex && j < eg->except.n; j++)
            if (cidr_inside(d, &eg->except.v[j]))
                json_array_append_new(ex, json_string(eg->except.v[j].text));
        json_t *block = json_pack("{s:s}", "cidr", d->text);
        if (block && json_array_size(ex))
            json_object_set(block, "except", ex);
        json_decref(ex);
        json_array_append_new(peers, json_pack("{s:o}", "ipBlock", block));
    }
    if (rules && peers && json_array_size(peers))
        json_array_append_new(rules, json_pack("{s:O}", "to", peers));
    json_decref(peers);
    for (int i = 0; rules && i < eg->proxy.n; i++)
        json_array_append_new(rules, json_pack("{s:[{s:{s:s}}], s:[{s:s, s:I}]}", "to", "ipBlock",
                                               "cidr", eg->proxy.v[i].text, "ports", "protocol",
                                               "TCP", "port", (json_int_t)eg->proxy.v[i].port));
    return rules;
}

static struct session_object *add_netpol(struct builder *b, const char *step, const char *name,
                                         json_t *spec)
{
    return add(b, step, STAGE_ISOLATION, "networking.k8s.io", "v1", "NetworkPolicy",
               "networkpolicies", name, json_pack("{s:o}", "spec", spec));
}

/* The session's NetworkPolicies (docs/security.md, "Network"): every pod is isolated in both
 * directions by default-deny; the other policies are the only allows. All but
 * allow-same-namespace are locked: the admission policy gpuaas-tenant-networkpolicy refuses
 * a tenant's update or delete of them. allow-same-namespace is the tenant's to narrow: it may
 * delete it and write narrower ones (peers limited to pods of the namespace), and the
 * reconciler applies it once, never during drift repair. */
static void add_netpols(struct builder *b)
{
    const struct config *c = b->c;
    struct egress eg;
    if (parse_egress(c, &eg, b->err)) {
        b->rc = -ERR_INVALID;
        return;
    }
    /* 1. isolation: no rule, both directions */
    add_netpol(b, "netpol-default-deny", "default-deny",
               json_pack("{s:{}, s:[s, s]}", "podSelector", "policyTypes", "Ingress", "Egress"));
    /* 2. the router / ingress controller reaches the sign-in proxy's port, nothing else */
    json_t *from =
        json_pack("[{s:{s:{s:s}}}]", "namespaceSelector", "matchLabels",
                  "kubernetes.io/metadata.name", str_or_empty(c->reconciler.ingress_namespace));
    if (from && is_openshift(c))
        /* a host-network router is matched by this policy group instead */
        json_array_append_new(from, json_pack("{s:{s:{s:s}}}", "namespaceSelector", "matchLabels",
                                              "policy-group.network.openshift.io/ingress", ""));
    add_netpol(b, "netpol-allow-from-ingress", "allow-from-ingress",
               json_pack("{s:{s:o}, s:[s], s:[{s:o, s:[{s:s, s:I}]}]}", "podSelector",
                         "matchLabels", workspace_selector(), "policyTypes", "Ingress", "ingress",
                         "from", from, "ports", "protocol", "TCP", "port",
                         (json_int_t)c->reconciler.gate_port));
    /* 3. DNS to the cluster resolver pods only (not port 53 anywhere: no DNS tunnels out) */
    json_t *dns_to;
    if (is_openshift(c))
        dns_to = json_pack("[{s:{s:{s:s}}}]", "namespaceSelector", "matchLabels",
                           "kubernetes.io/metadata.name", "openshift-dns");
    else
        dns_to = json_pack("[{s:{s:{s:s}}, s:{s:{s:s}}}]", "namespaceSelector", "matchLabels",
                           "kubernetes.io/metadata.name", "kube-system", "podSelector",
                           "matchLabels", "k8s-app", "kube-dns");
    json_t *dns_ports = json_pack("[{s:s, s:i}, {s:s, s:i}, {s:s, s:i}, {s:s, s:i}]", "protocol",
                                  "UDP", "port", 53, "protocol", "TCP", "port", 53, "protocol",
                                  "UDP", "port", 5353, "protocol", "TCP", "port", 5353);
    add_netpol(b, "netpol-allow-dns", "allow-dns",
               json_pack("{s:{}, s:[s], s:[{s:o, s:o}]}", "podSelector", "policyTypes", "Egress",
                         "egress", "to", dns_to, "ports", dns_ports));
    /* 4. outside the cluster: reconciler.egress_cidrs minus reconciler.egress_except (node,
     * pod and service networks, cloud metadata), and the HTTP proxies on their ports */
    add_netpol(b, "netpol-allow-egress", "allow-egress",
               json_pack("{s:{}, s:[s], s:o}", "podSelector", "policyTypes", "Egress", "egress",
                         egress_rules(&eg)));
    /* 5. the workspace's authenticating proxy asks gpuaas-server whether a request may pass */
    add_netpol(
        b, "netpol-allow-workspace-auth", "allow-workspace-auth",
        json_pack("{s:{s:o}, s:[s], s:[{s:[{s:{s:{s:s}}, s:{s:{s:s, s:s}}}], "
                  "s:[{s:s, s:I}]}]}",
                  "podSelector", "matchLabels", workspace_selector(), "policyTypes", "Egress",
                  "egress", "to", "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name",
                  str_or_empty(c->reconciler.platform_namespace), "podSelector", "matchLabels",
                  "app.kubernetes.io/name", "gpuaas", "app.kubernetes.io/component", "server",
                  "ports", "protocol", "TCP", "port", (json_int_t)c->reconciler.server_port));
    /* 6. pods of the namespace reach each other: the tenant's to narrow */
    struct session_object *o =
        add_netpol(b, "netpol-allow-same-namespace", "allow-same-namespace",
                   json_pack("{s:{}, s:[s, s], s:[{s:[{s:{}}]}], s:[{s:[{s:{}}]}]}", "podSelector",
                             "policyTypes", "Ingress", "Egress", "ingress", "from", "podSelector",
                             "egress", "to", "podSelector"));
    if (o) {
        o->tenant_owned = true;
        json_object_set_new(json_object_get(json_object_get(o->obj, "metadata"), "labels"),
                            SESSION_LABEL_TENANT_EDITABLE, json_string("true"));
    }
}

static json_t *subject_sa(const struct session_plan *plan)
{
    return json_pack("{s:s, s:s, s:s}", "kind", "ServiceAccount", "name", SESSION_SA_NAME,
                     "namespace", plan->namespace_);
}

static json_t *rolebinding_body(const char *cluster_role, json_t *subject)
{
    return json_pack("{s:{s:s, s:s, s:s}, s:[o]}", "roleRef", "apiGroup",
                     "rbac.authorization.k8s.io", "kind", "ClusterRole", "name", cluster_role,
                     "subjects", subject);
}

static void add_identity(struct builder *b)
{
    const struct config *c = b->c;
    add(b, "serviceaccount", STAGE_IDENTITY, "", "v1", "ServiceAccount", "serviceaccounts",
        SESSION_SA_NAME, json_object());
    if (is_openshift(c) && c->reconciler.scc && *c->reconciler.scc) {
        char role[160];
        snprintf(role, sizeof(role), "system:openshift:scc:%s", c->reconciler.scc);
        add(b, "rolebinding-scc", STAGE_IDENTITY, "rbac.authorization.k8s.io", "v1", "RoleBinding",
            "rolebindings", "workspace-scc", rolebinding_body(role, subject_sa(b->plan)));
    }
    add(b, "rolebinding-workspace", STAGE_IDENTITY, "rbac.authorization.k8s.io", "v1",
        "RoleBinding", "rolebindings", "workspace-tenant",
        rolebinding_body(c->reconciler.tenant_cluster_role, subject_sa(b->plan)));
}

static void add_proxy_configmap(struct builder *b)
{
    const struct config *c = b->c;
    json_t *data = json_object();
    struct {
        const char *upper, *lower, *v;
    } kv[] = {{"HTTP_PROXY", "http_proxy", c->reconciler.http_proxy},
              {"HTTPS_PROXY", "https_proxy", c->reconciler.https_proxy},
              {"NO_PROXY", "no_proxy", NULL}};
    /* calls between the session's own services never go to the proxy */
    char no_proxy[1024];
    if (session_no_proxy(c, b->plan->namespace_, no_proxy, sizeof(no_proxy))) {
        json_decref(data);
        b->rc = error_set(b->err, ERR_INVALID, "reconciler.no_proxy", "longer than %zu bytes",
                          sizeof(no_proxy) - 64);
        return;
    }
    kv[2].v = no_proxy;
    for (size_t i = 0; data && i < sizeof(kv) / sizeof(kv[0]); i++) {
        if (!kv[i].v || !*kv[i].v)
            continue;
        json_object_set_new(data, kv[i].upper, json_string(kv[i].v));
        json_object_set_new(data, kv[i].lower, json_string(kv[i].v));
    }
    struct session_object *o =
        add(b, "configmap-proxy", STAGE_WORKLOAD, "", "v1", "ConfigMap", "configmaps",
            SESSION_PROXY_CONFIGMAP, json_pack("{s:o}", "data", data));
    if (o)
        o->quota_counted = true;
}

/* The gate's nginx.conf (src/core/gate_conf.c) for this session. */
static void add_gate_configmap(struct builder *b)
{
    struct gate_conf g;
    struct gate_conf_buf buf;
    char *text = NULL;
    if (b->rc)
        return;
    gate_conf_from_config(b->c, b->r->id, &g, &buf);
    int e = gate_nginx_conf(&g, &text, b->err);
    if (e) {
        b->rc = e;
        return;
    }
    struct session_object *o =
        add(b, "configmap-gate", STAGE_WORKLOAD, "", "v1", "ConfigMap", "configmaps",
            SESSION_GATE_NAME, json_pack("{s:{s:s}}", "data", "nginx.conf", text));
    free(text);
    if (o)
        o->quota_counted = true;
}

/* The settings gpuaas-serve (the workspace's model-server helper) reads. */
static void add_serve_configmap(struct builder *b)
{
    json_t *data = session_serve_data(b->c, b->r, SESSION_PVC_HOME, HOME_MOUNT, SESSION_PVC_MODELS,
                                      SESSION_PROXY_CONFIGMAP, KUBERNETES_RUN_AS);
    struct session_object *o =
        add(b, "configmap-serve", STAGE_WORKLOAD, "", "v1", "ConfigMap", "configmaps",
            SESSION_SERVE_CONFIGMAP, data ? json_pack("{s:o}", "data", data) : NULL);
    if (o)
        o->quota_counted = true;
}

/* The sign-in proxy container: nginx on the gate's port, read-only root, any UID. */
static json_t *gate_container(const struct config *c)
{
    return json_pack(
        "{s:s, s:s, s:[s, s, s, s, s], s:[{s:s, s:I, s:s}], "
        "s:{s:{s:o, s:o, s:o}, s:{s:o, s:o, s:o}}, "
        "s:{s:b, s:b, s:b, s:{s:[s]}}, s:[{s:s, s:s, s:b}, {s:s, s:s}], s:{s:{s:s}, s:i, s:i}}",
        "name", SESSION_GATE_NAME, "image", str_or_empty(c->reconciler.gate_image), "command",
        "nginx", "-e", "stderr", "-c", GATE_CONFIG_DIR "/nginx.conf", "ports", "name",
        SESSION_GATE_NAME, "containerPort", (json_int_t)c->reconciler.gate_port, "protocol", "TCP",
        "resources", "requests", "cpu", qty_milli(GATE_CPU_MILLI), "memory",
        qty_mi(GATE_MEMORY_MIB), "ephemeral-storage", qty_mi(GATE_EPHEMERAL_MIB), "limits", "cpu",
        qty_milli(GATE_CPU_MILLI), "memory", qty_mi(GATE_MEMORY_MIB), "ephemeral-storage",
        qty_mi(GATE_EPHEMERAL_MIB), "securityContext", "allowPrivilegeEscalation", 0,
        "runAsNonRoot", 1, "readOnlyRootFilesystem", 1, "capabilities", "drop", "ALL",
        "volumeMounts", "name", GATE_CONFIG_VOLUME, "mountPath", GATE_CONFIG_DIR, "readOnly", 1,
        "name", GATE_TMP_VOLUME, "mountPath", GATE_TMP_DIR, "readinessProbe", "tcpSocket", "port",
        SESSION_GATE_NAME, "periodSeconds", 5, "failureThreshold", 3);
}

static void add_pvc(struct builder *b, const char *step, const char *name, long gib)
{
    json_t *body =
        json_pack("{s:{s:[s], s:s, s:{s:{s:o}}}}", "spec", "accessModes", "ReadWriteOnce",
                  "storageClassName", str_or_empty(b->c->reconciler.storage_class), "resources",
                  "requests", "storage", qty_gi(gib));
    struct session_object *o = add(b, step, STAGE_WORKLOAD, "", "v1", "PersistentVolumeClaim",
                                   "persistentvolumeclaims", name, body);
    if (o)
        o->quota_counted = true;
}

/* The store's path on the node: cache.host_path, or cache.store_dir when that is empty. */
static const char *store_host_path(const struct config *c)
{
    return c->cache.host_path && *c->cache.host_path ? c->cache.host_path
                                                     : str_or_empty(c->cache.store_dir);
}

/* An absolute path without "." or ".." components, empty components or a trailing '/'. */
static bool clean_absolute_path(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n < 2 || n > max || s[0] != '/' || s[n - 1] == '/')
        return false;
    for (const char *p = s; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == ',' || *p == ':')
            return false;
        if (*p != '/')
            continue;
        const char *q = p + 1;
        size_t len = strcspn(q, "/");
        if (len == 0 || (len == 1 && q[0] == '.') || (len == 2 && q[0] == '.' && q[1] == '.'))
            return false;
    }
    return true;
}

/* True when a is b or lies under it (or the other way round). */
static bool paths_overlap(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    size_t n = na < nb ? na : nb;
    return !strncmp(a, b, n) && (na == nb || (na > nb ? a[n] : b[n]) == '/');
}

static bool env_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 128 || isdigit((unsigned char)s[0]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_')
            return false;
    return true;
}

/* Parses cache.env ("NAME=VALUE,NAME=VALUE", blanks around items ignored) into an array of
 * {name, value} (one reference handed over). NULL with err set when an item is malformed. */
static json_t *parse_cache_env(const char *spec, struct error *err)
{
    json_t *arr = json_array();
    const char *p = spec ? spec : "";
    if (!arr) {
        error_set(err, ERR_NOMEM, "cache.env", "out of memory");
        return NULL;
    }
    while (*p) {
        size_t len = strcspn(p, ",");
        const char *end = p + len;
        while (p < end && isspace((unsigned char)*p))
            p++;
        const char *e = end;
        while (e > p && isspace((unsigned char)e[-1]))
            e--;
        if (e > p) {
            const char *eq = memchr(p, '=', (size_t)(e - p));
            if (!eq || !env_name_ok(p, (size_t)(eq - p))) {
                error_set(err, ERR_INVALID, "cache.env",
                          "cache.env: \"%.*s\" is not NAME=VALUE with NAME made of letters, "
                          "digits and '_'",
                          (int)(e - p), p);
                goto fail;
            }
            if ((size_t)(e - eq - 1) > CACHE_ENV_VALUE_MAX) {
                error_set(err, ERR_INVALID, "cache.env",
                          "cache.env: the value of %.*s is longer than %d", (int)(eq - p), p,
                          CACHE_ENV_VALUE_MAX);
                goto fail;
            }
            if (json_array_size(arr) >= CACHE_ENV_MAX) {
                error_set(err, ERR_INVALID, "cache.env", "cache.env: more than %d variables",
                          CACHE_ENV_MAX);
                goto fail;
            }
            json_t *kv = json_object();
            if (!kv || json_array_append_new(arr, kv) ||
                json_object_set_new(kv, "name", json_stringn(p, (size_t)(eq - p))) ||
                json_object_set_new(kv, "value", json_stringn(eq + 1, (size_t)(e - eq - 1)))) {
                error_set(err, ERR_INVALID, "cache.env",
                          "cache.env: cannot hold \"%.*s\" (out of memory or not UTF-8)",
                          (int)(e - p), p);
                goto fail;
            }
        }
        p = *end ? end + 1 : end;
    }
    return arr;
fail:
    json_decref(arr);
    return NULL;
}

/* The sign-in proxy's settings: an image, a port of its own, a server URL nginx can use. */
static int check_gate_config(const struct config *c, struct error *err)
{
    if (!c->reconciler.gate_image || !*c->reconciler.gate_image)
        return error_set(err, ERR_INVALID, "reconciler.gate_image", "must be set");
    if (c->reconciler.gate_port == c->reconciler.workspace_port)
        return error_set(err, ERR_INVALID, "reconciler.gate_port",
                         "reconciler.gate_port: %ld is the workspace's port; the sign-in proxy "
                         "needs a port of its own",
                         c->reconciler.gate_port);
    struct gate_conf g;
    struct gate_conf_buf buf;
    gate_conf_from_config(c, 1, &g, &buf);
    if (!gate_auth_url_ok(g.auth_url))
        return error_set(err, ERR_INVALID, "reconciler.gate_auth_url",
                         "reconciler.gate_auth_url: expected http://HOST[:PORT] (letters, "
                         "digits, '.', '-'), got \"%s\"",
                         g.auth_url);
    return 0;
}

const char *session_expose(const struct config *c)
{
    if (c->reconciler.expose && *c->reconciler.expose)
        return c->reconciler.expose;
    return is_openshift(c) ? "route" : "ingress";
}

/* A Gateway API name (ObjectName, SectionName): DNS-1123 subdomain, at most 253 characters. */
static bool dns1123_subdomain(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return false;
    for (const char *p = s; *p;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        char label[64];
        if (len == 0 || len > 63)
            return false;
        memcpy(label, p, len);
        label[len] = '\0';
        if (!dns1123_label(label))
            return false;
        p += len + (dot ? 1 : 0);
        if (dot && !*p)
            return false;
    }
    return true;
}

/* reconciler.expose and, for httproute, the Gateway it names. */
static int check_expose_config(const struct config *c, struct error *err)
{
    const char *e = session_expose(c);
    const char *gw = str_or_empty(c->reconciler.gateway_name);
    const char *gns = str_or_empty(c->reconciler.gateway_namespace);
    const char *sec = str_or_empty(c->reconciler.gateway_section);
    if (strcmp(e, "route") && strcmp(e, "ingress") && strcmp(e, "httproute"))
        return error_set(err, ERR_INVALID, "reconciler.expose",
                         "reconciler.expose: must be route, ingress or httproute (or empty for "
                         "the platform's default), got \"%s\"",
                         e);
    if (!strcmp(e, "route") && !is_openshift(c))
        return error_set(err, ERR_INVALID, "reconciler.expose",
                         "reconciler.expose: route needs reconciler.platform openshift (Routes "
                         "are OpenShift's); use ingress or httproute on %s",
                         str_or_empty(c->reconciler.platform));
    if (strcmp(e, "httproute"))
        return 0;
    if (!*gw)
        return error_set(err, ERR_INVALID, "reconciler.gateway_name",
                         "reconciler.gateway_name: must be set when reconciler.expose is "
                         "httproute (the Gateway the sessions' HTTPRoutes attach to)");
    if (!dns1123_subdomain(gw))
        return error_set(err, ERR_INVALID, "reconciler.gateway_name",
                         "reconciler.gateway_name: \"%s\" is not a Gateway name (lower-case "
                         "DNS-1123 subdomain, at most 253 characters)",
                         gw);
    if (!*gns)
        return error_set(err, ERR_INVALID, "reconciler.gateway_namespace",
                         "reconciler.gateway_namespace: must be set when reconciler.expose is "
                         "httproute (the namespace of reconciler.gateway_name \"%s\")",
                         gw);
    if (!dns1123_label(gns))
        return error_set(err, ERR_INVALID, "reconciler.gateway_namespace",
                         "reconciler.gateway_namespace: \"%s\" is not a namespace name", gns);
    if (*sec && !dns1123_subdomain(sec))
        return error_set(err, ERR_INVALID, "reconciler.gateway_section",
                         "reconciler.gateway_section: \"%s\" is not a listener name (lower-case "
                         "DNS-1123 subdomain)",
                         sec);
    return 0;
}

int session_plan_check_config(const struct config *c, struct error *err)
{
    const char *mp = str_or_empty(c->cache.mount_path);
    int rc = check_expose_config(c, err);
    if (rc)
        return rc;
    rc = check_gate_config(c, err);
    if (rc)
        return rc;
    struct egress eg;
    if (parse_egress(c, &eg, err))
        return -ERR_INVALID;
    if (!c->cache.enabled)
        return 0;
    const char *key =
        c->cache.host_path && *c->cache.host_path ? "cache.host_path" : "cache.store_dir";
    if (!clean_absolute_path(store_host_path(c), 1024))
        return error_set(err, ERR_INVALID, key,
                         "%s: \"%s\" must be a clean absolute path on the node for the "
                         "sessions' read-only mount (cache.enabled is true)",
                         key, store_host_path(c));
    if (!clean_absolute_path(mp, 200))
        return error_set(err, ERR_INVALID, "cache.mount_path",
                         "cache.mount_path: \"%s\" must be a clean absolute path other than /", mp);
    if (paths_overlap(mp, HOME_MOUNT) || paths_overlap(mp, CACHE_MOUNT))
        return error_set(err, ERR_INVALID, "cache.mount_path",
                         "cache.mount_path: \"%s\" overlaps the workspace's %s or %s volume", mp,
                         HOME_MOUNT, CACHE_MOUNT);
    json_t *env = parse_cache_env(c->cache.env, err);
    if (!env)
        return -ERR_INVALID;
    json_decref(env);
    return 0;
}

static void models_pv_name(const struct session_plan *plan, char *buf, size_t n)
{
    snprintf(buf, n, "%s" SESSION_PV_MODELS_SUFFIX, plan->namespace_);
}

/* The node cache's store: a cluster-scoped hostPath PersistentVolume pre-bound (claimRef) to
 * the session's `models` claim, ReadOnlyMany, reclaimed with Retain so that deleting it never
 * touches the node's files; then the claim, bound to it by name. A plain hostPath volume in
 * the pod would be refused by Pod Security baseline and by OpenShift's restricted SCCs. */
static void add_models_volume(struct builder *b)
{
    const struct config *c = b->c;
    char pv[sizeof(((struct session_object *)0)->name)];
    models_pv_name(b->plan, pv, sizeof(pv));
    json_t *pv_body = json_pack(
        "{s:{s:{s:o}, s:[s], s:s, s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s, s:s}}}", "spec",
        "capacity", "storage", qty_gi(c->cache.budget_gib), "accessModes", "ReadOnlyMany",
        "persistentVolumeReclaimPolicy", "Retain", "storageClassName", "", "volumeMode",
        "Filesystem", "hostPath", "path", store_host_path(c), "type", "DirectoryOrCreate",
        "claimRef", "apiVersion", "v1", "kind", "PersistentVolumeClaim", "namespace",
        b->plan->namespace_, "name", SESSION_PVC_MODELS);
    add(b, "pv-models", STAGE_WORKLOAD, "", "v1", "PersistentVolume", "persistentvolumes", pv,
        pv_body);
    json_t *pvc_body =
        json_pack("{s:{s:[s], s:s, s:s, s:s, s:{s:{s:o}}}}", "spec", "accessModes", "ReadOnlyMany",
                  "storageClassName", "", "volumeMode", "Filesystem", "volumeName", pv, "resources",
                  "requests", "storage", qty_gi(MODELS_REQUEST_GIB));
    struct session_object *o =
        add(b, "pvc-models", STAGE_WORKLOAD, "", "v1", "PersistentVolumeClaim",
            "persistentvolumeclaims", SESSION_PVC_MODELS, pvc_body);
    if (o)
        o->quota_counted = true;
}

/* Sets name=value in the container's env array, replacing an entry of the same name. */
static int env_set(json_t *env, const char *name, json_t *value)
{
    size_t i;
    json_t *e;
    json_array_foreach(env, i, e)
    {
        const char *n = json_string_value(json_object_get(e, "name"));
        if (n && !strcmp(n, name))
            return json_object_set(e, "value", value);
    }
    return json_array_append_new(env, json_pack("{s:s, s:O}", "name", name, "value", value));
}

/* The workspace side of the store: the claim as a read-only volume, names/ and blobs/ mounted
 * read-only under cache.mount_path, and the cache.env variables (an entry replaces a variable
 * of the same name set by the plan, e.g. HF_HOME). */
static int add_models_mounts(const struct config *c, json_t *pod_spec, json_t *container,
                             struct error *err)
{
    char names[256], blobs[256];
    const char *mp = str_or_empty(c->cache.mount_path);
    json_t *env = parse_cache_env(c->cache.env, err);
    if (!env)
        return -ERR_INVALID;
    snprintf(names, sizeof(names), "%s/" STORE_NAMES_DIR, mp);
    snprintf(blobs, sizeof(blobs), "%s/" STORE_BLOBS_DIR, mp);
    int rc = 0;
    json_t *vol =
        json_pack("{s:s, s:{s:s, s:b}}", "name", SESSION_PVC_MODELS, "persistentVolumeClaim",
                  "claimName", SESSION_PVC_MODELS, "readOnly", 1);
    json_t *m1 = json_pack("{s:s, s:s, s:s, s:b}", "name", SESSION_PVC_MODELS, "mountPath", names,
                           "subPath", STORE_NAMES_DIR, "readOnly", 1);
    json_t *m2 = json_pack("{s:s, s:s, s:s, s:b}", "name", SESSION_PVC_MODELS, "mountPath", blobs,
                           "subPath", STORE_BLOBS_DIR, "readOnly", 1);
    if (json_array_append_new(json_object_get(pod_spec, "volumes"), vol) ||
        json_array_append_new(json_object_get(container, "volumeMounts"), m1) ||
        json_array_append_new(json_object_get(container, "volumeMounts"), m2))
        rc = error_set(err, ERR_NOMEM, "deployment", "out of memory");
    size_t i;
    json_t *kv;
    json_array_foreach(env, i, kv)
    {
        if (rc)
            break;
        if (env_set(json_object_get(container, "env"),
                    json_string_value(json_object_get(kv, "name")), json_object_get(kv, "value")))
            rc = error_set(err, ERR_NOMEM, "cache.env", "out of memory");
    }
    json_decref(env);
    return rc;
}

static void add_deployment(struct builder *b, long cpu, long mem)
{
    const struct config *c = b->c;
    const struct reservation *r = b->r;
    long wcpu = INFERENCE_WORKSPACE_CPU, wmem = INFERENCE_WORKSPACE_MEMORY_GIB;
    if (r->mode == MODE_INTERACTIVE) {
        wcpu = cpu / 2 > wcpu ? cpu / 2 : wcpu;
        wmem = mem / 2 > wmem ? mem / 2 : wmem;
    }
    wcpu = wcpu < cpu ? wcpu : cpu;
    wmem = wmem < mem ? wmem : mem;
    json_t *requests = json_pack("{s:o, s:o}", "cpu", qty_int(wcpu), "memory", qty_gi(wmem));
    json_t *limits = json_pack("{s:o, s:o}", "cpu", qty_int(wcpu), "memory", qty_gi(wmem));
    if (requests && limits && r->mode == MODE_INTERACTIVE) {
        /* extended resources need request == limit */
        json_object_set_new(requests, r->gpu_type, json_string("1"));
        json_object_set_new(limits, r->gpu_type, json_string("1"));
    }
    json_t *csc = json_pack("{s:b, s:b, s:{s:[s]}}", "allowPrivilegeEscalation", 0, "runAsNonRoot",
                            1, "capabilities", "drop", "ALL");
    json_t *psc =
        json_pack("{s:b, s:{s:s}}", "runAsNonRoot", 1, "seccompProfile", "type", "RuntimeDefault");
    if (psc && !is_openshift(c)) {
        json_object_set_new(psc, "runAsUser", json_integer(KUBERNETES_RUN_AS));
        json_object_set_new(psc, "runAsGroup", json_integer(KUBERNETES_RUN_AS));
        json_object_set_new(psc, "fsGroup", json_integer(KUBERNETES_RUN_AS));
    }
    json_t *container = json_pack(
        "{s:s, s:s, s:[{s:s, s:I, s:s}], s:[{s:{s:s}}], s:[{s:s, s:s}, {s:s, s:s}], "
        "s:[{s:s, s:s}, {s:s, s:s}], s:{s:o, s:o}, s:o, s:{s:{s:s}, s:i, s:i}}",
        "name", SESSION_WORKSPACE_NAME, "image", str_or_empty(c->reconciler.workspace_image),
        "ports", "name", "http", "containerPort", (json_int_t)c->reconciler.workspace_port,
        "protocol", "TCP", "envFrom", "configMapRef", "name", SESSION_PROXY_CONFIGMAP, "env",
        "name", "HOME", "value", HOME_MOUNT, "name", "HF_HOME", "value", CACHE_MOUNT "/huggingface",
        "volumeMounts", "name", SESSION_PVC_HOME, "mountPath", HOME_MOUNT, "name",
        SESSION_PVC_MODEL_CACHE, "mountPath", CACHE_MOUNT, "resources", "requests", requests,
        "limits", limits, "securityContext", csc, "readinessProbe", "tcpSocket", "port", "http",
        "periodSeconds", 5, "failureThreshold", 3);
    /* the image's entry point listens on the port the plan declares (deploy/workspace) */
    json_t *port = json_sprintf("%ld", c->reconciler.workspace_port);
    if (container &&
        (!port || env_set(json_object_get(container, "env"), "GPUAAS_WORKSPACE_PORT", port))) {
        json_decref(container);
        container = NULL;
    }
    json_decref(port);
    /* no second password: the gate in front signs users in, and NetworkPolicy lets nothing
     * outside the namespace reach this port (allow-from-ingress opens only the gate's) */
    json_t *auth = json_string("none");
    if (container &&
        (!auth || env_set(json_object_get(container, "env"), "GPUAAS_WORKSPACE_AUTH", auth))) {
        json_decref(container);
        container = NULL;
    }
    json_decref(auth);
    if (container && c->reconciler.workspace_command && *c->reconciler.workspace_command) {
        json_t *cmd = split_words(c->reconciler.workspace_command, b->err);
        if (!cmd) {
            json_decref(container);
            json_decref(psc);
            b->rc = -ERR_INVALID;
            return;
        }
        json_object_set_new(container, "command", cmd);
    }
    char idb[32];
    snprintf(idb, sizeof(idb), "%" PRId64, b->r->id);
    /* the pods carry the reservation too: the reconciler lists a batch of sessions' pods */
    json_t *body =
        json_pack("{s:{s:i, s:{s:s}, s:{s:o}, s:{s:{s:{s:s, s:s, s:s}}, s:{s:s, s:b, s:o, s:[o], "
                  "s:[{s:s, s:{s:s}}, {s:s, s:{s:s}}]}}}}",
                  "spec", "replicas", 1, "strategy", "type", "Recreate", "selector", "matchLabels",
                  workspace_selector(), "template", "metadata", "labels", "app.kubernetes.io/name",
                  SESSION_WORKSPACE_NAME, SESSION_LABEL_MANAGED_BY, SESSION_MANAGED_BY,
                  SESSION_LABEL_RESERVATION, idb, "spec", "serviceAccountName", SESSION_SA_NAME,
                  "automountServiceAccountToken", 1, "securityContext", psc, "containers",
                  container, "volumes", "name", SESSION_PVC_HOME, "persistentVolumeClaim",
                  "claimName", SESSION_PVC_HOME, "name", SESSION_PVC_MODEL_CACHE,
                  "persistentVolumeClaim", "claimName", SESSION_PVC_MODEL_CACHE);
    if (body) {
        json_t *pod =
            json_object_get(json_object_get(json_object_get(body, "spec"), "template"), "spec");
        json_t *vols = json_object_get(pod, "volumes");
        if (json_array_append_new(json_object_get(pod, "containers"), gate_container(c)) ||
            json_array_append_new(vols, json_pack("{s:s, s:{s:s}}", "name", GATE_CONFIG_VOLUME,
                                                  "configMap", "name", SESSION_GATE_NAME)) ||
            json_array_append_new(vols, json_pack("{s:s, s:{s:s}}", "name", GATE_TMP_VOLUME,
                                                  "emptyDir", "sizeLimit", GATE_TMP_SIZE))) {
            json_decref(body);
            body = NULL;
        }
    }
    if (body && c->cache.enabled) {
        json_t *pod =
            json_object_get(json_object_get(json_object_get(body, "spec"), "template"), "spec");
        int e = add_models_mounts(c, pod, json_array_get(json_object_get(pod, "containers"), 0),
                                  b->err);
        if (e) {
            json_decref(body);
            b->rc = e;
            return;
        }
    }
    add(b, "deployment", STAGE_WORKLOAD, "apps", "v1", "Deployment", "deployments",
        SESSION_WORKSPACE_NAME, body);
}

static void add_service(struct builder *b)
{
    json_t *body = json_pack(
        "{s:{s:s, s:o, s:[{s:s, s:s, s:I, s:s}]}}", "spec", "type", "ClusterIP", "selector",
        workspace_selector(), "ports", "name", SESSION_GATE_NAME, "protocol", "TCP", "port",
        (json_int_t)b->c->reconciler.gate_port, "targetPort", SESSION_GATE_NAME);
    struct session_object *o = add(b, "service", STAGE_WORKLOAD, "", "v1", "Service", "services",
                                   SESSION_WORKSPACE_NAME, body);
    if (o)
        o->quota_counted = true;
}

/* The Gateway API: an HTTPRoute attached to the configured Gateway (listener sectionName when
 * set), the session's host, every path to the gate's port of the workspace Service. TLS is the
 * Gateway listener's. */
static void add_httproute(struct builder *b, const char *host)
{
    const struct config *c = b->c;
    json_t *parent = json_pack("{s:s, s:s, s:s, s:s}", "group", "gateway.networking.k8s.io", "kind",
                               "Gateway", "name", str_or_empty(c->reconciler.gateway_name),
                               "namespace", str_or_empty(c->reconciler.gateway_namespace));
    if (parent && c->reconciler.gateway_section && *c->reconciler.gateway_section)
        json_object_set_new(parent, "sectionName", json_string(c->reconciler.gateway_section));
    json_t *body =
        json_pack("{s:{s:[o], s:[s], s:[{s:[{s:{s:s, s:s}}], s:[{s:s, s:s, s:s, s:I}]}]}}", "spec",
                  "parentRefs", parent, "hostnames", host, "rules", "matches", "path", "type",
                  "PathPrefix", "value", "/", "backendRefs", "group", "", "kind", "Service", "name",
                  SESSION_WORKSPACE_NAME, "port", (json_int_t)c->reconciler.gate_port);
    add(b, "httproute", STAGE_WORKLOAD, "gateway.networking.k8s.io", "v1", "HTTPRoute",
        "httproutes", SESSION_WORKSPACE_NAME, body);
}

static void add_exposure(struct builder *b)
{
    const struct config *c = b->c;
    char host[256];
    snprintf(host, sizeof(host), "%s.%s", b->plan->namespace_,
             str_or_empty(c->reconciler.ingress_domain));
    const char *expose = session_expose(c);
    if (!strcmp(expose, "httproute")) {
        add_httproute(b, host);
        return;
    }
    if (!strcmp(expose, "route")) {
        json_t *body =
            json_pack("{s:{s:s, s:{s:s, s:s, s:i}, s:{s:s}, s:{s:s, s:s}}}", "spec", "host", host,
                      "to", "kind", "Service", "name", SESSION_WORKSPACE_NAME, "weight", 100,
                      "port", "targetPort", SESSION_GATE_NAME, "tls", "termination", "edge",
                      "insecureEdgeTerminationPolicy", "Redirect");
        struct session_object *o = add(b, "route", STAGE_WORKLOAD, "route.openshift.io", "v1",
                                       "Route", "routes", SESSION_WORKSPACE_NAME, body);
        if (o) {
            /* long idle websockets for code-server / Jupyter */
            json_t *md = json_object_get(o->obj, "metadata");
            json_object_set_new(md, "annotations",
                                json_pack("{s:s}", "haproxy.router.openshift.io/timeout", "1h"));
        }
        return;
    }
    json_t *spec = json_pack("{s:[{s:[s]}], s:[{s:s, s:{s:[{s:s, s:s, s:{s:{s:s, s:{s:s}}}}]}}]}",
                             "tls", "hosts", host, "rules", "host", host, "http", "paths", "path",
                             "/", "pathType", "Prefix", "backend", "service", "name",
                             SESSION_WORKSPACE_NAME, "port", "name", SESSION_GATE_NAME);
    if (spec && c->reconciler.ingress_class && *c->reconciler.ingress_class)
        json_object_set_new(spec, "ingressClassName", json_string(c->reconciler.ingress_class));
    add(b, "ingress", STAGE_WORKLOAD, "networking.k8s.io", "v1", "Ingress", "ingresses",
        SESSION_WORKSPACE_NAME, json_pack("{s:o}", "spec", spec));
}

static void add_user_binding(struct builder *b)
{
    json_t *subject = json_pack("{s:s, s:s, s:s}", "kind", "User", "apiGroup",
                                "rbac.authorization.k8s.io", "name", b->r->user);
    add(b, "rolebinding-user", STAGE_ACCESS, "rbac.authorization.k8s.io", "v1", "RoleBinding",
        "rolebindings", "user-tenant",
        rolebinding_body(b->c->reconciler.tenant_cluster_role, subject));
}

static int check_inputs(const struct reservation *r, const struct config *c, const struct pool *p,
                        struct error *err)
{
    const struct pool_resource *pr = pool_find(p, r->gpu_type);
    if (!pr || !pool_is_gpu(pr))
        return error_set(err, ERR_INVALID, "gpu_type", "\"%s\" is not a GPU resource of the pool",
                         r->gpu_type);
    if (r->gpu_count <= 0)
        return error_set(err, ERR_INVALID, "gpu_count", "must be positive, got %d", r->gpu_count);
    if (!r->user[0])
        return error_set(err, ERR_INVALID, "user", "the reservation has no user name");
    if (!c->reconciler.workspace_image || !*c->reconciler.workspace_image)
        return error_set(err, ERR_INVALID, "reconciler.workspace_image", "must be set");
    if (!c->reconciler.tenant_cluster_role || !*c->reconciler.tenant_cluster_role)
        return error_set(err, ERR_INVALID, "reconciler.tenant_cluster_role", "must be set");
    if (!c->reconciler.ingress_domain || !*c->reconciler.ingress_domain)
        return error_set(err, ERR_INVALID, "reconciler.ingress_domain", "must be set");
    long storage = r->storage_gib > 0 ? r->storage_gib : c->session.storage_gib;
    long volumes = c->reconciler.home_gib + c->reconciler.model_cache_gib;
    if (storage < volumes)
        return error_set(err, ERR_INVALID, "storage_gib",
                         "storage_gib must be at least %ld: %ld GiB cannot hold the home (%ld "
                         "GiB) and model-cache (%ld GiB) volumes every session mounts",
                         volumes, storage, c->reconciler.home_gib, c->reconciler.model_cache_gib);
    return session_plan_check_config(c, err);
}

int session_plan_build(const struct reservation *r, const struct config *c, const struct pool *p,
                       struct session_plan *ret, struct error *err)
{
    struct session_plan *plan = ret;
    int rc;
    memset(plan, 0, sizeof(*plan));
    rc = check_inputs(r, c, p, err);
    if (rc)
        return rc;
    if (r->session.namespace_[0]) {
        if (!dns1123_label(r->session.namespace_))
            return error_set(err, ERR_INVALID, "session.namespace",
                             "persisted namespace \"%s\" is not a valid DNS-1123 label",
                             r->session.namespace_);
        snprintf(plan->namespace_, sizeof(plan->namespace_), "%s", r->session.namespace_);
    } else {
        rc = session_namespace_name(c, r->id, plan->namespace_, sizeof(plan->namespace_), err);
        if (rc)
            return rc;
    }
    if (session_url(c, plan->namespace_, plan->url, sizeof(plan->url)))
        return error_set(err, ERR_INVALID, "reconciler.ingress_domain", "session URL too long");
    session_user_label(r->user, plan->user_label, sizeof(plan->user_label));

    long cpu = r->cpu > 0 ? r->cpu : c->session.cpu;
    long mem = r->memory_gib > 0 ? r->memory_gib : c->session.memory_gib;
    long storage = r->storage_gib > 0 ? r->storage_gib : c->session.storage_gib;

    struct builder b = {.plan = plan, .r = r, .c = c, .p = p, .err = err, .rc = 0};
    add_namespace(&b);
    add_quota(&b, cpu, mem, storage);
    add_limitrange(&b, cpu, mem, storage);
    add_netpols(&b);
    add_identity(&b);
    add_proxy_configmap(&b);
    add_gate_configmap(&b);
    add_serve_configmap(&b);
    add_pvc(&b, "pvc-home", SESSION_PVC_HOME, c->reconciler.home_gib);
    add_pvc(&b, "pvc-model-cache", SESSION_PVC_MODEL_CACHE, c->reconciler.model_cache_gib);
    if (c->cache.enabled)
        add_models_volume(&b);
    add_deployment(&b, cpu, mem);
    add_service(&b);
    add_exposure(&b);
    add_user_binding(&b);
    if (b.rc) {
        session_plan_free(plan);
        return b.rc;
    }
    return 0;
}

int session_plan_check_booking(const struct reservation *r, const struct config *c,
                               const struct pool *p, struct error *err)
{
    /* The plan itself, for a booking not yet numbered: every refusal it makes that does not
     * come from the id or a persisted namespace comes from r and c alone. */
    struct reservation probe = *r;
    struct session_plan plan;
    if (probe.id <= 0)
        probe.id = 1;
    probe.session.namespace_[0] = '\0';
    int rc = session_plan_build(&probe, c, p, &plan, err);
    session_plan_free(&plan);
    return rc;
}

void session_plan_free(struct session_plan *plan)
{
    if (!plan)
        return;
    for (int i = 0; i < plan->n; i++) {
        json_decref(plan->objs[i].obj);
        plan->objs[i].obj = NULL;
    }
    plan->n = 0;
}

const struct session_object *session_plan_find(const struct session_plan *plan, const char *step)
{
    for (int i = 0; i < plan->n; i++)
        if (!strcmp(plan->objs[i].step, step))
            return &plan->objs[i];
    return NULL;
}

/* ---- the tenant ClusterRole ---- */

struct rule {
    const char *group;
    const char *resources; /* space-separated */
    const char *verbs;     /* space-separated */
};

#define READ "get list watch"
#define WRITE "create delete deletecollection patch update"
#define ALL READ " " WRITE

/* The built-in admin role (admin + edit + view aggregation) inside a namespace, minus writes on
 * resourcequotas, limitranges, roles and rolebindings, and minus what lets a namespace admin
 * reach outside the namespace (docs/security.md):
 *  - endpoints write (CVE-2021-25740, removed from admin upstream in 1.22) and endpointslices
 *    write: hand-written endpoints forward router or proxy traffic to other tenants' pods;
 *  - NetworkPolicy write is granted, but the ValidatingAdmissionPolicy
 *    gpuaas-tenant-networkpolicy (deploy/base/admission-policies.yaml) admits only policies
 *    whose peers are pods of the same namespace and refuses changes to the platform's;
 *  - Ingress hosts, Service externalIPs, pod GPU variables, hostPath, nodeName, control-plane
 *    tolerations and termination grace are bounded by the other policies of that file;
 *  - nothing on the Gateway API (gateway.networking.k8s.io): an HTTPRoute a tenant wrote could
 *    attach to the shared Gateway's sessions listener (it admits every session namespace) and
 *    claim another session's host; sessions' HTTPRoutes are the reconciler's alone. */
static const struct rule tenant_rules[] = {
    {"", "pods pods/attach pods/exec pods/portforward pods/proxy", ALL},
    {"", "pods/log pods/status", READ},
    {"", "pods/eviction", "create"},
    {"", "endpoints", READ},
    {"",
     "configmaps persistentvolumeclaims replicationcontrollers "
     "replicationcontrollers/scale secrets serviceaccounts services services/proxy",
     ALL},
    {"", "serviceaccounts/token", "create"},
    {"", "serviceaccounts", "impersonate"},
    {"",
     "bindings events limitranges namespaces/status persistentvolumeclaims/status "
     "replicationcontrollers/status resourcequotas resourcequotas/status services/status",
     READ},
    {"", "namespaces", "get list watch"},
    {"apps",
     "daemonsets deployments deployments/rollback deployments/scale replicasets "
     "replicasets/scale statefulsets statefulsets/scale",
     ALL},
    {"apps",
     "controllerrevisions daemonsets/status deployments/status replicasets/status "
     "statefulsets/status",
     READ},
    {"autoscaling", "horizontalpodautoscalers", ALL},
    {"autoscaling", "horizontalpodautoscalers/status", READ},
    {"batch", "cronjobs jobs", ALL},
    {"batch", "cronjobs/status jobs/status", READ},
    {"policy", "poddisruptionbudgets", ALL},
    {"policy", "poddisruptionbudgets/status", READ},
    {"networking.k8s.io", "ingresses", ALL},
    {"networking.k8s.io", "ingresses/status", READ},
    {"networking.k8s.io", "networkpolicies", ALL},
    {"discovery.k8s.io", "endpointslices", READ},
    {"coordination.k8s.io", "leases", ALL},
    {"authorization.k8s.io", "localsubjectaccessreviews", "create"},
    {"rbac.authorization.k8s.io", "rolebindings roles", READ},
};

/* OpenShift additions of its own admin role that touch nothing isolating. Not granted:
 * Route writes and routes/custom-host (the oldest claim of a host wins on the router, so a
 * tenant Route could claim the next session's host, also through spec.subdomain; tenants
 * expose services with Ingresses, whose hosts the admission policy gpuaas-tenant-ingress
 * checks in the Kubernetes API server before OpenShift turns them into Routes), and builds
 * (Docker and Source strategy builds run privileged build pods). */
static const struct rule tenant_rules_openshift[] = {
    {"route.openshift.io", "routes routes/status", READ},
    {"image.openshift.io", "imagestreams imagestreamtags imagestreamimages", ALL},
    {"quota.openshift.io", "appliedclusterresourcequotas", READ},
};

static json_t *words(const char *s)
{
    json_t *arr = json_array();
    const char *p = s;
    while (arr && *p) {
        while (*p == ' ')
            p++;
        const char *e = strchr(p, ' ');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n)
            json_array_append_new(arr, json_stringn(p, n));
        p += n;
    }
    return arr;
}

static int append_rules(json_t *rules, const struct rule *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_pack("{s:[s], s:o, s:o}", "apiGroups", t[i].group, "resources",
                              words(t[i].resources), "verbs", words(t[i].verbs));
        if (!r || json_array_append_new(rules, r))
            return -ERR_NOMEM;
    }
    return 0;
}

json_t *session_tenant_cluster_role(const struct config *c)
{
    json_t *rules = json_array();
    if (!rules)
        return NULL;
    if (append_rules(rules, tenant_rules, sizeof(tenant_rules) / sizeof(tenant_rules[0])))
        goto fail;
    if (is_openshift(c) &&
        append_rules(rules, tenant_rules_openshift,
                     sizeof(tenant_rules_openshift) / sizeof(tenant_rules_openshift[0])))
        goto fail;
    json_t *role = json_pack("{s:s, s:s, s:{s:s, s:{s:s}}, s:o}", "apiVersion",
                             "rbac.authorization.k8s.io/v1", "kind", "ClusterRole", "metadata",
                             "name", str_or_empty(c->reconciler.tenant_cluster_role), "labels",
                             SESSION_LABEL_MANAGED_BY, SESSION_MANAGED_BY, "rules", rules);
    return role;
fail:
    json_decref(rules);
    return NULL;
}
