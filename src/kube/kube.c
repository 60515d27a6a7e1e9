/* The Kubernetes REST client: paths, requests with retries, Status errors, watch. */
#include "kube/kube.h"
#include "common/util.h"
#include "common/strbuf.h"
#include "common/log.h"
#include "common/timeutil.h"

#include <curl/curl.h>
#include <sodium.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define KUBE_MAX_BODY (64 * 1024 * 1024) /* largest answer we accept (lists of 1000s) */
#define KUBE_RETRY_AFTER_CAP_S 30
#define WATCH_LINE_MAX (4 * 1024 * 1024)

/* ---- kinds ---- */

struct kube_kind {
    const char *api_version;
    const char *kind;
    const char *resource;
    bool namespaced;
};

static const struct kube_kind kinds[] = {
    {"v1", "Namespace", "namespaces", false},
    {"v1", "Node", "nodes", false},
    {"v1", "ServiceAccount", "serviceaccounts", true},
    {"v1", "ConfigMap", "configmaps", true},
    {"v1", "Secret", "secrets", true},
    {"v1", "PersistentVolumeClaim", "persistentvolumeclaims", true},
    {"v1", "PersistentVolume", "persistentvolumes", false},
    {"v1", "Service", "services", true},
    {"v1", "Pod", "pods", true},
    {"v1", "ResourceQuota", "resourcequotas", true},
    {"v1", "LimitRange", "limitranges", true},
    {"v1", "Event", "events", true},
    {"apps/v1", "Deployment", "deployments", true},
    {"apps/v1", "ReplicaSet", "replicasets", true},
    {"rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", true},
    {"rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", false},
    {"rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", false},
    {"networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", true},
    {"networking.k8s.io/v1", "Ingress", "ingresses", true},
    {"coordination.k8s.io/v1", "Lease", "leases", true},
    {"route.openshift.io/v1", "Route", "routes", true},
    {"gateway.networking.k8s.io/v1", "HTTPRoute", "httproutes", true},
    /* read by `gpuaas doctor` only (the admin's kubeconfig), never by the reconciler */
    {"storage.k8s.io/v1", "StorageClass", "storageclasses", false},
    {"gateway.networking.k8s.io/v1", "Gateway", "gateways", true},
    {"apiextensions.k8s.io/v1", "CustomResourceDefinition", "customresourcedefinitions", false},
    {"nvidia.com/v1", "ClusterPolicy", "clusterpolicies", false},
    {"postgresql.cnpg.io/v1", "Cluster", "clusters", true},
    {"authorization.k8s.io/v1", "SubjectAccessReview", "subjectaccessreviews", false},
    {"imageregistry.operator.openshift.io/v1", "Config", "configs", false},
};

static const struct kube_kind *find_kind(const char *api_version, const char *kind)
{
    for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
        if (!strcmp(kinds[i].api_version, api_version) && !strcmp(kinds[i].kind, kind))
            return &kinds[i];
    return NULL;
}

static bool dns_safe(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '.' ||
              *s == ':' || (*s >= 'A' && *s <= 'Z')))
            return false;
    return true;
}

int kube_path(const char *api_version, const char *kind, const char *ns, const char *name,
              char *buf, size_t n, struct error *err)
{
    if (!api_version || !kind)
        return error_set(err, ERR_INVALID, "kind", "object without apiVersion or kind");
    const struct kube_kind *k = find_kind(api_version, kind);
    if (!k)
        return error_set(err, ERR_INVALID, "kind", "unsupported kind %s %s", api_version, kind);
    if ((ns && !dns_safe(ns)) || (name && !dns_safe(name)))
        return error_set(err, ERR_INVALID, "metadata.name", "invalid name for %s", kind);
    bool core = !strchr(api_version, '/');
    int w;
    if (k->namespaced && ns && ns[0])
        w = snprintf(buf, n, "/%s/%s/namespaces/%s/%s%s%s", core ? "api" : "apis", api_version, ns,
                     k->resource, name ? "/" : "", name ? name : "");
    else
        w = snprintf(buf, n, "/%s/%s/%s%s%s", core ? "api" : "apis", api_version, k->resource,
                     name ? "/" : "", name ? name : "");
    if (w < 0 || (size_t)w >= n)
        return error_set(err, ERR_INVALID, "metadata.name", "path too long for %s", kind);
    return 0;
}

