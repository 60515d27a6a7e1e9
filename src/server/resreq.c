/* Booking request validation (see resreq.h). */
#include "server/resreq.h"
#include "common/util.h"

#include "server/jdec.h"

#include <stdio.h>
#include <string.h>

enum { F_GPU_TYPE, F_GPU_COUNT, F_MODE, F_STARTS, F_ENDS, F_CPU, F_MEM, F_STORAGE, F_PURPOSE };

static const struct jdec_field res_fields[] = {
    [F_GPU_TYPE] = {"gpu_type", JD_STRING, true, 1, 95},
    [F_GPU_COUNT] = {"gpu_count", JD_INT, true, -1000000, 1000000},
    [F_MODE] = {"mode", JD_STRING, false, 1, 32},
    [F_STARTS] = {"starts_at", JD_TIME, true, 0, 0},
    [F_ENDS] = {"ends_at", JD_TIME, true, 0, 0},
    [F_CPU] = {"cpu", JD_INT, false, -1000000000, 1000000000},
    [F_MEM] = {"memory_gib", JD_INT, false, -1000000000, 1000000000},
    [F_STORAGE] = {"storage_gib", JD_INT, false, -1000000000, 1000000000},
    [F_PURPOSE] = {"purpose", JD_STRING, false, 0, 255},
};
#define N_RES_FIELDS (ARRAY_SIZE(res_fields))

/* The most one node offers of kind k: a session is one pod and cannot span nodes. */
static int node_max(const struct pool *p, enum pool_kind k)
{
    for (int i = 0; i < p->n; i++)
        if (p->res[i].kind == k)
            return p->res[i].max_per_node;
    return 0;
}

static int check_window(const struct config *c, int64_t starts, int64_t ends, int64_t now,
                        struct error *err)
{
    if (ends <= starts)
        return error_set(err, ERR_INVALID, "ends_at", "ends_at must be after starts_at");
    if (ends - starts > (int64_t)c->session.max_hours * 3600)
        return error_set(err, ERR_INVALID, "ends_at", "the window is longer than %ld hours",
                         c->session.max_hours);
    if (ends > now + (int64_t)c->session.max_advance_days * 86400)
        return error_set(err, ERR_INVALID, "ends_at", "bookings may end at most %ld days ahead",
                         c->session.max_advance_days);
    return 0;
}

int resreq_check_window(const struct config *c, int64_t starts, int64_t ends, int64_t now,
                        struct error *err)
{
    return check_window(c, starts, ends, now, err);
}

/* The amount of `name` asked for, or the session default `def` (key `def_key`); 1..max,
 * max the largest node's (0 = no bound), in `unit`. */
static int resource_amount(const struct jdec_value *v, long def, const char *def_key, int max,
                           const char *name, const char *unit, int *ret, struct error *err)
{
    long long x = v->present ? v->i : def;
    char from[80] = "";
    if (!v->present)
        snprintf(from, sizeof(from), " (the default %s is %ld)", def_key, def);
    if (x < 1)
        return error_set(err, ERR_INVALID, name, "%s must be at least 1%s", name, from);
    if (max > 0 && x > max)
        return error_set(err, ERR_INVALID, name,
                         "%s must be between 1 and %d%s: a session runs on one node and the "
                         "largest node has %d %s",
                         name, max, from, max, unit);
    *ret = (int)x;
    return 0;
}

int resreq_decode(const char *body, size_t len, const struct config *c, const struct pool *p,
                  int64_t now, struct reservation *ret, struct error *err)
{
    struct jdec_value v[N_RES_FIELDS];
    struct reservation r;
    int rc;

    memset(&r, 0, sizeof(r));
    rc = jdec_decode(body, len, res_fields, N_RES_FIELDS, v, err);
    if (rc < 0)
        return rc;

    const struct pool_resource *res = pool_find(p, v[F_GPU_TYPE].s);
    if (!res || !pool_is_gpu(res))
        return error_set(err, ERR_INVALID, "gpu_type", "unknown GPU type \"%s\"", v[F_GPU_TYPE].s);
    snprintf(r.gpu_type, sizeof(r.gpu_type), "%s", res->name);

    long long count = v[F_GPU_COUNT].i;
    if (res->max_per_node < c->session.max_gpus && (count < 1 || count > res->max_per_node))
        return error_set(err, ERR_INVALID, "gpu_count",
                         "gpu_count must be between 1 and %d: a session runs on one node and the "
                         "largest node has %d %s",
                         res->max_per_node, res->max_per_node, res->name);
    if (count < 1 || count > c->session.max_gpus)
        return error_set(err, ERR_INVALID, "gpu_count",
                         "gpu_count must be between 1 and %ld (session.max_gpus)",
                         c->session.max_gpus);
    r.gpu_count = (int)count;

    r.mode = MODE_INTERACTIVE;
    if (v[F_MODE].present && res_mode_parse(v[F_MODE].s, &r.mode) < 0)
        return error_set(err, ERR_INVALID, "mode", "mode must be interactive or inference");

    r.starts_at = v[F_STARTS].t;
    r.ends_at = v[F_ENDS].t;
    if (r.starts_at < now - (int64_t)c->session.start_grace_seconds)
        return error_set(err, ERR_INVALID, "starts_at", "starts_at lies in the past");
    rc = check_window(c, r.starts_at, r.ends_at, now, err);
    if (rc < 0)
        return rc;

    rc = resource_amount(&v[F_CPU], c->session.cpu, "session.cpu", node_max(p, POOL_CPU), "cpu",
                         "cores", &r.cpu, err);
    if (rc == 0)
        rc = resource_amount(&v[F_MEM], c->session.memory_gib, "session.memory_gib",
                             node_max(p, POOL_MEMORY), "memory_gib", "GiB of memory", &r.memory_gib,
                             err);
    if (rc == 0)
        rc = resource_amount(&v[F_STORAGE], c->session.storage_gib, "session.storage_gib",
                             node_max(p, POOL_STORAGE), "storage_gib", "GiB of storage",
                             &r.storage_gib, err);
    if (rc < 0)
        return rc;
    if (v[F_PURPOSE].present)
        snprintf(r.purpose, sizeof(r.purpose), "%s", v[F_PURPOSE].s);
    r.state = RS_APPROVED;
    *ret = r;
    return 0;
}

int resreq_decode_extend(const char *body, size_t len, const struct config *c,
                         const struct reservation *r, int64_t now, int64_t *ret_end,
                         struct error *err)
{
    static const struct jdec_field f[] = {{"ends_at", JD_TIME, true, 0, 0}};
    struct jdec_value v[1];
    int rc = jdec_decode(body, len, f, 1, v, err);
    if (rc < 0)
        return rc;
    if (v[0].t <= now)
        return error_set(err, ERR_INVALID, "ends_at", "ends_at lies in the past");
    rc = check_window(c, r->starts_at, v[0].t, now, err);
    if (rc < 0)
        return rc;
    *ret_end = v[0].t;
    return 0;
}
