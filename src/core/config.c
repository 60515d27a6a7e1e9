/* Configuration: the key table, YAML parsing (libyaml document API) and validation.
 *
 * DESIGN: scalar keys are rows of `keys[]` addressed by their dotted path
 * ("server.listen"). Parsing walks the YAML mappings building the path; a path that
 * names a row is stored through the row's offset, a path that prefixes rows is a section
 * and is walked, `pool` is parsed by parse_pool(), anything else is an unknown key. A key
 * given twice in one mapping, at any level, is refused before the walk (yaml_unique_keys). */
#include "core/config.h"

#include "common/strbuf.h"
#include "common/util.h"
#include "common/yaml_json.h"
#include "common/yaml_walk.h"
#include "core/mig_catalog.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <yaml.h>

enum key_type { K_STR, K_INT, K_BOOL };

struct config_key {
    const char *name;
    enum key_type type;
    size_t offset;
    const char *def;
    long min, max;
    const char *help;
};

#define CONFIG_MAX_FILE_BYTES (8u << 20) /* a configuration file larger than this is refused */
#define O(f) offsetof(struct config, f)
static const struct config_key keys[] = {
    {"log_level", K_STR, O(log_level), "info", 0, 0, "debug, info, warn or error"},
    {"server.listen", K_STR, O(server.listen), "127.0.0.1:8080", 0, 0,
     "address:port the API listens on"},
    {"server.token_listen", K_STR, O(server.token_listen), "", 0, 0,
     "second address:port where only bearer tokens authenticate, never trusted_header "
     "(\"\" = none)"},
    {"server.public_url", K_STR, O(server.public_url), "", 0, 0,
     "URL users open (default http://<listen>)"},
    {"server.web_root", K_STR, O(server.web_root), "web/dist", 0, 0,
     "folder with the built web UI"},
    {"server.body_limit_bytes", K_INT, O(server.body_limit_bytes), "65536", 1024, 16777216,
     "largest request body accepted"},
    {"server.request_timeout_seconds", K_INT, O(server.request_timeout_seconds), "30", 1, 3600,
     "idle connection timeout"},
    {"server.max_connections", K_INT, O(server.max_connections), "512", 1, 65536,
     "concurrent connections"},
    {"server.trusted_header", K_STR, O(server.trusted_header), "", 0, 0,
     "header naming the user, set by an authenticating proxy (\"\" = off)"},
    {"server.trusted_sources", K_STR, O(server.trusted_sources), "127.0.0.1", 0, 0,
     "comma-separated proxy addresses allowed to send trusted_header and X-Forwarded-For"},
    {"server.trusted_groups_header", K_STR, O(server.trusted_groups_header), "", 0, 0,
     "header with the proxy user's groups, comma-separated (\"\" = none)"},
    {"server.max_connections_per_client", K_INT, O(server.max_connections_per_client), "32", 1,
     65536, "concurrent connections from one address (trusted proxies exempt)"},
    {"server.metrics_token_file", K_STR, O(server.metrics_token_file), "", 0, 0,
     "file with a bearer token that may read /metrics (\"\" = admins only)"},
    {"server.hsts_seconds", K_INT, O(server.hsts_seconds), "31536000", 0, 315360000,
     "Strict-Transport-Security max-age on answers (0 = no header)"},
    {"database.url", K_STR, O(database.url), "sqlite://var/gpuaas.db", 0, 0,
     "sqlite://PATH or postgresql://USER@HOST:PORT/DB"},
    {"auth.token_ttl_seconds", K_INT, O(auth.token_ttl_seconds), "86400", 60, 31536000,
     "lifetime of login tokens"},
    {"auth.login_max_failures", K_INT, O(auth.login_max_failures), "5", 1, 1000,
     "failed logins per user or address before rate limiting"},
    {"auth.login_window_seconds", K_INT, O(auth.login_window_seconds), "300", 1, 86400,
     "window for counting failed logins"},
    {"auth.audit_retention_days", K_INT, O(auth.audit_retention_days), "365", 1, 36500,
     "audit entries older than this are trimmed"},
    {"auth.token_max_ttl_seconds", K_INT, O(auth.token_max_ttl_seconds), "7776000", 60, 31622400,
     "longest lifetime of an API token (never beyond the token that creates it)"},
    {"auth.sso_auto_create_group", K_STR, O(auth.sso_auto_create_group), "", 0, 0,
     "proxy group whose members get an SSO account on first visit (\"\" = link by hand)"},
    {"auth.admin_password_file", K_STR, O(auth.admin_password_file), "", 0, 0,
     "where the first admin password is written (\"\" = beside the database)"},
    {"auth.workspace_ticket_ttl_seconds", K_INT, O(auth.workspace_ticket_ttl_seconds), "60", 5, 600,
     "lifetime of the single-use link that opens a workspace"},
    {"auth.workspace_cookie_ttl_seconds", K_INT, O(auth.workspace_cookie_ttl_seconds), "43200", 60,
     604800, "lifetime of the workspace cookie (checked against the booking on every request)"},
    {"auth.workspace_admin_access", K_BOOL, O(auth.workspace_admin_access), "false", 0, 0,
     "admins may open any ACTIVE session's workspace (each entry audited)"},
    {"sharing.whole_gpu_replicas", K_INT, O(sharing.whole_gpu_replicas), "4", 1, 64,
     "time-slicing replicas per whole GPU"},
    {"sharing.mig_replicas", K_INT, O(sharing.mig_replicas), "2", 1, 64,
     "time-slicing replicas per MIG slice"},
    {"sharing.rename_by_default", K_BOOL, O(sharing.rename_by_default), "false", 0, 0,
     "advertise shared resources as <name>.shared"},
    {"session.cpu", K_INT, O(session.cpu), "8", 1, 4096, "default cpu cores per booking"},
    {"session.memory_gib", K_INT, O(session.memory_gib), "64", 1, 65536,
     "default memory per booking (GiB)"},
    {"session.storage_gib", K_INT, O(session.storage_gib), "600", 1, 1048576,
     "default storage per booking (GiB)"},
    {"session.max_hours", K_INT, O(session.max_hours), "168", 1, 8784,
     "longest booking window (hours)"},
    {"session.max_gpus", K_INT, O(session.max_gpus), "4", 1, 1024,
     "most GPUs or slices in one booking"},
    {"session.start_grace_seconds", K_INT, O(session.start_grace_seconds), "300", 0, 86400,
     "how far in the past a start may lie"},
    {"session.max_advance_days", K_INT, O(session.max_advance_days), "365", 1, 3650,
     "how far ahead one may book"},
    {"session.ephemeral_gib", K_INT, O(session.ephemeral_gib), "50", 1, 65536,
     "node-local disk per session: emptyDir and container layers (GiB)"},
    {"session.turnaround_seconds", K_INT, O(session.turnaround_seconds), "0", 0, 3600,
     "a GPU unit stays unbookable this long after a booking ends (the pods' grace)"},
    {"cluster.simulated", K_BOOL, O(cluster.simulated), "false", 0, 0,
     "the cluster is a simulation (gpuaas-kubesim): no workspace runs; the portal and CLI say so"},
    {"reconciler.interval_seconds", K_INT, O(reconciler.interval_seconds), "30", 1, 3600,
     "safety-net pass interval"},
    {"reconciler.gc_interval_seconds", K_INT, O(reconciler.gc_interval_seconds), "300", 1, 86400,
     "garbage-collection sweep interval"},
    {"reconciler.max_attempts", K_INT, O(reconciler.max_attempts), "5", 1, 100,
     "provisioning attempts before FAILED"},
    {"reconciler.retry_base_seconds", K_INT, O(reconciler.retry_base_seconds), "2", 1, 3600,
     "first retry delay (doubles per attempt)"},
    {"reconciler.provision_timeout_seconds", K_INT, O(reconciler.provision_timeout_seconds), "600",
     1, 86400, "a session not Ready this long after an attempt began: the attempt failed"},
    {"reconciler.terminating_limit_seconds", K_INT, O(reconciler.terminating_limit_seconds), "600",
     1, 604800, "Terminating longer than this is reported as stuck"},
    {"reconciler.force_delete_after_seconds", K_INT, O(reconciler.force_delete_after_seconds), "45",
     0, 3600, "pods of a namespace Terminating this long are deleted with grace 0 (0 = never)"},
    {"reconciler.finalize_stuck", K_BOOL, O(reconciler.finalize_stuck), "false", 0, 0,
     "remove finalizers of stuck namespaces"},
    {"reconciler.kubeconfig", K_STR, O(reconciler.kubeconfig), "", 0, 0,
     "kubeconfig file (\"\" = $KUBECONFIG or in-cluster)"},
    {"reconciler.namespace_prefix", K_STR, O(reconciler.namespace_prefix), "gpuaas-", 0, 0,
     "session namespaces are <prefix><id>"},
    {"reconciler.platform", K_STR, O(reconciler.platform), "openshift", 0, 0,
     "openshift (Route, SCC) or kubernetes (Ingress)"},
    {"reconciler.storage_class", K_STR, O(reconciler.storage_class), "lvms-vg1", 0, 0,
     "storage class of the session PVCs"},
    {"reconciler.ingress_namespace", K_STR, O(reconciler.ingress_namespace), "openshift-ingress", 0,
     0, "namespace of the router / ingress controller"},
    {"reconciler.ingress_domain", K_STR, O(reconciler.ingress_domain), "apps.example.com", 0, 0,
     "workspace host is <namespace>.<domain>"},
    {"reconciler.ingress_class", K_STR, O(reconciler.ingress_class), "", 0, 0,
     "IngressClass for kubernetes platform (\"\" = cluster default)"},
    {"reconciler.expose", K_STR, O(reconciler.expose), "", 0, 0,
     "how a session's workspace is published: route, ingress or httproute (\"\" = route on "
     "openshift, ingress on kubernetes)"},
    {"reconciler.gateway_name", K_STR, O(reconciler.gateway_name), "", 0, 0,
     "expose httproute: name of the Gateway the sessions' HTTPRoutes attach to"},
    {"reconciler.gateway_namespace", K_STR, O(reconciler.gateway_namespace), "", 0, 0,
     "expose httproute: namespace of that Gateway"},
    {"reconciler.gateway_section", K_STR, O(reconciler.gateway_section), "", 0, 0,
     "expose httproute: the Gateway's listener (sectionName; \"\" = every listener)"},
    {"reconciler.scc", K_STR, O(reconciler.scc), "", 0, 0,
     "OpenShift SCC granted to the workspace service account"},
    {"reconciler.tenant_cluster_role", K_STR, O(reconciler.tenant_cluster_role), "gpuaas-tenant", 0,
     0, "ClusterRole bound inside session namespaces"},
    {"reconciler.workspace_image", K_STR, O(reconciler.workspace_image),
     "image-registry.openshift-image-registry.svc:5000/gpuaas-system/gpuaas-workspace:latest", 0, 0,
     "workspace image built from deploy/workspace/Containerfile (default: the OpenShift build)"},
    {"reconciler.workspace_command", K_STR, O(reconciler.workspace_command), "", 0, 0,
     "workspace command (\"\" = image default)"},
    {"reconciler.workspace_port", K_INT, O(reconciler.workspace_port), "8080", 1, 65535,
     "port the workspace listens on"},
    {"reconciler.gate_image", K_STR, O(reconciler.gate_image),
     "registry.example.com/gpuaas/gpuaas:0.2.0", 0, 0,
     "image of the workspace's sign-in proxy (nginx; the gpuaas image has it)"},
    {"reconciler.gate_port", K_INT, O(reconciler.gate_port), "8090", 1024, 65535,
     "port of the sign-in proxy, the only one the router reaches"},
    {"reconciler.gate_auth_url", K_STR, O(reconciler.gate_auth_url), "", 0, 0,
     "the gpuaas server as the proxy reaches it (\"\" = http://gpuaas-server."
     "<platform_namespace>.svc:<server_port>)"},
    {"reconciler.home_gib", K_INT, O(reconciler.home_gib), "20", 1, 65536, "home PVC size"},
    {"reconciler.model_cache_gib", K_INT, O(reconciler.model_cache_gib), "300", 1, 1048576,
     "model-cache PVC size"},
    {"reconciler.http_proxy", K_STR, O(reconciler.http_proxy), "", 0, 0,
     "HTTP_PROXY inside sessions"},
    {"reconciler.https_proxy", K_STR, O(reconciler.https_proxy), "", 0, 0,
     "HTTPS_PROXY inside sessions"},
    {"reconciler.no_proxy", K_STR, O(reconciler.no_proxy), "", 0, 0,
     "NO_PROXY inside sessions (cluster-internal names are always added)"},
    {"reconciler.serve_vllm_image", K_STR, O(reconciler.serve_vllm_image),
     "docker.io/vllm/vllm-openai:v0.8.5", 0, 0, "vLLM image for gpuaas-serve in sessions"},
    {"reconciler.serve_ollama_image", K_STR, O(reconciler.serve_ollama_image),
     "docker.io/ollama/ollama:0.6.8", 0, 0, "Ollama image for gpuaas-serve in sessions"},
    {"reconciler.serve_tgi_image", K_STR, O(reconciler.serve_tgi_image),
     "ghcr.io/huggingface/text-generation-inference:3.3.0", 0, 0,
     "Text Generation Inference image for gpuaas-serve in sessions"},
    {"reconciler.serve_triton_image", K_STR, O(reconciler.serve_triton_image),
     "nvcr.io/nvidia/tritonserver:25.01-py3", 0, 0, "Triton image for gpuaas-serve in sessions"},
    {"reconciler.dcgm_url", K_STR, O(reconciler.dcgm_url), "", 0, 0,
     "DCGM exporter /metrics URL (\"\" = no telemetry)"},
    {"reconciler.dcgm_interval_seconds", K_INT, O(reconciler.dcgm_interval_seconds), "30", 1, 3600,
     "how often the DCGM exporter is scraped"},
    {"reconciler.dcgm_timeout_seconds", K_INT, O(reconciler.dcgm_timeout_seconds), "5", 1, 60,
     "longest a DCGM scrape may take"},
    {"reconciler.dcgm_token_file", K_STR, O(reconciler.dcgm_token_file), "", 0, 0,
     "file with a bearer token for the DCGM URL (\"\" = none)"},
    {"reconciler.dcgm_ca_file", K_STR, O(reconciler.dcgm_ca_file), "", 0, 0,
     "CA bundle for an https DCGM URL (\"\" = system CAs)"},
    {"reconciler.leader_election", K_BOOL, O(reconciler.leader_election), "true", 0, 0,
     "only one reconciler acts at a time"},
    {"reconciler.egress_cidrs", K_STR, O(reconciler.egress_cidrs), "0.0.0.0/0,::/0", 0, 0,
     "CIDRs sessions reach directly (\"\" = only through egress_proxy)"},
    {"reconciler.egress_except", K_STR, O(reconciler.egress_except),
     "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,169.254.0.0/16,fc00::/7,fe80::/10", 0,
     0, "CIDRs sessions never reach directly: node, pod, service networks, cloud metadata"},
    {"reconciler.egress_proxy", K_STR, O(reconciler.egress_proxy), "", 0, 0,
     "CIDR:PORT of each HTTP proxy sessions may reach (comma-separated, \"\" = none)"},
    {"reconciler.platform_namespace", K_STR, O(reconciler.platform_namespace), "gpuaas-system", 0,
     0, "namespace of gpuaas-server (the workspace proxy's auth calls)"},
    {"reconciler.server_port", K_INT, O(reconciler.server_port), "8080", 1, 65535,
     "gpuaas-server's pod port the workspace proxy calls"},
    {"cache.enabled", K_BOOL, O(cache.enabled), "false", 0, 0,
     "sessions mount the node cache read-only"},
    {"cache.listen", K_STR, O(cache.listen), "127.0.0.1:8090", 0, 0,
     "cache daemon status endpoint address:port"},
    {"cache.store_dir", K_STR, O(cache.store_dir), "var/cache", 0, 0,
     "content-addressed store directory"},
    {"cache.host_path", K_STR, O(cache.host_path), "", 0, 0,
     "store path on the node for the session hostPath mount (\"\" = store_dir)"},
    {"cache.mount_path", K_STR, O(cache.mount_path), "/models", 0, 0,
     "where workspaces see the store (read-only)"},
    {"cache.env", K_STR, O(cache.env), "GPUAAS_MODELS=/models/names", 0, 0,
     "comma-separated NAME=VALUE pairs set in the workspace (replace same-named plan variables)"},
    {"cache.budget_gib", K_INT, O(cache.budget_gib), "500", 1, 1048576,
     "size budget of the store; the least recently used (opened) files are evicted to keep it"},
    {"cache.max_parallel", K_INT, O(cache.max_parallel), "2", 1, 64, "concurrent downloads"},
    {"cache.ranges", K_INT, O(cache.ranges), "4", 1, 32, "parallel HTTP ranges per large download"},
    {"cache.range_min_mib", K_INT, O(cache.range_min_mib), "256", 1, 1048576,
     "files at least this large are fetched in parallel ranges"},
    {"cache.retries", K_INT, O(cache.retries), "5", 1, 100, "attempts per artifact or image"},
    {"cache.retry_delay_seconds", K_INT, O(cache.retry_delay_seconds), "2", 0, 3600,
     "first retry delay (doubles)"},
    {"cache.proxy", K_STR, O(cache.proxy), "", 0, 0,
     "HTTP proxy for downloads (\"\" = environment)"},
    {"cache.token_file", K_STR, O(cache.token_file), "", 0, 0,
     "file holding the admin token for POST /prefetch"},
    {"cache.image_pull_command", K_STR, O(cache.image_pull_command), "crictl pull --", 0, 0,
     "command that pre-pulls an image (reference appended; needs crictl and the node's CRI "
     "socket)"},
};
#undef O
#define N_KEYS ARRAY_SIZE(keys)