/* ---- Status errors and retries ---- */

static int code_for(long http, const char *reason)
{
    switch (http) {
    case 400:
    case 422:
        return ERR_INVALID;
    case 401:
        return ERR_UNAUTH;
    case 403:
        return ERR_FORBIDDEN;
    case 404:
    case 410:
        return ERR_NOT_FOUND;
    case 409:
        return reason && !strcmp(reason, "AlreadyExists") ? ERR_EXISTS : ERR_STATE;
    case 413:
        return ERR_TOO_LARGE;
    case 429:
        return ERR_RATE;
    default:
        return http >= 500 ? ERR_UNAVAILABLE : ERR_INTERNAL;
    }
}

int kube_status_to_error(long http_status, const char *body, size_t len, struct error *err)
{
    const char *reason = NULL, *message = NULL;
    json_t *j = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    if (json_is_object(j) && json_is_string(json_object_get(j, "kind")) &&
        !strcmp(json_string_value(json_object_get(j, "kind")), "Status")) {
        reason = json_string_value(json_object_get(j, "reason"));
        message = json_string_value(json_object_get(j, "message"));
        json_t *c = json_object_get(j, "code");
        if (json_is_integer(c) && json_integer_value(c) >= 400 && json_integer_value(c) < 600 &&
            http_status < 400)
            http_status = (long)json_integer_value(c);
    }
    int code = code_for(http_status, reason);
    if (message && message[0])
        error_set(err, code, reason ? reason : "", "%s", message);
    else
        error_set(err, code, reason ? reason : "", "the Kubernetes API answered HTTP %ld",
                  http_status);
    json_decref(j);
    return -code;
}

bool kube_status_retryable(long http_status)
{
    return http_status == 429 || http_status == 500 || http_status == 502 || http_status == 503 ||
           http_status == 504;
}

long kube_backoff_ms(int attempt, long base_ms, long cap_ms, long retry_after_s, unsigned rnd)
{
    if (attempt < 1)
        attempt = 1;
    long d = base_ms;
    for (int i = 1; i < attempt && d < cap_ms; i++)
        d *= 2;
    if (d > cap_ms)
        d = cap_ms;
    /* Equal jitter: half fixed, half random, so retries of many clients spread out. */
    long half = d / 2;
    d = half + (half > 0 ? (long)(rnd % (unsigned)(half + 1)) : 0);
    if (retry_after_s > 0) {
        if (retry_after_s > KUBE_RETRY_AFTER_CAP_S)
            retry_after_s = KUBE_RETRY_AFTER_CAP_S;
        if (d < retry_after_s * 1000)
            d = retry_after_s * 1000;
    }
    return d;
}

long kube_parse_retry_after(const char *value)
{
    if (!value)
        return 0;
    while (*value == ' ')
        value++;
    char *end = NULL;
    long v = strtol(value, &end, 10);
    if (end == value || v < 0)
        return 0;
    while (*end == ' ' || *end == '\r' || *end == '\n')
        end++;
    return *end ? 0 : v;
}

bool kube_error_is_exceeded_quota(const struct error *err)
{
    return err && err->code == ERR_FORBIDDEN && strstr(err->message, "exceeded quota");
}

/* ---- client ---- */

