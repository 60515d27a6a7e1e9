/* The in-memory Kubernetes API server behind gpuaas-kubesim: REST routing, storage, admission
 * (namespace lifecycle, LimitRange, ResourceQuota), simulated controllers, watch, faults.
 *
 * DESIGN: one mutex guards everything. Objects live in a two-level jansson map
 * (resource.group -> "namespace/name" -> object). Controllers are timed tasks run by
 * ksim_tick() from a background thread; watch events go to a bounded ring buffer. */
#ifndef GPUAAS_KUBESIM_SIM_H
#define GPUAAS_KUBESIM_SIM_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct ksim_schema;

struct ksim_options {
    const char *token;          /* bearer token required on every request; NULL = none */
    int quota_delay_ms;         /* quota controller: status.hard filled after this */
    int pod_ready_delay_ms;     /* pods Running/Ready after this */
    int ns_delete_delay_ms;     /* namespace controller: contents removed after this */
    struct ksim_schema *schema; /* borrowed; NULL disables validation */
    const char *server_address; /* "127.0.0.1:PORT" for /api */
    const char *node_resources; /* "nvidia.com/gpu=8,..." added to the seeded node; NULL = none */
    /* the command that evaluates ValidatingAdmissionPolicies (CEL), one JSON line in and out
     * per policy and request (sim_policy.c); NULL = policies are not evaluated, which each
     * matching request is told in a Warning */
    const char *cel_eval;
    /* who the bearer token is, for admission policies (request.userInfo), e.g. the reconciler's
     * "system:serviceaccount:gpuaas-system:gpuaas-reconciler"; NULL = "kubesim-admin" in
     * system:masters. RBAC never applies to the token: it keeps every right. */
    const char *token_user;
};

struct ksim_fault {
    int kind; /* 0 none, 500, 429, 1 drop, 2 latency */
    int latency_ms;
    long fail_nth;  /* fail only the Nth matching request (1-based); 0 = by every or rate */
    long every;     /* fail every Nth matching request (N, 2N, ...); 0 = by rate */
    double rate;    /* probability per matching request when fail_nth == every == 0 */
    char path[256]; /* only requests whose path contains this */
};

/* What the HTTP layer should send back. body is malloc'ed and owned by the response. */
struct ksim_response {
    int status;
    char *body;
    size_t len;
    const char *content_type;
    int retry_after;   /* seconds; 0 = no header */
    int drop;          /* close the connection without answering */
    int latency_ms;    /* sleep before answering */
    char warning[512]; /* "" or the text of a Warning header (kubectl prints it) */
    /* watch: when set, the HTTP layer streams ksim_watch_next() instead of body */
    int watch;
    char watch_key[160];
    char watch_ns[64];
    char watch_labels[512];
    char watch_fields[512];
    uint64_t watch_rv;
    int watch_timeout_s;
};

struct ksim;

struct ksim *ksim_new(const struct ksim_options *opt);
void ksim_free(struct ksim *k);
void ksim_set_fault(struct ksim *k, const struct ksim_fault *f);
/* Parses "500|429|drop|latency:MS|none" into f->kind/latency_ms. 0 or -ERR_INVALID. */
int ksim_parse_fault(const char *s, struct ksim_fault *f);

/* Handles one request. query is an object of query parameters (borrowed); accept is the
 * Accept header ("as=Table" gets server-side printing). Never fails: every outcome is an
 * HTTP response. */
void ksim_handle(struct ksim *k, const char *method, const char *path, json_t *query,
                 const char *content_type, const char *accept, const char *authorization,
                 const char *body, size_t body_len, struct ksim_response *ret);
#define KSIM_MAX_IMPERSONATE_GROUPS 12

/* ksim_handle for a request that may impersonate a user (Impersonate-User, and the
 * Impersonate-Group headers, n_groups of them): with as_user set the request is held to RBAC
 * (rbac.h) as that user, and its writes to escalation prevention; as_user NULL = ksim_handle. */
void ksim_handle_as(struct ksim *k, const char *method, const char *path, json_t *query,
                    const char *content_type, const char *accept, const char *authorization,
                    const char *as_user, const char *const *as_groups, int n_groups,
                    const char *body, size_t body_len, struct ksim_response *ret);
void ksim_response_free(struct ksim_response *r);

/* Runs due controller work; now_ms is a monotonic clock. Returns ms until next due task. */
int ksim_tick(struct ksim *k, int64_t now_ms);

/* Waits up to wait_ms for watch events after *rv for the stream described by r; appends
 * newline-separated JSON events to a malloc'ed string in *ret (NULL when none) and advances
 * *rv. Returns 0, 1 when the stream must end (too old / shutdown), or -ERR_*. */
int ksim_watch_next(struct ksim *k, const struct ksim_response *r, uint64_t *rv, int wait_ms,
                    char **ret);
/* Adds a pod fate rule, or an array of rules, given as JSON (see sim_pods.c), as POST
 * /_sim/pods does. 0, or -1 with msg saying what is expected. */
int ksim_pod_fate_add(struct ksim *k, const char *json, char *msg, size_t n);
/* Wakes all watchers and makes ksim_watch_next return 1 (shutdown). */
void ksim_shutdown(struct ksim *k);

#endif