int config_set_string(char **field, const char *value)
{
    char *s = strdup(value ? value : "");
    if (!s)
        return -ERR_NOMEM;
    free(*field);
    *field = s;
    return 0;
}

static int parse_long(const char *s, long *ret)
{
    char *end;
    errno = 0;
    if (!*s)
        return -1;
    long v = strtol(s, &end, 10);
    if (errno || *end)
        return -1;
    *ret = v;
    return 0;
}

static int parse_bool(const char *s, bool *ret)
{
    if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on")) {
        *ret = true;
        return 0;
    }
    if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off")) {
        *ret = false;
        return 0;
    }
    return -1;
}

/* Stores text into the field of row k; fills err naming `where` (FILE:LINE). */
static int set_key(struct config *c, const struct config_key *k, const char *text,
                   const char *where, struct error *err)
{
    char *base = (char *)c;
    switch (k->type) {
    case K_STR:
        return config_set_string((char **)(base + k->offset), text);
    case K_INT: {
        long v;
        if (parse_long(text, &v))
            return error_set(err, ERR_INVALID, k->name, "%s: %s: expected an integer, got \"%s\"",
                             where, k->name, text);
        if (v < k->min || v > k->max)
            return error_set(err, ERR_INVALID, k->name, "%s: %s: %ld is out of range %ld..%ld",
                             where, k->name, v, k->min, k->max);
        *(long *)(base + k->offset) = v;
        return 0;
    }
    case K_BOOL:
        if (parse_bool(text, (bool *)(base + k->offset)))
            return error_set(err, ERR_INVALID, k->name,
                             "%s: %s: expected true or false, got \"%s\"", where, k->name, text);
        return 0;
    }
    return -ERR_INTERNAL;
}

