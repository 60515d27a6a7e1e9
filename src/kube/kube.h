/* Kubernetes REST client over libcurl + jansson: kubeconfig and in-cluster authentication,
 * server-side apply, create, get, list, delete, watch, `kind: Status` errors, and retries of
 * 429/5xx/network failures with capped exponential backoff that honours Retry-After.
 *
 * DESIGN: objects are plain json_t values; the REST path of an object comes from a static
 * table of the kinds gpuaas uses (apiVersion + kind -> group, version, plural, scope). A
 * struct kube_client owns one CURL easy handle, so connections are reused; it is used by one
 * thread at a time (open one client per thread).
 *
 * Errors: 0 or -ERR_*; err (may be NULL) gets the Status message, with err->field set to the
 * Kubernetes reason ("NotFound", "AlreadyExists", "Forbidden", ...). Mapping: 400/422
 * ERR_INVALID, 401 ERR_UNAUTH, 403 ERR_FORBIDDEN, 404/410 ERR_NOT_FOUND, 409 AlreadyExists
 * ERR_EXISTS, other 409 ERR_STATE, 429 ERR_RATE, 5xx ERR_UNAVAILABLE, network ERR_IO.
 * Library code: never logs. */
#ifndef GPUAAS_KUBE_KUBE_H
#define GPUAAS_KUBE_KUBE_H

#include "common/error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Where and how to reach the API server. Strings are malloc'ed and owned by the struct. */
struct kube_config {
    char *server;     /* https://host:port (no trailing slash) */
    char *namespace_; /* context namespace, may be NULL */
    char *ca_file;    /* certificate-authority path, NULL when none */
    char *ca_data;    /* PEM bytes (decoded certificate-authority-data) */
    size_t ca_len;
    bool insecure;    /* insecure-skip-tls-verify */
    char *token;      /* bearer token (from token or tokenFile) */
    char *token_file; /* where token came from (tokenFile, in-cluster), re-read by the client */
    char *cert_file;  /* client-certificate */
    char *cert_data;  /* PEM bytes (client-certificate-data) */
    size_t cert_len;
    char *key_file; /* client-key */
    char *key_data; /* PEM bytes (client-key-data) */
    size_t key_len;
};

/* Parses kubeconfig YAML text: current-context -> its cluster and user. Relative file paths
 * are resolved against `dir` (the kubeconfig's folder; NULL = as given). *ret is owned by the
 * caller (kube_config_free). -ERR_INVALID with err naming the key on a bad file. */
int kube_config_parse(const char *text, size_t len, const char *dir, struct kube_config **ret,
                      struct error *err);
int kube_config_load_file(const char *path, struct kube_config **ret, struct error *err);
/* In-cluster: KUBERNETES_SERVICE_HOST/PORT and <root>/token, <root>/ca.crt, <root>/namespace
 * (root NULL = /var/run/secrets/kubernetes.io/serviceaccount). */
int kube_config_in_cluster(const char *root, struct kube_config **ret, struct error *err);
/* path non-empty: that file; else $KUBECONFIG; else in-cluster. */
int kube_config_resolve(const char *path, struct kube_config **ret, struct error *err);
void kube_config_free(struct kube_config *kc);
/* Reads kc->token_file again: 1 when the token changed, 0 when it did not (or kc has no token
 * file), -ERR_* when it cannot be read (kc->token is kept). */
int kube_config_reload_token(struct kube_config *kc, struct error *err);
/* *ret = the notAfter (unix seconds) of kc's client certificate (client-certificate or
 * client-certificate-data), 0 when it has none. -ERR_IO / -ERR_INVALID with err. */
int kube_config_cert_not_after(const struct kube_config *kc, int64_t *ret, struct error *err);
/* *ret = the "exp" claim of kc's bearer token when it is a JWT (a service account token), read
 * without verifying it (the API server does that); 0 for an opaque token or none. */
int kube_config_token_expiry(const struct kube_config *kc, int64_t *ret);

/* ---- Status errors and retry decisions (pure) ---- */

/* Fills err from an HTTP status and response body (a `kind: Status` object when the server
 * sent one; otherwise a generic sentence). Returns the mapped -ERR_* code. */
int kube_status_to_error(long http_status, const char *body, size_t len, struct error *err);
/* True for statuses worth retrying unchanged: 429, 500, 502, 503, 504. */
bool kube_status_retryable(long http_status);
/* Delay before retry number `attempt` (1 = first retry): base_ms × 2^(attempt-1) capped at
 * cap_ms, with "equal jitter" from `rnd` (any value); a Retry-After of retry_after_s > 0
 * seconds raises the delay to at least that (also capped at 30 s). */
