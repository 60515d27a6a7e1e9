/* Prometheus text-format parser for the DCGM exporter metrics we use (see prom_text.h). */
#include "core/prom_text.h"
#include "common/util.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static bool name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static bool name_char(char c)
{
    return name_start(c) || (c >= '0' && c <= '9');
}

static void skip_spaces(const char **p, const char *end)
{
    while (*p < end && (**p == ' ' || **p == '\t'))
        (*p)++;
}

/* Copies at most size-1 bytes of an unescaped value into dst. */
static void put(char *dst, size_t size, const char *v, size_t n)
{
    if (n >= size)
        n = size - 1;
    memcpy(dst, v, n);
    dst[n] = 0;
}

struct labels {
    char ns[64], exp_ns[64], pod[128], exp_pod[128], ctr[64], exp_ctr[64];
    bool has_exp_ns, has_exp_pod, has_exp_ctr;
};

static void take_label(struct prom_sample *s, struct labels *l, const char *name, size_t nlen,
                       const char *v, size_t vlen)
{
    static const struct {
        const char *name;
        size_t off, size;
    } direct[] = {
        {"gpu", offsetof(struct prom_sample, gpu), sizeof(s->gpu)},
        {"UUID", offsetof(struct prom_sample, uuid), sizeof(s->uuid)},
        {"GPU_I_PROFILE", offsetof(struct prom_sample, gpu_i_profile), sizeof(s->gpu_i_profile)},
        {"GPU_I_ID", offsetof(struct prom_sample, gpu_i_id), sizeof(s->gpu_i_id)},
        {"Hostname", offsetof(struct prom_sample, hostname), sizeof(s->hostname)},
    };
#define IS(lit) (nlen == sizeof(lit) - 1 && !memcmp(name, lit, nlen))
    for (size_t i = 0; i < ARRAY_SIZE(direct); i++)
        if (nlen == strlen(direct[i].name) && !memcmp(name, direct[i].name, nlen)) {
            put((char *)s + direct[i].off, direct[i].size, v, vlen);
            return;
        }
    if (IS("namespace"))
        put(l->ns, sizeof(l->ns), v, vlen);
    else if (IS("exported_namespace")) {
        put(l->exp_ns, sizeof(l->exp_ns), v, vlen);
        l->has_exp_ns = true;
    } else if (IS("pod"))
        put(l->pod, sizeof(l->pod), v, vlen);
    else if (IS("exported_pod")) {
        put(l->exp_pod, sizeof(l->exp_pod), v, vlen);
        l->has_exp_pod = true;
    } else if (IS("container"))
        put(l->ctr, sizeof(l->ctr), v, vlen);
    else if (IS("exported_container")) {
        put(l->exp_ctr, sizeof(l->exp_ctr), v, vlen);
        l->has_exp_ctr = true;
    }
#undef IS
}

/* Parses `{name="value",...}` at *p; unescapes into buf. Returns false on bad syntax. */
static bool parse_labels(const char **pp, const char *end, struct prom_sample *s, struct labels *l)
{
    const char *p = *pp + 1; /* after '{' */
    char val[PROM_MAX_LINE];
    int count = 0;
    for (;;) {
        skip_spaces(&p, end);
        if (p < end && *p == '}') {
            *pp = p + 1;
            return true;
        }
        if (p >= end || !name_start(*p) || ++count > PROM_MAX_LABELS)
            return false;
        const char *name = p;
        while (p < end && name_char(*p))
            p++;
        size_t nlen = (size_t)(p - name);
        skip_spaces(&p, end);
        if (p >= end || *p++ != '=')
            return false;
        skip_spaces(&p, end);
        if (p >= end || *p++ != '"')
            return false;
        size_t vlen = 0;
        while (p < end && *p != '"') {
            char c = *p++;
            if (c == '\\') {
                if (p >= end)
                    return false;
                c = *p++;
                if (c == 'n')
                    c = '\n';
                else if (c != '\\' && c != '"')
                    return false;
            }
            if (vlen < sizeof(val))
                val[vlen++] = c;
        }
        if (p >= end)
            return false;
        p++; /* closing quote */
        take_label(s, l, name, nlen, val, vlen);
        skip_spaces(&p, end);
        if (p < end && *p == ',')
            p++;
        else if (p >= end || *p != '}')
            return false;
    }
}