struct config *config_new_default(void)
{
    struct config *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    for (size_t i = 0; i < N_KEYS; i++)
        if (set_key(c, &keys[i], keys[i].def, "default", NULL) < 0) {
            config_free(c);
            return NULL;
        }
    if (config_set_string(&c->path, "<defaults>") < 0) {
        config_free(c);
        return NULL;
    }
    c->cache.budget_bytes = (long long)c->cache.budget_gib << 30;
    return c;
}

void config_free(struct config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < N_KEYS; i++)
        if (keys[i].type == K_STR)
            free(*(char **)((char *)c + keys[i].offset));
    free(c->cache.artifacts);
    free(c->cache.images);
    free(c->path);
    free(c);
}

void config_print_help(FILE *out)
{
    static const char *tn[] = {"string", "integer", "boolean"};
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct config_key *k = &keys[i];
        fprintf(out, "  %-36s %-8s default %-10s", k->name, tn[k->type], *k->def ? k->def : "\"\"");
        if (k->type == K_INT)
            fprintf(out, " [%ld..%ld]", k->min, k->max);
        fprintf(out, "  %s\n", k->help);
    }
    fprintf(out, "  %-36s %-8s %s\n", "pool.nodes[]", "list",
            "name, cpu, memory_gib, storage_gib, gpus[]: {model, memory_gib, whole | mig: "
            "{profile: count}}");
}

