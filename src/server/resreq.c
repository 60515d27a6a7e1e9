/* Booking request validation (see resreq.h). */
#include "server/resreq.h"

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
#define N_RES_FIELDS (sizeof(res_fields) / sizeof(res_fields[0]))

static int pool_total(const struct pool *p, enum pool_kind k)
{
    for (int i = 0; i < p->n; i++)
        if (p->res[i].kind == k)
            return p->res[i].physical;
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

static int resource_amount(const struct jdec_value *v, long def, int total, const char *name,
                           int *ret, struct error *err)
{
    long long x = v->present ? v->i : def;
    if (x < 1 || (total > 0 && x > total))
        return error_set(err, ERR_INVALID, name, "%s must be between 1 and %d", name,
                         total > 0 ? total : 1);
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

    long long limit = c->session.max_gpus < res->physical ? c->session.max_gpus : res->physical;
    if (v[F_GPU_COUNT].i < 1 || v[F_GPU_COUNT].i > limit)
        return error_set(err, ERR_INVALID, "gpu_count", "gpu_count must be between 1 and %lld",
                         limit);
    r.gpu_count = (int)v[F_GPU_COUNT].i;

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

    rc = resource_amount(&v[F_CPU], c->session.cpu, pool_total(p, POOL_CPU), "cpu", &r.cpu, err);
    if (rc == 0)
        rc = resource_amount(&v[F_MEM], c->session.memory_gib, pool_total(p, POOL_MEMORY),
                             "memory_gib", &r.memory_gib, err);
    if (rc == 0)
        rc = resource_amount(&v[F_STORAGE], c->session.storage_gib, pool_total(p, POOL_STORAGE),
                             "storage_gib", &r.storage_gib, err);
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