struct kube_client {
    struct kube_config *kc;
    struct kube_client_opts o;
    CURL *curl;
    struct curl_slist *auth_hdr;
    int64_t token_read_ms; /* monotonic time the token file was last read */
    unsigned long requests;
    unsigned rnd;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void kube_client_free(struct kube_client *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    curl_slist_free_all(c->auth_hdr);
    kube_config_free(c->kc);
    free(c);
}

const struct kube_config *kube_client_config(const struct kube_client *c)
{
    return c->kc;
}

unsigned long kube_client_requests(const struct kube_client *c)
{
    return c ? c->requests : 0;
}

/* c->auth_hdr from c->kc->token. 0, or -1 out of memory. */
static int set_auth(struct kube_client *c)
{
    curl_slist_free_all(c->auth_hdr);
    c->auth_hdr = NULL;
    if (!c->kc->token)
        return 0;
    char *h = NULL;
    if (asprintf(&h, "Authorization: Bearer %s", c->kc->token) < 0)
        return -1;
    c->auth_hdr = curl_slist_append(NULL, h);
    sodium_memzero(h, strlen(h));
    free(h);
    return c->auth_hdr ? 0 : -1;
}

int kube_client_new(struct kube_config *kc, const struct kube_client_opts *opts,
                    struct kube_client **ret, struct error *err)
{
    pthread_once(&curl_once, curl_init_once);
    struct kube_client *c = calloc(1, sizeof(*c));
    if (!c) {
        kube_config_free(kc);
        return error_set(err, ERR_NOMEM, "", "out of memory");
    }
    c->kc = kc;
    if (opts)
        c->o = *opts;
    if (c->o.timeout_ms <= 0)
        c->o.timeout_ms = 30000;
    if (c->o.connect_ms <= 0)
        c->o.connect_ms = 5000;
    if (c->o.max_retries == 0)
        c->o.max_retries = 5;
    if (c->o.max_retries < 0)
        c->o.max_retries = 0;
    if (c->o.backoff_base_ms <= 0)
        c->o.backoff_base_ms = 100;
    if (c->o.backoff_cap_ms <= 0)
        c->o.backoff_cap_ms = 5000;
    c->rnd = (unsigned)time(NULL) ^ (unsigned)getpid();
    c->curl = curl_easy_init();
    if (!c->curl) {
        kube_client_free(c);
        return error_set(err, ERR_NOMEM, "", "curl_easy_init failed");
    }
    if (c->o.token_reread_ms == 0)
        c->o.token_reread_ms = 60000;
    c->token_read_ms = time_mono_ms();
    if (set_auth(c)) {
        kube_client_free(c);
        return error_set(err, ERR_NOMEM, "", "out of memory");
    }
    *ret = c;
    return 0;
}

/* Reads the token file again when c->o.token_reread_ms have passed (or force); true when the
 * token changed. A file that cannot be read keeps the token the client has. */
static bool token_refresh(struct kube_client *c, bool force)
{
    struct error err = {0};
    int64_t now = time_mono_ms();
    if (!c->kc->token_file ||
        (!force && c->o.token_reread_ms > 0 && now - c->token_read_ms < c->o.token_reread_ms))
        return false;
    c->token_read_ms = now;
    int rc = kube_config_reload_token(c->kc, &err);
    if (rc < 0)
        log_warn("cannot read the Kubernetes token file again; keeping the token",
                 "file=%s error=\"%s\"", c->kc->token_file, err.message);
    return rc > 0 && set_auth(c) == 0;
}

/* Answers are collected up to KUBE_MAX_BODY bytes, the terminating NUL included. */
#define KUBE_BODY_INIT SB_BODY_INIT(KUBE_MAX_BODY - 1)

struct hdrs {
    long retry_after;
};

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    struct hdrs *h = ud;
    size_t n = size * nmemb;
    if (n > 12 && !strncasecmp(data, "Retry-After:", 12)) {
        char tmp[64];
        size_t l = n - 12 < sizeof(tmp) - 1 ? n - 12 : sizeof(tmp) - 1;
        memcpy(tmp, data + 12, l);
        tmp[l] = '\0';
        h->retry_after = kube_parse_retry_after(tmp);
    }
    return n;
}