/* ---- YAML walking ---------------------------------------------------------------------- */

struct walk {
    struct config *c;
    yaml_document_t *doc;
    const char *file;
    struct error *err;
};

static void where(const struct walk *w, const yaml_node_t *n, char *buf, size_t len)
{
    snprintf(buf, len, "%s:%zu", w->file, n ? n->start_mark.line + 1 : 0);
}

static int fail(const struct walk *w, const yaml_node_t *n, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(const struct walk *w, const yaml_node_t *n, const char *key, const char *fmt, ...)
{
    char loc[256], msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    where(w, n, loc, sizeof(loc));
    return error_set(w->err, ERR_INVALID, key, "%s: %s: %s", loc, key, msg);
}

static int get_int(const struct walk *w, yaml_node_t *v, const char *key, long min, long max,
                   int *ret)
{
    const char *s = yw_scalar(v);
    long x;
    if (!s || parse_long(s, &x))
        return fail(w, v, key, "expected an integer");
    if (x < min || x > max)
        return fail(w, v, key, "%ld is out of range %ld..%ld", x, min, max);
    *ret = (int)x;
    return 0;
}

static int get_str(const struct walk *w, yaml_node_t *v, const char *key, char *dst, size_t len)
{
    const char *s = yw_scalar(v);
    if (!s)
        return fail(w, v, key, "expected a string");
    if (strlen(s) >= len)
        return fail(w, v, key, "longer than %zu characters", len - 1);
    snprintf(dst, len, "%s", s);
    return 0;
}

static int valid_profile(const char *p)
{
    /* "<n>g.<m>gb" with optional "+me" / "+gfx" style suffixes, e.g. 1g.24gb, 1g.10gb+me */
    const char *s = p;
    if (!isdigit((unsigned char)*s))
        return 0;
    while (isdigit((unsigned char)*s))
        s++;
    if (*s++ != 'g' || *s++ != '.' || !isdigit((unsigned char)*s))
        return 0;
    while (isdigit((unsigned char)*s))
        s++;
    if (strncmp(s, "gb", 2))
        return 0;
    s += 2;
    while (*s) {
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '+' || *s == '.'))
            return 0;
        s++;
    }
    return 1;
}

static int parse_gpu(struct walk *w, yaml_node_t *m, const char *path, struct config_gpu *g)
{
    char key[160];
    bool has_mig = false, has_whole = false;
    g->line = (int)m->start_mark.line + 1;
    if (m->type != YAML_MAPPING_NODE)
        return fail(w, m, path, "expected a mapping with model, memory_gib and whole or mig");
    YW_FOR_PAIRS(p, m)
    {
        yaml_node_t *k = yw_key(w->doc, p);
        yaml_node_t *v = yw_value(w->doc, p);
        const char *ks = yw_scalar(k);
        int r;
        snprintf(key, sizeof(key), "%s.%s", path, ks ? ks : "?");
        if (!ks)
            return fail(w, k, path, "keys must be strings");
        if (!strcmp(ks, "model")) {
            g->model_line = (int)k->start_mark.line + 1;
            r = get_str(w, v, key, g->model, sizeof(g->model));
        } else if (!strcmp(ks, "memory_gib"))
            r = get_int(w, v, key, 1, 65536, &g->memory_gib);
        else if (!strcmp(ks, "whole")) {
            const char *s = yw_scalar(v);
            r = (!s || parse_bool(s, &g->whole)) ? fail(w, v, key, "expected true or false") : 0;
            has_whole = true;
        } else if (!strcmp(ks, "mig")) {
            has_mig = true;
            g->mig_line = (int)k->start_mark.line + 1;
            if (v->type != YAML_MAPPING_NODE)
                return fail(w, v, key,
                            "expected a mapping of MIG profile to count, e.g. {\"1g.24gb\": 4}");
            YW_FOR_PAIRS(q, v)
            {
                yaml_node_t *pk = yw_key(w->doc, q);
                yaml_node_t *pv = yw_value(w->doc, q);
                const char *prof = yw_scalar(pk);
                char pkey[200];
                snprintf(pkey, sizeof(pkey), "%s.%s", key, prof ? prof : "?");
                if (!prof || !valid_profile(prof))
                    return fail(w, pk, pkey, "not a MIG profile name like 1g.24gb");
                if (g->n_slices >= CONFIG_MAX_SLICE_KINDS)
                    return fail(w, pk, pkey, "more than %d profile kinds", CONFIG_MAX_SLICE_KINDS);
                struct config_mig_slice *sl = &g->slices[g->n_slices];
                snprintf(sl->profile, sizeof(sl->profile), "%s", prof);
                sl->line = (int)pk->start_mark.line + 1;
                if ((r = get_int(w, pv, pkey, 1, 7, &sl->count)) < 0)
                    return r;
                g->n_slices++;
            }
            r = 0;
        } else
            return fail(w, k, key, "unknown key (expected model, memory_gib, whole or mig)");
        if (r < 0)
            return r;
    }
    if (!g->model[0])
        return fail(w, m, path, "missing model");
    if (!g->memory_gib)
        return fail(w, m, path, "missing memory_gib");
    if (has_mig && has_whole && g->whole)
        return fail(w, m, path, "a GPU is either whole: true or split by mig, not both");
    if (has_mig && g->n_slices == 0)
        return fail(w, m, path, "mig lists no profiles");
    if (!has_mig)
        g->whole = true;
    return 0;
}