/* 1: a wanted sample in *s; 0: a line to ignore (comment, other metric); -1: malformed. */
static int parse_line(const char *p, const char *end, struct prom_sample *s)
{
    static const struct {
        const char *name;
        enum prom_metric m;
    } wanted[] = {{"DCGM_FI_PROF_GR_ENGINE_ACTIVE", PROM_GR_ENGINE_ACTIVE},
                  {"DCGM_FI_DEV_FB_USED", PROM_FB_USED}};
    struct labels l;
    skip_spaces(&p, end);
    if (p == end || *p == '#')
        return 0;
    if (!name_start(*p))
        return -1;
    const char *name = p;
    while (p < end && name_char(*p))
        p++;
    size_t nlen = (size_t)(p - name);
    int which = -1;
    for (int i = 0; i < 2; i++)
        if (nlen == strlen(wanted[i].name) && !memcmp(name, wanted[i].name, nlen))
            which = i;
    if (which < 0)
        return 0;
    memset(s, 0, sizeof(*s));
    memset(&l, 0, sizeof(l));
    s->metric = wanted[which].m;
    if (p < end && *p == '{' && !parse_labels(&p, end, s, &l))
        return -1;
    skip_spaces(&p, end);
    char num[64];
    size_t n = 0;
    while (p < end && *p != ' ' && *p != '\t' && n + 1 < sizeof(num))
        num[n++] = *p++;
    num[n] = 0;
    if (!n || (p < end && *p != ' ' && *p != '\t'))
        return -1;
    char *e;
    double v = strtod(num, &e);
    if (*e || isnan(v) || isinf(v))
        return -1; /* NaN/Inf (or junk): not a usable measurement */
    skip_spaces(&p, end);
    if (p < end) { /* optional integer timestamp */
        if (*p == '-')
            p++;
        const char *ts = p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        skip_spaces(&p, end);
        if (p == ts || p != end)
            return -1;
    }
    s->value = v;
    snprintf(s->namespace, sizeof(s->namespace), "%s", l.has_exp_ns ? l.exp_ns : l.ns);
    snprintf(s->pod, sizeof(s->pod), "%s", l.has_exp_pod ? l.exp_pod : l.pod);
    snprintf(s->container, sizeof(s->container), "%s", l.has_exp_ctr ? l.exp_ctr : l.ctr);
    return 1;
}

int prom_parse(const char *text, size_t len, struct prom_samples *ret)
{
    struct prom_samples r = {0};
    size_t cap = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *next = nl ? nl + 1 : end;
        if (le > p && le[-1] == '\r')
            le--;
        if (le - p > PROM_MAX_LINE) {
            r.skipped++;
            p = next;
            continue;
        }
        struct prom_sample s;
        int k = parse_line(p, le, &s);
        p = next;
        if (k < 0)
            r.skipped++;
        if (k <= 0)
            continue;
        if (r.n >= PROM_MAX_SAMPLES) {
            r.dropped++;
            continue;
        }
        if (ARRAY_GROW(r.v, cap, (size_t)r.n + 1, 64) < 0) {
            free(r.v);
            return -ERR_NOMEM;
        }
        r.v[r.n++] = s;
    }
    *ret = r;
    return 0;
}

void prom_samples_free(struct prom_samples *s)
{
    if (!s)
        return;
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

int prom_aggregate(const struct prom_samples *s, struct prom_ns_usage *out, int max)
{
    int n = 0;
    for (int i = 0; i < s->n; i++) {
        const struct prom_sample *x = &s->v[i];
        if (!x->namespace[0])
            continue;
        int j = 0;
        while (j < n && strcmp(out[j].namespace, x->namespace))
            j++;
        if (j == n) {
            if (n >= max)
                continue;
            memset(&out[n], 0, sizeof(out[n]));
            snprintf(out[n].namespace, sizeof(out[n].namespace), "%s", x->namespace);
            n++;
        }
        if (x->metric == PROM_GR_ENGINE_ACTIVE) {
            out[j].devices++;
            out[j].active_sum += x->value;
        } else
            out[j].fb_used_mib += x->value;
    }
    return n;
}