static void setup_tls(struct kube_client *c)
{
    CURL *cu = c->curl;
    struct kube_config *kc = c->kc;
    if (kc->insecure) {
        curl_easy_setopt(cu, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(cu, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (kc->ca_data) {
        struct curl_blob blob = {kc->ca_data, kc->ca_len, CURL_BLOB_COPY};
        curl_easy_setopt(cu, CURLOPT_CAINFO_BLOB, &blob);
    } else if (kc->ca_file) {
        curl_easy_setopt(cu, CURLOPT_CAINFO, kc->ca_file);
    }
    if (kc->cert_data) {
        struct curl_blob blob = {kc->cert_data, kc->cert_len, CURL_BLOB_COPY};
        curl_easy_setopt(cu, CURLOPT_SSLCERT_BLOB, &blob);
        curl_easy_setopt(cu, CURLOPT_SSLCERTTYPE, "PEM");
    } else if (kc->cert_file) {
        curl_easy_setopt(cu, CURLOPT_SSLCERT, kc->cert_file);
    }
    if (kc->key_data) {
        struct curl_blob blob = {kc->key_data, kc->key_len, CURL_BLOB_COPY};
        curl_easy_setopt(cu, CURLOPT_SSLKEY_BLOB, &blob);
        curl_easy_setopt(cu, CURLOPT_SSLKEYTYPE, "PEM");
    } else if (kc->key_file) {
        curl_easy_setopt(cu, CURLOPT_SSLKEY, kc->key_file);
    }
}

/* One HTTP exchange. *ret_status = 0 on a network failure (curl error in err). */
static int exchange(struct kube_client *c, const char *method, const char *path_query,
                    const char *content_type, const char *body, struct sb_body *out,
                    long *ret_status, long *ret_retry_after, struct error *err)
{
    CURL *cu = c->curl;
    char url[2048];
    struct curl_slist *h = NULL;
    struct hdrs hd = {0};
    int rc = 0;
    if (snprintf(url, sizeof(url), "%s%s", c->kc->server, path_query) >= (int)sizeof(url))
        return error_set(err, ERR_INVALID, "", "request path too long");
    curl_easy_reset(cu);
    curl_easy_setopt(cu, CURLOPT_URL, url);
    curl_easy_setopt(cu, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(cu, CURLOPT_TIMEOUT_MS, c->o.timeout_ms);
    curl_easy_setopt(cu, CURLOPT_CONNECTTIMEOUT_MS, c->o.connect_ms);
    curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, sb_body_curl_write);
    curl_easy_setopt(cu, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(cu, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(cu, CURLOPT_HEADERDATA, &hd);
    curl_easy_setopt(cu, CURLOPT_PROTOCOLS_STR, "http,https");
    setup_tls(c);
    for (struct curl_slist *a = c->auth_hdr; a; a = a->next)
        h = curl_slist_append(h, a->data);
    h = curl_slist_append(h, "Accept: application/json");
    if (body) {
        char ct[128];
        snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
        h = curl_slist_append(h, ct);
        curl_easy_setopt(cu, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(cu, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else if (!strcmp(method, "HEAD")) {
        curl_easy_setopt(cu, CURLOPT_NOBODY, 1L);
    }
    curl_easy_setopt(cu, CURLOPT_HTTPHEADER, h);
    c->requests++;
    CURLcode cr = curl_easy_perform(cu);
    *ret_status = 0;
    *ret_retry_after = hd.retry_after;
    if (out->too_large) {
        rc = error_set(err, ERR_TOO_LARGE, "", "the Kubernetes API answer is larger than %d bytes",
                       KUBE_MAX_BODY);
        goto out;
    }
    if (cr != CURLE_OK) {
        rc = error_set(err, ERR_IO, "", "Kubernetes API %s: %s", c->kc->server,
                       curl_easy_strerror(cr));
        goto out;
    }
    curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, ret_status);
out:
    curl_easy_setopt(cu, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(h);
    return rc;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* A request with retries; on 2xx, *ret (may be NULL) receives the decoded JSON answer. */
static int request(struct kube_client *c, const char *method, const char *path_query,
                   const char *content_type, const char *body, json_t **ret, struct error *err)
{
    int rc = 0;
    bool reauth = false;
    token_refresh(c, false);
    for (int attempt = 0;; attempt++) {
        struct sb_body out = KUBE_BODY_INIT;
        long status = 0, retry_after = 0;
        rc = exchange(c, method, path_query, content_type, body, &out, &status, &retry_after, err);
        bool retry = false;
        if (rc == -ERR_IO) {
            retry = true;
        } else if (rc == 0 && status == 401 && !reauth && token_refresh(c, true)) {
            /* the token was rotated under us: once more with the new one, at once */
            reauth = true;
            sb_release(&out.sb);
            attempt--;
            continue;
        } else if (rc == 0 && (status < 200 || status >= 300)) {
            rc = kube_status_to_error(status, out.sb.buf, out.sb.len, err);
            retry = kube_status_retryable(status);
        } else if (rc == 0) {
            if (ret) {
                json_error_t je;
                json_t *j = out.sb.len ? json_loadb(out.sb.buf, out.sb.len, 0, &je) : json_object();
                if (!j)
                    rc = error_set(err, ERR_INVALID, "", "the Kubernetes API sent invalid JSON: %s",
                                   je.text);
                else
                    *ret = j;
            }
        }
        sb_release(&out.sb);
        if (!retry || attempt >= c->o.max_retries)
            return rc;
        c->rnd = c->rnd * 1103515245u + 12345u;
        sleep_ms(kube_backoff_ms(attempt + 1, c->o.backoff_base_ms, c->o.backoff_cap_ms,
                                 retry_after, c->rnd >> 8));
    }
}

static int obj_path(const json_t *obj, bool with_name, char *buf, size_t n, struct error *err)
{
    const char *av = json_string_value(json_object_get(obj, "apiVersion"));
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    json_t *md = json_object_get(obj, "metadata");
    const char *name = json_string_value(json_object_get(md, "name"));
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    if (!name || !name[0])
        return error_set(err, ERR_INVALID, "metadata.name", "object without metadata.name");
    return kube_path(av, kind, ns, with_name ? name : NULL, buf, n, err);
}

int kube_apply(struct kube_client *c, const json_t *obj, json_t **ret, struct error *err)
{
    char path[1024];
    int rc = obj_path(obj, true, path, sizeof(path) - 48, err);
    if (rc)
        return rc;
    strcat(path, "?fieldManager=gpuaas&force=true");
    char *body = json_dumps(obj, JSON_COMPACT);
    if (!body)
        return error_set(err, ERR_NOMEM, "", "out of memory");
    rc = request(c, "PATCH", path, "application/apply-patch+yaml", body, ret, err);
    free(body);
    return rc;
}

int kube_create(struct kube_client *c, const json_t *obj, json_t **ret, struct error *err)
{
    char path[1024];
    int rc = obj_path(obj, false, path, sizeof(path), err);
    if (rc)
        return rc;
    char *body = json_dumps(obj, JSON_COMPACT);
    if (!body)
        return error_set(err, ERR_NOMEM, "", "out of memory");
    rc = request(c, "POST", path, "application/json", body, ret, err);
    free(body);
    return rc;
}

int kube_replace(struct kube_client *c, const json_t *obj, json_t **ret, struct error *err)
{
    char path[1024];
    int rc = obj_path(obj, true, path, sizeof(path) - 32, err);
    if (rc)
        return rc;
    strcat(path, "?fieldManager=gpuaas");
    char *body = json_dumps(obj, JSON_COMPACT);
    if (!body)
        return error_set(err, ERR_NOMEM, "", "out of memory");
    rc = request(c, "PUT", path, "application/json", body, ret, err);
    free(body);
    return rc;
}

int kube_get(struct kube_client *c, const char *api_version, const char *kind, const char *ns,
             const char *name, json_t **ret, struct error *err)
{
    char path[1024];
    int rc = kube_path(api_version, kind, ns, name, path, sizeof(path), err);
    if (rc)
        return rc;
    return request(c, "GET", path, NULL, NULL, ret, err);
}

int kube_get_path(struct kube_client *c, const char *path, json_t **ret, struct error *err)
{
    if (path[0] != '/' || strchr(path, '?') || strstr(path, ".."))
        return error_set(err, ERR_INVALID, "path", "not an API path: %s", path);
    return request(c, "GET", path, NULL, NULL, ret, err);
}

/* Appends ?labelSelector=... (URL-encoded) to path. */
static int add_query(struct kube_client *c, char *path, size_t n, const char *key,
                     const char *value, bool *first)
{
    if (!value || !value[0])
        return 0;
    char *enc = curl_easy_escape(c->curl, value, 0);
    if (!enc)
        return -ERR_NOMEM;
    size_t l = strlen(path);
    int w = snprintf(path + l, n - l, "%c%s=%s", *first ? '?' : '&', key, enc);
    curl_free(enc);
    *first = false;
    return w < 0 || (size_t)w >= n - l ? -ERR_INVALID : 0;
}

int kube_list(struct kube_client *c, const char *api_version, const char *kind, const char *ns,
              const char *label_selector, json_t **ret, struct error *err)
{
    char path[2048];
    bool first = true;
    int rc = kube_path(api_version, kind, ns, NULL, path, sizeof(path), err);
    if (rc)
        return rc;
    if (add_query(c, path, sizeof(path), "labelSelector", label_selector, &first))
        return error_set(err, ERR_INVALID, "labelSelector", "label selector too long");
    return request(c, "GET", path, NULL, NULL, ret, err);
}

int kube_delete(struct kube_client *c, const char *api_version, const char *kind, const char *ns,
                const char *name, const char *propagation, struct error *err)
{
    char path[1024];
    int rc = kube_path(api_version, kind, ns, name, path, sizeof(path), err);
    if (rc)
        return rc;
    char body[128] = "";
    if (propagation)
        snprintf(body, sizeof(body),
                 "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"propagationPolicy\":\"%s\"}",
                 propagation);
    return request(c, "DELETE", path, "application/json", propagation ? body : NULL, NULL, err);
}

int kube_delete_now(struct kube_client *c, const char *api_version, const char *kind,
                    const char *ns, const char *name, struct error *err)
{
    static const char query[] = "?gracePeriodSeconds=0";
    char path[1024 + sizeof(query)];
    int rc = kube_path(api_version, kind, ns, name, path, sizeof(path) - sizeof(query), err);
    if (rc)
        return rc;
    strcat(path, query);
    return request(c, "DELETE", path, "application/json",
                   "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"gracePeriodSeconds\":0}",
                   NULL, err);
}

int kube_finalize_namespace(struct kube_client *c, const char *name, struct error *err)
{
    json_t *ns = NULL;
    char path[512];
    int rc = kube_get(c, "v1", "Namespace", NULL, name, &ns, err);
    if (rc)
        return rc;
    json_t *spec = json_object_get(ns, "spec");
    if (!json_is_object(spec)) {
        spec = json_object();
        json_object_set_new(ns, "spec", spec);
    }
    json_object_set_new(spec, "finalizers", json_array());
    char *body = json_dumps(ns, JSON_COMPACT);
    if (!body) {
        rc = error_set(err, ERR_NOMEM, "", "out of memory");
        goto out;
    }
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/finalize", name);
    rc = request(c, "PUT", path, "application/json", body, NULL, err);
    free(body);
out:
    json_decref(ns);
    return rc;
}

/* ---- watch ---- */

struct watch_ctx {
    struct sb_body line;
    kube_watch_fn fn;
    void *ud;
    bool stopped;
    bool bad;
    long status;
    CURL *curl;
};

static size_t on_watch(char *data, size_t size, size_t nmemb, void *ud)
{
    struct watch_ctx *w = ud;
    size_t n = size * nmemb;
    if (!w->status)
        curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &w->status);
    for (size_t i = 0; i < n; i++) {
        if (data[i] != '\n') {
            if (w->line.sb.len + 2 > WATCH_LINE_MAX) {
                w->bad = true;
                return 0;
            }
            if (sb_body_add(&w->line, &data[i], 1) < 0)
                return 0;
            continue;
        }
        if (w->status >= 200 && w->status < 300 && w->line.sb.len) {
            json_t *ev = json_loadb(w->line.sb.buf, w->line.sb.len, 0, NULL);
            const char *type = json_string_value(json_object_get(ev, "type"));
            json_t *obj = json_object_get(ev, "object");
            int stop = 0;
            if (type && json_is_object(obj))
                stop = w->fn(type, obj, w->ud);
            else
                w->bad = true;
            json_decref(ev);
            sb_reset(&w->line.sb);
            if (stop || w->bad) {
                w->stopped = stop != 0;
                return 0;
            }
        } else if (w->status >= 200 && w->status < 300) {
            sb_reset(&w->line.sb);
        } else if (sb_body_add(&w->line, &data[i], 1) < 0) {
            return 0;
        }
    }
    return n;
}

int kube_watch(struct kube_client *c, const char *api_version, const char *kind, const char *ns,
               const char *label_selector, const char *resource_version, int timeout_s,
               kube_watch_fn fn, void *ud, struct error *err)
{
    char path[2048], url[2560];
    bool first = true;
    int rc = kube_path(api_version, kind, ns, NULL, path, sizeof(path), err);
    if (rc)
        return rc;
    char to[16];
    snprintf(to, sizeof(to), "%d", timeout_s > 0 ? timeout_s : 60);
    if (add_query(c, path, sizeof(path), "watch", "true", &first) ||
        add_query(c, path, sizeof(path), "labelSelector", label_selector, &first) ||
        add_query(c, path, sizeof(path), "resourceVersion", resource_version, &first) ||
        add_query(c, path, sizeof(path), "allowWatchBookmarks", "true", &first) ||
        add_query(c, path, sizeof(path), "timeoutSeconds", to, &first))
        return error_set(err, ERR_INVALID, "", "watch query too long");
    snprintf(url, sizeof(url), "%s%s", c->kc->server, path);
    struct watch_ctx w = {.line = KUBE_BODY_INIT, .fn = fn, .ud = ud, .curl = c->curl};
    struct curl_slist *h = NULL;
    CURL *cu = c->curl;
    token_refresh(c, false);
    curl_easy_reset(cu);
    curl_easy_setopt(cu, CURLOPT_URL, url);
    curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(cu, CURLOPT_TIMEOUT_MS, (long)(timeout_s > 0 ? timeout_s : 60) * 1000 + 5000);
    curl_easy_setopt(cu, CURLOPT_CONNECTTIMEOUT_MS, c->o.connect_ms);
    curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, on_watch);
    curl_easy_setopt(cu, CURLOPT_WRITEDATA, &w);
    curl_easy_setopt(cu, CURLOPT_PROTOCOLS_STR, "http,https");
    setup_tls(c);
    for (struct curl_slist *a = c->auth_hdr; a; a = a->next)
        h = curl_slist_append(h, a->data);
    h = curl_slist_append(h, "Accept: application/json");
    curl_easy_setopt(cu, CURLOPT_HTTPHEADER, h);
    c->requests++;
    CURLcode cr = curl_easy_perform(cu);
    long status = 0;
    curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_setopt(cu, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(h);
    if (w.stopped)
        rc = 0;
    else if (w.bad)
        rc = error_set(err, ERR_INVALID, "", "the Kubernetes API sent an invalid watch event");
    else if (status && (status < 200 || status >= 300))
        rc = kube_status_to_error(status, w.line.sb.buf, w.line.sb.len, err);
    else if (cr != CURLE_OK && cr != CURLE_OPERATION_TIMEDOUT)
        rc = error_set(err, ERR_IO, "", "Kubernetes API watch: %s", curl_easy_strerror(cr));
    sb_release(&w.line.sb);
    return rc;
}