static int parse_node(struct walk *w, yaml_node_t *m, const char *path, struct config_node *nd)
{
    char key[160];
    nd->line = (int)m->start_mark.line + 1;
    if (m->type != YAML_MAPPING_NODE)
        return fail(w, m, path, "expected a mapping with name, cpu, memory_gib, storage_gib, gpus");
    YW_FOR_PAIRS(p, m)
    {
        yaml_node_t *k = yw_key(w->doc, p);
        yaml_node_t *v = yw_value(w->doc, p);
        const char *ks = yw_scalar(k);
        int r = 0;
        snprintf(key, sizeof(key), "%s.%s", path, ks ? ks : "?");
        if (!ks)
            return fail(w, k, path, "keys must be strings");
        if (!strcmp(ks, "name"))
            r = get_str(w, v, key, nd->name, sizeof(nd->name));
        else if (!strcmp(ks, "cpu"))
            r = get_int(w, v, key, 1, 1 << 20, &nd->cpu);
        else if (!strcmp(ks, "memory_gib"))
            r = get_int(w, v, key, 1, 1 << 24, &nd->memory_gib);
        else if (!strcmp(ks, "storage_gib"))
            r = get_int(w, v, key, 0, 1 << 30, &nd->storage_gib);
        else if (!strcmp(ks, "gpus")) {
            if (v->type != YAML_SEQUENCE_NODE)
                return fail(w, v, key, "expected a list of GPUs");
            YW_FOR_ITEMS(it, v)
            {
                char gpath[200];
                snprintf(gpath, sizeof(gpath), "%s[%d]", key, nd->n_gpus);
                if (nd->n_gpus >= CONFIG_MAX_GPUS_PER_NODE)
                    return fail(w, v, key, "more than %d GPUs", CONFIG_MAX_GPUS_PER_NODE);
                if ((r = parse_gpu(w, yw_item(w->doc, it), gpath, &nd->gpus[nd->n_gpus])) < 0)
                    return r;
                nd->n_gpus++;
            }
        } else
            return fail(w, k, key,
                        "unknown key (expected name, cpu, memory_gib, storage_gib or gpus)");
        if (r < 0)
            return r;
    }
    if (!nd->name[0])
        return fail(w, m, path, "missing name");
    if (!nd->cpu || !nd->memory_gib)
        return fail(w, m, path, "cpu and memory_gib are required");
    return 0;
}

static int parse_pool(struct walk *w, yaml_node_t *m)
{
    if (m->type != YAML_MAPPING_NODE)
        return fail(w, m, "pool", "expected a mapping with nodes");
    YW_FOR_PAIRS(p, m)
    {
        yaml_node_t *k = yw_key(w->doc, p);
        yaml_node_t *v = yw_value(w->doc, p);
        const char *ks = yw_scalar(k);
        if (!ks || strcmp(ks, "nodes"))
            return fail(w, k, ks ? ks : "pool", "unknown key in pool (expected nodes)");
        if (v->type != YAML_SEQUENCE_NODE)
            return fail(w, v, "pool.nodes", "expected a list of nodes");
        YW_FOR_ITEMS(it, v)
        {
            char path[64];
            struct config *c = w->c;
            snprintf(path, sizeof(path), "pool.nodes[%d]", c->pool.n_nodes);
            if (c->pool.n_nodes >= CONFIG_MAX_NODES)
                return fail(w, v, "pool.nodes", "more than %d nodes", CONFIG_MAX_NODES);
            struct config_node *nd = &c->pool.nodes[c->pool.n_nodes];
            int r = parse_node(w, yw_item(w->doc, it), path, nd);
            if (r < 0)
                return r;
            for (int i = 0; i < c->pool.n_nodes; i++)
                if (!strcmp(c->pool.nodes[i].name, nd->name))
                    return fail(w, yw_item(w->doc, it), path, "node name \"%s\" appears twice",
                                nd->name);
            c->pool.n_nodes++;
        }
    }
    return 0;
}

static int is_hex64(const char *s)
{
    if (strlen(s) != 64)
        return 0;
    for (; *s; s++)
        if (!isxdigit((unsigned char)*s) || isupper((unsigned char)*s))
            return 0;
    return 1;
}

bool config_artifact_name_valid(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len >= CONFIG_ARTIFACT_NAME_MAX)
        return false;
    int depth = 0;
    for (const char *c = s; *c;) {
        size_t n = strcspn(c, "/");
        if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.') ||
            ++depth > CONFIG_ARTIFACT_NAME_DEPTH)
            return false;
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)c[i] < 0x20 || c[i] == 0x7f)
                return false;
        c += n;
        if (*c == '/' && !*++c)
            return false; /* trailing '/' */
    }
    return true;
}

