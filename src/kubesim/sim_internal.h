/* Internal to the Kubernetes API double: the types and helpers its files share
 * (sim.c, sim_store.c, sim_watch.c, sim_admission.c, sim_controllers.c, sim_discovery.c,
 * sim_table.c, sim_handlers.c, sim_http.c, sim_faults.c). Not for use outside src/kubesim.
 *
 * Locking: every ks_* function expects the caller to hold k->mu unless its comment says
 * otherwise; the public entry points in sim.h take it. */
#ifndef GPUAAS_KUBESIM_SIM_INTERNAL_H
#define GPUAAS_KUBESIM_SIM_INTERNAL_H

#include "kubesim/sim.h"

#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "common/error.h"
#include "common/timeutil.h"
#include "kubesim/quantity.h"
#include "kubesim/rbac.h"
#include "kubesim/schema.h"
#include "kubesim/selector.h"
#include "common/yaml_json.h"

#define EVENT_RING 8192
#define MAX_NAME 253

struct rtype {
    const char *group, *version, *resource, *kind, *singular, *shortname;
    int namespaced;
    const char *def;
    int has_status;
};

enum task_type { T_QUOTA, T_NS_DELETE, T_POD_READY, T_DEPLOY, T_POD_KILL };

struct task {
    enum task_type type;
    int64_t due;
    char ns[64];
    char name[MAX_NAME + 1];
};

struct event {
    uint64_t rv;
    char key[160];
    char ns[64];
    char type[12];
    json_t *obj;
};

struct ksim {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct ksim_options opt;
    json_t *store; /* "resource.group" -> { "ns/name" -> object } */
    uint64_t rv;
    uint64_t uid_counter;
    struct task *tasks;
    size_t ntasks, cap_tasks;
    struct event ring[EVENT_RING];
    uint64_t ring_first; /* oldest rv kept is ring[...]; events are stored by sequence */
    uint64_t nevents;
    struct ksim_fault fault;
    long fault_count;
    unsigned rng;
    int shutdown;
    int64_t now_ms; /* last monotonic time seen */
    /* the user an impersonated request acts as, for the request being handled (sim_authz.c);
     * NULL for the double's own token, which keeps every right */
    const struct ksim_rbac_user *as;
    struct ks_policy *policy; /* the admission policy evaluator (sim_policy.c); NULL = none */
    json_t *pod_fates;        /* sim_pods.c: rules, NULL until the first */
};

struct req {
    const char *accept;
    const char *method;
    const struct rtype *rt;
    char ns[64];
    char name[MAX_NAME + 1];
    char sub[32];
    json_t *query;
    const char *ct;
    const char *body;
    size_t body_len;
};

extern const struct rtype rtypes[];
extern const size_t nrtypes;
#define NRTYPES nrtypes

/* sim_store.c */
void ks_now_rfc3339(char *buf);
void ks_rt_key(const struct rtype *rt, char *buf, size_t len);
void ks_obj_key(const char *ns, const char *name, char *buf, size_t len);
const char *ks_api_version(const struct rtype *rt, char *buf, size_t len);
const struct rtype *ks_find_rtype(const char *group, const char *version, const char *res);
const struct rtype *ks_rtype_by_name(const char *res);
json_t *ks_bucket(struct ksim *k, const struct rtype *rt);
json_t *ks_meta(json_t *obj);
const char *ks_mstr(json_t *obj, const char *field);
json_t *ks_lookup(struct ksim *k, const struct rtype *rt, const char *ns, const char *name);
void ks_set_rv(struct ksim *k, json_t *obj);
void ks_add_task(struct ksim *k, enum task_type type, const char *ns, const char *name,
                 int delay_ms);
void ks_rand_suffix(struct ksim *k, char *buf, int n);
void ks_merge_patch(json_t *target, json_t *patch, int null_deletes);
int ks_parse_body(const char *ct, const char *body, size_t len, json_t **ret, struct error *err);
int ks_ns_terminating(json_t *ns);
int ks_do_create(struct ksim *k, const struct rtype *rt, const char *ns, json_t *obj,
                 struct ksim_response *r, char *errmsg, size_t errlen);
void ks_remove_object(struct ksim *k, const struct rtype *rt, const char *ns, const char *name);
int ks_has_finalizers(json_t *obj);
void ks_store_update(struct ksim *k, const struct rtype *rt, const char *ns, json_t *old,
                     json_t *nw);
/* sim_watch.c */
void ks_emit(struct ksim *k, const struct rtype *rt, const char *ns, const char *type, json_t *obj);
/* sim_admission.c */
/* 1 when ResourceQuota counts objects of this resource ("pods", "services", ...). */
int ks_quota_tracks(const char *resource);
int ks_quota_admit(struct ksim *k, const struct rtype *rt, const char *ns, json_t *obj, char *msg,
                   size_t msglen);