long kube_backoff_ms(int attempt, long base_ms, long cap_ms, long retry_after_s, unsigned rnd);
/* Parses a Retry-After header value (delta-seconds only); 0 when absent or not a number. */
long kube_parse_retry_after(const char *value);
/* True when err (from a create/apply) is the quota refusal 403 "exceeded quota". */
bool kube_error_is_exceeded_quota(const struct error *err);

/* ---- paths ---- */

/* Builds the REST path of a kind ("/api/v1/namespaces/NS/pods/NAME"); ns may be NULL/"" for
 * cluster-scoped kinds or for a list across all namespaces; name may be NULL for the
 * collection. -ERR_INVALID for a kind not in the table. */
int kube_path(const char *api_version, const char *kind, const char *ns, const char *name,
              char *buf, size_t n, struct error *err);

/* ---- client ---- */

struct kube_client;

struct kube_client_opts {
    long timeout_ms;      /* per request (0 = 30000) */
    long connect_ms;      /* connect timeout (0 = 5000) */
    int max_retries;      /* retries after the first attempt (0 = default 5; -1 = none) */
    long backoff_base_ms; /* 0 = 100 */
    long backoff_cap_ms;  /* 0 = 5000 */
    /* a token from a file is read again this often (0 = 60000, -1 = before every request), and
     * at once after a 401: the kubelet rotates projected service-account tokens */
    long token_reread_ms;
};

/* Takes ownership of kc (freed by kube_client_free, also on failure). opts may be NULL. */
int kube_client_new(struct kube_config *kc, const struct kube_client_opts *opts,
                    struct kube_client **ret, struct error *err);
void kube_client_free(struct kube_client *c);
/* The configuration the client uses (its token as last read). */
const struct kube_config *kube_client_config(const struct kube_client *c);
/* Number of HTTP requests sent (retries included), for tests and benchmarks. */
unsigned long kube_client_requests(const struct kube_client *c);

/* Server-side apply of obj (apiVersion, kind, metadata.name, metadata.namespace when
 * namespaced): PATCH application/apply-patch+yaml, fieldManager=gpuaas, force=true.
 * *ret (may be NULL) receives the object the server returned. */
int kube_apply(struct kube_client *c, const json_t *obj, json_t **ret, struct error *err);
/* POST obj; -ERR_EXISTS when it already exists. */
int kube_create(struct kube_client *c, const json_t *obj, json_t **ret, struct error *err);
/* PUT obj (metadata.resourceVersion set: replaced only if unchanged since, else -ERR_STATE):
 * the whole object becomes obj, fields other managers added included. */
int kube_replace(struct kube_client *c, const json_t *obj, json_t **ret, struct error *err);
int kube_get(struct kube_client *c, const char *api_version, const char *kind, const char *ns,
             const char *name, json_t **ret, struct error *err);
/* GET of a fixed API path such as "/version" (JSON answer). */
int kube_get_path(struct kube_client *c, const char *path, json_t **ret, struct error *err);
/* ns NULL/"" = all namespaces (or a cluster-scoped kind); selector may be NULL. *ret is the
 * List object (items). */
int kube_list(struct kube_client *c, const char *api_version, const char *kind, const char *ns,
              const char *label_selector, json_t **ret, struct error *err);
/* propagation: "Background", "Foreground", "Orphan" or NULL. -ERR_NOT_FOUND when absent. */
int kube_delete(struct kube_client *c, const char *api_version, const char *kind, const char *ns,
                const char *name, const char *propagation, struct error *err);
/* DELETE with gracePeriodSeconds 0 (query and DeleteOptions): the object goes at once, a pod
 * without waiting for its containers to stop. -ERR_NOT_FOUND when absent. */
int kube_delete_now(struct kube_client *c, const char *api_version, const char *kind,
                    const char *ns, const char *name, struct error *err);
/* PUT /api/v1/namespaces/NAME/finalize with spec.finalizers emptied (stuck Terminating). */
int kube_finalize_namespace(struct kube_client *c, const char *name, struct error *err);

/* Watch callback: one event ("ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR") and the
 * object (borrowed). Return non-zero to stop the watch. */
typedef int (*kube_watch_fn)(const char *type, json_t *object, void *ud);
/* Streams events until the server ends the watch, timeout_s passes, or fn returns non-zero.
 * resource_version may be NULL. Returns 0 or -ERR_*. */
int kube_watch(struct kube_client *c, const char *api_version, const char *kind, const char *ns,
               const char *label_selector, const char *resource_version, int timeout_s,
               kube_watch_fn fn, void *ud, struct error *err);

#endif