bool config_artifact_names_clash(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > lb)
        return config_artifact_names_clash(b, a);
    return la < lb && !strncmp(a, b, la) && b[la] == '/';
}

/* One '/'-separated path component of an image name: [a-z0-9]+ joined by runs of [._-]. */
static bool image_component_valid(const char *s, size_t n)
{
    if (n == 0 || !(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0])) ||
        !(islower((unsigned char)s[n - 1]) || isdigit((unsigned char)s[n - 1])))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '.' ||
              s[i] == '_' || s[i] == '-'))
            return false;
    return true;
}

/* A registry host: [A-Za-z0-9] and inner [.-], optionally :PORT. */
static bool image_host_valid(const char *s, size_t n)
{
    const char *colon = memchr(s, ':', n);
    size_t h = colon ? (size_t)(colon - s) : n;
    if (h == 0 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[h - 1]))
        return false;
    for (size_t i = 0; i < h; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '.' || s[i] == '-'))
            return false;
    if (colon) {
        size_t p = n - h - 1;
        if (p == 0 || p > 5)
            return false;
        for (size_t i = h + 1; i < n; i++)
            if (!isdigit((unsigned char)s[i]))
                return false;
    }
    return true;
}

bool config_image_ref_valid(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > 511 || !isalnum((unsigned char)s[0]))
        return false;
    const char *at = strchr(s, '@');
    size_t end = at ? (size_t)(at - s) : len;
    if (at && (strncmp(at, "@sha256:", 8) || !is_hex64(at + 8)))
        return false;
    /* a tag is a ':' after the last '/' */
    const char *slash = memrchr(s, '/', end);
    const char *colon = memchr(slash ? slash : s, ':', end - (size_t)((slash ? slash : s) - s));
    size_t name_end = colon ? (size_t)(colon - s) : end;
    if (colon) {
        size_t t = end - name_end - 1;
        if (t == 0 || t > 128 || !(isalnum((unsigned char)colon[1]) || colon[1] == '_'))
            return false;
        for (size_t i = name_end + 1; i < end; i++)
            if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '.' || s[i] == '-'))
                return false;
    }
    if (name_end == 0 || name_end > 255)
        return false;
    /* components; the first is a registry host when it has '.' or ':' or is localhost and
     * more components follow */
    size_t i = 0;
    bool first = true;
    while (i < name_end) {
        const char *c = s + i;
        size_t n = 0;
        while (i + n < name_end && c[n] != '/')
            n++;
        bool more = i + n < name_end;
        bool host =
            first && more &&
            (memchr(c, '.', n) || memchr(c, ':', n) || (n == 9 && !strncmp(c, "localhost", 9)));
        if (host ? !image_host_valid(c, n) : !image_component_valid(c, n))
            return false;
        i += n + (more ? 1 : 0);
        if (more && i == name_end)
            return false; /* trailing '/' */
        first = false;
    }
    return true;
}

bool config_listen_valid(const char *s)
{
    const char *colon = strrchr(s, ':');
    if (!colon)
        return false;
    /* a dotted-quad IPv4 address */
    const char *p = s;
    for (int part = 0; part < 4; part++) {
        int v = 0, digits = 0;
        while (p < colon && isdigit((unsigned char)*p) && digits < 4) {
            v = v * 10 + (*p++ - '0');
            digits++;
        }
        if (digits == 0 || digits > 3 || v > 255)
            return false;
        if (part < 3 && (p >= colon || *p++ != '.'))
            return false;
    }
    if (p != colon)
        return false;
    long port = 0;
    const char *q = colon + 1;
    if (!*q || strlen(q) > 5)
        return false;
    for (; *q; q++) {
        if (!isdigit((unsigned char)*q))
            return false;
        port = port * 10 + (*q - '0');
    }
    return port >= 1 && port <= 65535;
}

/* Each field's error points at the line of its own key; a missing field at the item. */
static int parse_artifact(struct walk *w, yaml_node_t *m, const char *path,
                          struct config_artifact *a)
{
    char key[300];
    yaml_node_t *name_v = m, *url_v = m, *sha_v = m;
    a->line = (int)m->start_mark.line + 1;
    if (m->type != YAML_MAPPING_NODE)
        return fail(w, m, path,
                    "expected a mapping with name, url, sha256 and optional size, pinned");
    YW_FOR_PAIRS(p, m)
    {
        yaml_node_t *k = yw_key(w->doc, p);
        yaml_node_t *v = yw_value(w->doc, p);
        const char *ks = yw_scalar(k);
        int r = 0;
        snprintf(key, sizeof(key), "%s.%s", path, ks ? ks : "?");
        if (!ks)
            return fail(w, k, path, "keys must be strings");
        if (!strcmp(ks, "name")) {
            name_v = v;
            r = get_str(w, v, key, a->name, sizeof(a->name));
        } else if (!strcmp(ks, "url")) {
            url_v = v;
            r = get_str(w, v, key, a->url, sizeof(a->url));
        } else if (!strcmp(ks, "sha256")) {
            sha_v = v;
            r = get_str(w, v, key, a->sha256, sizeof(a->sha256));
        } else if (!strcmp(ks, "size")) {
            long x;
            const char *s = yw_scalar(v);
            if (!s || parse_long(s, &x) || x < 0 || x > (1L << 50))
                return fail(w, v, key, "expected a size in bytes (at most 1 PiB)");
            a->size = x;
        } else if (!strcmp(ks, "pinned")) {
            const char *s = yw_scalar(v);
            if (!s || parse_bool(s, &a->pinned))
                return fail(w, v, key, "expected true or false");
        } else
            return fail(w, k, key, "unknown key (expected name, url, sha256, size or pinned)");
        if (r < 0)
            return r;
    }
    if (!config_artifact_name_valid(a->name))
        return fail(w, name_v, path,
                    "name is required: a relative path such as \"llama-3-8b/config.json\" of at "
                    "most %d components, none empty, \".\" or \"..\", at most %d bytes",
                    CONFIG_ARTIFACT_NAME_DEPTH, CONFIG_ARTIFACT_NAME_MAX - 1);
    if (strncmp(a->url, "https://", 8) && strncmp(a->url, "http://", 7) &&
        strncmp(a->url, "file://", 7))
        return fail(w, url_v, path, "url must start with https://, http:// or file://");
    if (!is_hex64(a->sha256))
        return fail(w, sha_v, path, "sha256 must be 64 lowercase hex digits");
    return 0;
}