void ks_quota_refresh(struct ksim *k, const char *ns, const char *only, int sync_hard);
void ks_limitrange_default(struct ksim *k, const char *ns, json_t *pod);
void ks_apply_defaults(const struct rtype *rt, json_t *obj);
int ks_validate(struct ksim *k, const struct rtype *rt, json_t *obj, struct ksim_response *r);
int ks_check_type_meta(const struct rtype *rt, json_t *obj, struct ksim_response *r);
/* sim_controllers.c */
void ks_after_write(struct ksim *k, const struct rtype *rt, const char *ns, json_t *obj,
                    int created);
void ks_ns_finish(struct ksim *k, const char *name);
/* sim_discovery.c */
json_t *ks_resource_list(const char *group, const char *version);
json_t *ks_group_list(void);
json_t *ks_openapi_v3_root(void);
json_t *ks_openapi_v3_group(const char *group, const char *version);
/* sim_table.c */
json_t *ks_to_table(struct ksim *k, const struct rtype *rt, json_t *objs);
int ks_wants_table(const char *accept);
/* sim_handlers.c */
void ks_handle_resource(struct ksim *k, struct req *rq, struct ksim_response *r);
/* sim_http.c */
void ks_reply(struct ksim_response *r, int status, json_t *body);
void ks_reply_status(struct ksim_response *r, int code, const char *reason, const char *name,
                     const struct rtype *rt, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
const char *ks_qualified(const struct rtype *rt, char *buf, size_t len);
void ks_reply_not_found(struct ksim_response *r, const struct rtype *rt, const char *name);
void ks_reply_invalid(struct ksim_response *r, const struct rtype *rt, const char *name,
                      const char *field, const char *type, const char *detail);
/* sim_authz.c: RBAC for impersonated requests, reviews, pod and token subresources */
/* 0 when the request (routed into rq) is allowed, else replies 403 Forbidden. */
int ks_authorize(struct ksim *k, const struct req *rq, struct ksim_response *r);
/* 1 when rq is for a kind or subresource answered here (reviews, pods/exec, ...), replied. */
int ks_handle_special(struct ksim *k, struct req *rq, struct ksim_response *r);
/* Admission of a write by the request's user: escalation prevention (RBAC kinds), Ingress host
 * claims, then the ValidatingAdmissionPolicies. op is "CREATE", "UPDATE" or "DELETE"; obj the
 * object as it would be stored (NULL on DELETE), old the stored one (NULL on CREATE). 0, or
 * replies 403/500 and returns -1. */
int ks_admit(struct ksim *k, const struct rtype *rt, const char *ns, const char *op, json_t *obj,
             json_t *old, struct ksim_response *r);
/* sim_hosts.c: host claims of Routes (OpenShift's router) and Ingresses */
void ks_route_admit(struct ksim *k, json_t *route, const char *ns);
/* 0, or -1 with msg when another namespace's older Route or Ingress holds a host of ing. */
int ks_ingress_host_check(struct ksim *k, const char *ns, json_t *ing, char *msg, size_t msglen);
/* status.parents[] of a new HTTPRoute: each parentRef Accepted (a Gateway controller's part). */
void ks_httproute_accept(json_t *obj);
/* sim_policy.c: ValidatingAdmissionPolicies through an external CEL evaluator */
int ks_policy_admit(struct ksim *k, const struct rtype *rt, const char *ns, const char *op,
                    json_t *obj, json_t *old, struct ksim_response *r);
void ks_policy_close(struct ksim *k);
/* sim_faults.c */
int ks_fault_hit(struct ksim *k, const char *path, struct ksim_response *r);
void ks_handle_admin(struct ksim *k, const char *method, const char *path, const char *body,
                     size_t len, struct ksim_response *r);

/* sim_pods.c */
/* Applies the pod fate matching pod ns/name (the simulated kubelet and scheduler): 1 when one
 * did (the pod is not ready), 0 when the pod should become ready. */
int ks_pod_fate_apply(struct ksim *k, const char *ns, const char *name);
/* Adds a rule (borrowed) and re-runs the kubelet for the pods it may match. 0, or -1 with msg. */
int ks_pod_fate_add(struct ksim *k, json_t *rule, char *msg, size_t n);
void ks_pod_fates_clear(struct ksim *k);
int ks_pod_delete(struct ksim *k, const char *ns, const char *name, long grace_s);
void ks_pod_kill(struct ksim *k, const char *ns, const char *name);

#endif
