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

enum task_type { T_QUOTA, T_NS_DELETE, T_POD_READY, T_DEPLOY };

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
/* sim_faults.c */
int ks_fault_hit(struct ksim *k, const char *path, struct ksim_response *r);
void ks_handle_admin(struct ksim *k, const char *method, const char *path, const char *body,
                     size_t len, struct ksim_response *r);

#endif