static int parse_artifacts(struct walk *w, yaml_node_t *v)
{
    struct config *c = w->c;
    if (v->type != YAML_SEQUENCE_NODE)
        return fail(w, v, "cache.artifacts", "expected a list of artifacts");
    size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (n > CONFIG_MAX_ARTIFACTS)
        return fail(w, v, "cache.artifacts", "more than %d artifacts", CONFIG_MAX_ARTIFACTS);
    free(c->cache.artifacts);
    c->cache.n_artifacts = 0;
    c->cache.artifacts = calloc(n ? n : 1, sizeof(*c->cache.artifacts));
    if (!c->cache.artifacts)
        return error_set(w->err, ERR_NOMEM, "", "out of memory");
    YW_FOR_ITEMS(it, v)
    {
        char path[64];
        struct config_artifact *a = &c->cache.artifacts[c->cache.n_artifacts];
        yaml_node_t *item = yw_item(w->doc, it);
        snprintf(path, sizeof(path), "cache.artifacts[%d]", c->cache.n_artifacts);
        int r = parse_artifact(w, item, path, a);
        if (r < 0)
            return r;
        for (int i = 0; i < c->cache.n_artifacts; i++) {
            if (!strcmp(c->cache.artifacts[i].name, a->name))
                return fail(w, item, path, "artifact name \"%s\" appears twice", a->name);
            if (config_artifact_names_clash(c->cache.artifacts[i].name, a->name))
                return fail(w, item, path,
                            "artifact name \"%s\" and \"%s\" (line %d): one would be a "
                            "directory of the other",
                            a->name, c->cache.artifacts[i].name, c->cache.artifacts[i].line);
        }
        c->cache.n_artifacts++;
    }
    return 0;
}

static int parse_images(struct walk *w, yaml_node_t *v)
{
    struct config *c = w->c;
    if (v->type != YAML_SEQUENCE_NODE)
        return fail(w, v, "cache.images", "expected a list of image references");
    size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (n > CONFIG_MAX_IMAGES)
        return fail(w, v, "cache.images", "more than %d images", CONFIG_MAX_IMAGES);
    free(c->cache.images);
    c->cache.n_images = 0;
    c->cache.images = calloc(n ? n : 1, sizeof(*c->cache.images));
    if (!c->cache.images)
        return error_set(w->err, ERR_NOMEM, "", "out of memory");
    YW_FOR_ITEMS(it, v)
    {
        char path[64];
        yaml_node_t *item = yw_item(w->doc, it);
        struct config_image *im = &c->cache.images[c->cache.n_images];
        snprintf(path, sizeof(path), "cache.images[%d]", c->cache.n_images);
        int r = get_str(w, item, path, im->ref, sizeof(im->ref));
        if (r < 0)
            return r;
        if (!im->ref[0])
            return fail(w, item, path, "empty image reference");
        if (!config_image_ref_valid(im->ref))
            return fail(w, item, path,
                        "not an image reference: \"%s\" (expected [HOST[:PORT]/]PATH[:TAG]"
                        "[@sha256:DIGEST], starting with a letter or digit)",
                        im->ref);
        im->line = (int)item->start_mark.line + 1;
        c->cache.n_images++;
    }
    return 0;
}

static const struct config_key *find_key(const char *path)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (!strcmp(keys[i].name, path))
            return &keys[i];
    return NULL;
}

_Static_assert(N_KEYS <= CONFIG_MAX_KEYS, "raise CONFIG_MAX_KEYS");

int config_key_line(const struct config *c, const char *name)
{
    const struct config_key *k = find_key(name);
    return k ? c->key_line[k - keys] : 0;
}

static int is_section(const char *path)
{
    size_t n = strlen(path);
    for (size_t i = 0; i < N_KEYS; i++)
        if (!strncmp(keys[i].name, path, n) && keys[i].name[n] == '.')
            return 1;
    return 0;
}

static int walk_mapping(struct walk *w, yaml_node_t *m, const char *prefix)
{
    YW_FOR_PAIRS(p, m)
    {
        yaml_node_t *k = yw_key(w->doc, p);
        yaml_node_t *v = yw_value(w->doc, p);
        const char *ks = yw_scalar(k);
        char path[160], loc[256];
        if (!ks)
            return fail(w, k, prefix[0] ? prefix : "(top)", "keys must be strings");
        snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "", ks);
        const struct config_key *row = find_key(path);
        int r;
        if (row) {
            const char *s = yw_scalar(v);
            if (!s)
                return fail(w, v, path, "expected a single value");
            where(w, v, loc, sizeof(loc));
            r = set_key(w->c, row, s, loc, w->err);
            w->c->key_line[row - keys] = (int)v->start_mark.line + 1;
            if (r == 0 && !strcmp(path, "cache.listen") && !config_listen_valid(s))
                return fail(w, v, path, "expected IPV4:PORT such as 127.0.0.1:8090, got \"%s\"", s);
        } else if (!prefix[0] && !strcmp(ks, "pool")) {
            r = parse_pool(w, v);
        } else if (!strcmp(path, "cache.artifacts")) {
            r = parse_artifacts(w, v);
        } else if (!strcmp(path, "cache.images")) {
            r = parse_images(w, v);
        } else if (is_section(path)) {
            if (v->type != YAML_MAPPING_NODE)
                return fail(w, v, path, "expected a mapping");
            r = walk_mapping(w, v, path);
        } else {
            return fail(w, k, path, "unknown key");
        }
        if (r < 0)
            return r;
    }
    return 0;
}

/* "" (no scrape) or http(s)://HOST... without spaces or control characters. */
static int validate_dcgm_url(const char *u)
{
    size_t n = strlen(u);
    if (!n)
        return 0;
    if (n > 2048 || (strncmp(u, "http://", 7) && strncmp(u, "https://", 8)))
        return -1;
    const char *host = u + (u[4] == 's' ? 8 : 7);
    if (!*host || *host == '/')
        return -1;
    for (const char *p = u; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return -1;
    return 0;
}

/* The budget in bytes; pinned artifacts with a known size must fit in it (those without a
 * size are checked by the daemon once downloaded). */
static int validate_cache(struct walk *w)
{
    struct config *c = w->c;
    c->cache.budget_bytes = (long long)c->cache.budget_gib << 30;
    long long pinned = 0;
    int unsized = 0;
    for (int i = 0; i < c->cache.n_artifacts; i++)
        if (c->cache.artifacts[i].pinned && !c->cache.artifacts[i].size)
            unsized++;
    for (int i = 0; i < c->cache.n_artifacts; i++) {
        const struct config_artifact *a = &c->cache.artifacts[i];
        if (!a->pinned)
            continue;
        pinned += a->size;
        if (pinned > c->cache.budget_bytes)
            return error_set(w->err, ERR_INVALID, "cache.budget_gib",
                             "%s:%d: cache.artifacts[%d]: the pinned artifacts need %lld bytes "
                             "(up to this one%s) but cache.budget_gib allows %lld",
                             w->file, a->line, i, pinned,
                             unsized ? "; pinned artifacts without a size count as 0 here" : "",
                             c->cache.budget_bytes);
    }
    if (!config_listen_valid(c->cache.listen))
        return error_set(w->err, ERR_INVALID, "cache.listen",
                         "%s: cache.listen: expected IPV4:PORT, got \"%s\"", w->file,
                         c->cache.listen);
    return 0;
}

static int validate(struct walk *w)
{
    struct config *c = w->c;
    int r;
    const char *u = c->database.url;
    if (strncmp(u, "sqlite:", 7) && strncmp(u, "postgres://", 11) &&
        strncmp(u, "postgresql://", 13))
        return error_set(w->err, ERR_INVALID, "database.url",
                         "%s: database.url: \"%s\" is neither sqlite:PATH nor postgresql://...",
                         w->file, u);
    if (strcmp(c->reconciler.platform, "openshift") && strcmp(c->reconciler.platform, "kubernetes"))
        return error_set(w->err, ERR_INVALID, "reconciler.platform",
                         "%s: reconciler.platform: must be openshift or kubernetes, got \"%s\"",
                         w->file, c->reconciler.platform);
    if (strcmp(c->log_level, "debug") && strcmp(c->log_level, "info") &&
        strcmp(c->log_level, "warn") && strcmp(c->log_level, "error"))
        return error_set(w->err, ERR_INVALID, "log_level",
                         "%s: log_level: must be debug, info, warn or error", w->file);
    if (validate_dcgm_url(c->reconciler.dcgm_url) < 0)
        return error_set(w->err, ERR_INVALID, "reconciler.dcgm_url",
                         "%s: reconciler.dcgm_url: must be empty or an http:// or https:// URL of "
                         "at most 2048 characters without spaces",
                         w->file);
    if ((r = validate_cache(w)) < 0)
        return r;
    if (c->session.storage_gib < c->reconciler.home_gib + c->reconciler.model_cache_gib)
        return error_set(w->err, ERR_INVALID, "session.storage_gib",
                         "%s: session.storage_gib: %ld GiB cannot hold the home (%ld GiB, "
                         "reconciler.home_gib) and model-cache (%ld GiB, "
                         "reconciler.model_cache_gib) volumes every session mounts",
                         w->file, c->session.storage_gib, c->reconciler.home_gib,
                         c->reconciler.model_cache_gib);
    if (!strchr(c->server.listen, ':'))
        return error_set(w->err, ERR_INVALID, "server.listen",
                         "%s: server.listen: expected ADDRESS:PORT, got \"%s\"", w->file,
                         c->server.listen);
    if (*c->server.token_listen && !strchr(c->server.token_listen, ':'))
        return error_set(w->err, ERR_INVALID, "server.token_listen",
                         "%s: server.token_listen: expected ADDRESS:PORT, got \"%s\"", w->file,
                         c->server.token_listen);
    /* the same address twice cannot be bound (port 0: the kernel picks two ports) */
    if (*c->server.token_listen && !strcmp(c->server.token_listen, c->server.listen) &&
        strcmp(strrchr(c->server.listen, ':'), ":0") != 0)
        return error_set(w->err, ERR_INVALID, "server.token_listen",
                         "%s: server.token_listen: must differ from server.listen (\"%s\")",
                         w->file, c->server.listen);
    for (int i = 0; i < c->pool.n_nodes; i++)
        for (int j = 0; j < c->pool.nodes[i].n_gpus; j++) {
            char gpath[64];
            snprintf(gpath, sizeof(gpath), "pool.nodes[%d].gpus[%d]", i, j);
            if (mig_layout_validate(&c->pool.nodes[i].gpus[j], w->file, gpath, w->err) < 0)
                return -ERR_INVALID;
        }
    return 0;
}

int config_load_string(const char *text, size_t len, const char *name, struct config **ret,
                       struct error *err)
{
    yaml_document_t doc;
    struct yw_problem pb;
    int r = 0;
    struct config *c = config_new_default();
    if (!c)
        return error_set(err, ERR_NOMEM, "", "out of memory");
    if (config_set_string(&c->path, name) < 0) {
        config_free(c);
        return error_set(err, ERR_NOMEM, "", "out of memory");
    }
    r = yw_load(text, len, &doc, &pb);
    if (r < 0) {
        config_free(c);
        if (r == -ERR_NOMEM)
            return error_set(err, ERR_NOMEM, "", "out of memory");
        return error_set(err, ERR_INVALID, "", "%s:%zu: YAML syntax error: %s", name, pb.line,
                         pb.reason ? pb.reason : "unknown");
    }
    struct walk w = {.c = c, .doc = &doc, .file = name, .err = err};
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root && root->type != YAML_MAPPING_NODE)
        r = fail(&w, root, "(top)", "the file must be a mapping of keys");
    if (r == 0)
        r = yaml_unique_keys(&doc, name, err);
    if (r == 0 && root)
        r = walk_mapping(&w, root, "");
    if (r == 0)
        r = validate(&w);
    yaml_document_delete(&doc);
    if (r < 0) {
        config_free(c);
        return r;
    }
    *ret = c;
    return 0;
}

int config_load_file(const char *path, struct config **ret, struct error *err)
{
    char *buf = NULL;
    size_t len = 0;
    int r = read_file(path, CONFIG_MAX_FILE_BYTES, &buf, &len, err);
    if (r < 0)
        return r;
    r = config_load_string(buf, len, path, ret, err);
    free(buf);
    return r;
}
