/* The MIG profile catalog and layout placement check. Sources: NVIDIA GPU operator default
 * mig-parted config, mig-parted Hopper/Blackwell example, MIG user guide (supported GPUs and
 * placements); see mig_catalog.h for the slice model. */
#include "core/mig_catalog.h"
#include "common/util.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define END -1
/* Placements on GPUs with 8 memory slices and 7 compute slices (A100/H100/H200/B200). */
#define S1                                                                                         \
    {                                                                                              \
        0, 1, 2, 3, 4, 5, 6, END                                                                   \
    }
#define S1X2                                                                                       \
    {                                                                                              \
        0, 2, 4, 6, END                                                                            \
    }
#define S2                                                                                         \
    {                                                                                              \
        0, 2, 4, END                                                                               \
    }
#define S3                                                                                         \
    {                                                                                              \
        0, 4, END                                                                                  \
    }
#define S0                                                                                         \
    {                                                                                              \
        0, END                                                                                     \
    }

#define SEVEN_SLICE(m1, m1me, m1x2, m2, m3, m4, m7)                                                \
    {                                                                                              \
        {m1, 1, 1, 7, S1}, {m1me, 1, 1, 1, S1}, {m1x2, 1, 2, 4, S1X2}, {m2, 2, 2, 3, S2},          \
            {m3, 3, 4, 2, S3}, {m4, 4, 4, 1, S0}, {m7, 7, 8, 1, S0},                               \
    }

static const struct mig_profile a100_40[] =
    SEVEN_SLICE("1g.5gb", "1g.5gb+me", "1g.10gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb");
static const struct mig_profile a100_80[] =
    SEVEN_SLICE("1g.10gb", "1g.10gb+me", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb");
static const struct mig_profile h100_80[] =
    SEVEN_SLICE("1g.10gb", "1g.10gb+me", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb");
static const struct mig_profile h100_nvl[] =
    SEVEN_SLICE("1g.12gb", "1g.12gb+me", "1g.24gb", "2g.24gb", "3g.47gb", "4g.47gb", "7g.94gb");
static const struct mig_profile h200[] =
    SEVEN_SLICE("1g.18gb", "1g.18gb+me", "1g.35gb", "2g.35gb", "3g.71gb", "4g.71gb", "7g.141gb");
static const struct mig_profile b200[] = {
    {"1g.23gb", 1, 1, 7, S1}, {"1g.45gb", 1, 2, 4, S1X2}, {"2g.45gb", 2, 2, 3, S2},
    {"3g.90gb", 3, 4, 2, S3}, {"4g.90gb", 4, 4, 1, S0},   {"7g.180gb", 7, 8, 1, S0},
};
/* RTX PRO 6000 Blackwell: 4 memory slices, 4 compute slices. */
static const struct mig_profile rtx_pro_6000[] = {
    {"1g.24gb", 1, 1, 4, {0, 1, 2, 3, END}},
    {"1g.24gb+gfx", 1, 1, 4, {0, 1, 2, 3, END}},
    {"1g.24gb-me", 1, 1, 4, {0, 1, 2, 3, END}},
    {"1g.24gb+me", 1, 1, 1, {0, 1, 2, 3, END}},
    {"1g.24gb+me.all", 1, 1, 1, {0, 1, 2, 3, END}},
    {"2g.48gb", 2, 2, 2, {0, 2, END}},
    {"2g.48gb+gfx", 2, 2, 2, {0, 2, END}},
    {"2g.48gb-me", 2, 2, 2, {0, 2, END}},
    {"2g.48gb+me.all", 2, 2, 1, {0, 2, END}},
    {"4g.96gb", 4, 4, 1, {0, END}},
    {"4g.96gb+gfx", 4, 4, 1, {0, END}},
};

#define N(a) (int)ARRAY_SIZE(a)
static const struct mig_model models[] = {
    {"a100-40gb", "NVIDIA A100 40GB", 40, 7, 8, a100_40, N(a100_40)},
    {"a100-80gb", "NVIDIA A100 80GB", 80, 7, 8, a100_80, N(a100_80)},
    {"h100-80gb", "NVIDIA H100 80GB", 80, 7, 8, h100_80, N(h100_80)},
    {"h100-nvl", "NVIDIA H100 NVL", 94, 7, 8, h100_nvl, N(h100_nvl)},
    {"h200", "NVIDIA H200", 141, 7, 8, h200, N(h200)},
    {"b200", "NVIDIA B200", 180, 7, 8, b200, N(b200)},
    {"rtx-pro-6000-blackwell", "NVIDIA RTX PRO 6000 Blackwell", 96, 4, 4, rtx_pro_6000,
     N(rtx_pro_6000)},
};

const struct mig_model *mig_catalog_all(int *n)
{
    *n = N(models);
    return models;
}

static const struct mig_model *by_id(const char *id)
{
    for (int i = 0; i < N(models); i++)
        if (!strcmp(models[i].id, id))
            return &models[i];
    return NULL;
}

const struct mig_model *mig_catalog_find(const char *model, int memory_gib)
{
    char s[128];
    size_t n = 0;
    if (!model)
        return NULL;
    for (const char *p = model; *p && n + 1 < sizeof(s); p++)
        if (isalnum((unsigned char)*p))
            s[n++] = (char)tolower((unsigned char)*p);
    s[n] = 0;
    if (strstr(s, "rtxpro6000") ||
        (strstr(s, "rtx") && strstr(s, "6000") && strstr(s, "blackwell")))
        return by_id("rtx-pro-6000-blackwell");
    if (strstr(s, "gb200") || strstr(s, "gh200"))
        return NULL; /* superchips: different memory, not in the catalog */
    if (strstr(s, "b200"))
        return by_id("b200");
    if (strstr(s, "h200"))
        return by_id("h200");
    if (strstr(s, "h100") && (strstr(s, "nvl") || strstr(s, "94gb")))
        return by_id("h100-nvl");
    if (strstr(s, "h100") || strstr(s, "h800"))
        return by_id("h100-80gb");
    if (strstr(s, "a100")) {
        if (strstr(s, "80gb"))
            return by_id("a100-80gb");
        if (strstr(s, "40gb"))
            return by_id("a100-40gb");
        return by_id(memory_gib >= 60 ? "a100-80gb" : "a100-40gb");
    }
    return NULL;
}

const struct mig_profile *mig_model_profile(const struct mig_model *m, const char *name)
{
    for (int i = 0; i < m->n_profiles; i++)
        if (!strcmp(m->profiles[i].name, name))
            return &m->profiles[i];
    return NULL;
}

/* One instance to place: its profile. Instances are sorted by size, largest first. */
static bool place(const struct mig_profile **inst, int n, int k, unsigned used, int mem_slices)
{
    if (k == n)
        return true;
    const struct mig_profile *p = inst[k];
    for (int i = 0; i < MIG_MAX_STARTS && p->starts[i] != END; i++) {
        int st = p->starts[i];
        if (st + p->size > mem_slices)
            continue;
        unsigned mask = ((1u << p->size) - 1u) << st;
        if (used & mask)
            continue;
        if (place(inst, n, k + 1, used | mask, mem_slices))
            return true;
    }
    return false;
}

/* Why counts[] (parallel to m->profiles) does not fit, or "" when it fits. *culprit (NULL
 * allowed) receives the index of the one profile to blame, or -1 when it is the mix. */
static void check_counts(const struct mig_model *m, const int *counts, char *why, size_t whysz,
                         int *culprit)
{
    const struct mig_profile *inst[64];
    int n = 0, compute = 0, mem = 0, me = 0;
    why[0] = 0;
    if (culprit)
        *culprit = -1;
    for (int i = 0; i < m->n_profiles; i++) {
        const struct mig_profile *p = &m->profiles[i];
        if (counts[i] > p->max_count) {
            snprintf(why, whysz, "%s: %d exceeds its maximum of %d per GPU", p->name, counts[i],
                     p->max_count);
            if (culprit)
                *culprit = i;
            return;
        }
        compute += counts[i] * p->compute;
        mem += counts[i] * p->size;
        if (strstr(p->name, "+me"))
            me += counts[i];
    }
    if (compute > m->compute_slices) {
        snprintf(why, whysz, "needs %d compute slices, the GPU has %d", compute, m->compute_slices);
        return;
    }
    if (mem > m->mem_slices) {
        snprintf(why, whysz, "needs %d memory slices, the GPU has %d", mem, m->mem_slices);
        return;
    }
    if (me > 1) {
        snprintf(why, whysz, "only one media-extension (+me) instance fits on a GPU");
        return;
    }
    /* largest first: fewer dead ends */
    for (int sz = m->mem_slices; sz >= 1; sz--)
        for (int i = 0; i < m->n_profiles; i++)
            if (m->profiles[i].size == sz)
                for (int c = 0; c < counts[i] && n < 64; c++)
                    inst[n++] = &m->profiles[i];
    if (!place(inst, n, 0, 0, m->mem_slices))
        snprintf(why, whysz, "no valid MIG placement exists for this mix");
}

static void append(char *buf, size_t sz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void append(char *buf, size_t sz, const char *fmt, ...)
{
    size_t len = strlen(buf);
    va_list ap;
    va_start(ap, fmt);
    if (len < sz)
        vsnprintf(buf + len, sz - len, fmt, ap);
    va_end(ap);
}

int mig_profile_memory_gib(const char *name)
{
    const char *dot = name ? strchr(name, '.') : NULL;
    return dot ? atoi(dot + 1) : 0;
}

/* The sub-layout of counts (each count kept or lowered) that fits and keeps the most
 * compute slices, then the most instances. Exhaustive when small, else drops the largest
 * instances first. */
static void suggest(const struct mig_model *m, const int *counts, int *best)
{
    int cur[32] = {0}, best_compute = -1, best_n = -1;
    long combos = 1;
    char why[160];
    for (int i = 0; i < m->n_profiles; i++)
        combos *= counts[i] + 1;
    if (combos > 20000) {
        memcpy(best, counts, sizeof(int) * (size_t)m->n_profiles);
        for (;;) {
            int big = -1;
            for (int i = 0; i < m->n_profiles; i++)
                if (best[i] > 0 && (big < 0 || m->profiles[i].size >= m->profiles[big].size))
                    big = i;
            if (big < 0)
                return;
            best[big]--;
            check_counts(m, best, why, sizeof(why), NULL);
            if (!why[0])
                return;
        }
    }
    for (long c = 0; c < combos; c++) {
        long v = c;
        int compute = 0, n = 0;
        for (int i = 0; i < m->n_profiles; i++) {
            cur[i] = (int)(v % (counts[i] + 1));
            v /= counts[i] + 1;
            compute += cur[i] * m->profiles[i].compute;
            n += cur[i];
        }
        if (compute < best_compute || (compute == best_compute && n <= best_n))
            continue;
        check_counts(m, cur, why, sizeof(why), NULL);
        if (why[0])
            continue;
        best_compute = compute;
        best_n = n;
        memcpy(best, cur, sizeof(int) * (size_t)m->n_profiles);
    }
}

/* "FILE:LINE: ", "FILE: " or "" for messages. */
static void locate(char *buf, size_t sz, const char *file, int line)
{
    buf[0] = 0;
    if (file && file[0] && line > 0)
        snprintf(buf, sz, "%s:%d: ", file, line);
    else if (file && file[0])
        snprintf(buf, sz, "%s: ", file);
}

/* The first known line among a, b, c; 0 when none is. */
static int first_line(int a, int b, int c)
{
    return a > 0 ? a : b > 0 ? b : c;
}

int mig_layout_validate(const struct config_gpu *g, const char *file, const char *where,
                        struct error *err)
{
    char list[400] = "", why[160], fit[200] = "", loc[300], key[160];
    if (g->whole)
        return 0;
    const struct mig_model *m = mig_catalog_find(g->model, g->memory_gib);
    if (!m) {
        int n;
        const struct mig_model *all = mig_catalog_all(&n);
        for (int i = 0; i < n; i++)
            append(list, sizeof(list), i ? ", %s" : "%s", all[i].display);
        locate(loc, sizeof(loc), file, first_line(g->model_line, g->line, 0));
        snprintf(key, sizeof(key), "%s.model", where);
        return error_set(err, ERR_INVALID, key,
                         "%s%s: model \"%s\" is not in the MIG catalog; MIG layouts are supported "
                         "for: %s (or declare the GPU whole: true)",
                         loc, key, g->model, list);
    }
    bool variants = false;
    for (int i = 0; i < m->n_profiles; i++) {
        const char *nm = m->profiles[i].name;
        if (strpbrk(nm, "+") || strstr(nm, "-me")) {
            variants = true; /* +me, +gfx, -me: same geometry, listed once below */
            continue;
        }
        append(list, sizeof(list), list[0] ? ", %s (max %d)" : "%s (max %d)", nm,
               m->profiles[i].max_count);
    }
    if (variants)
        append(list, sizeof(list), ", and their %s variants",
               strstr(m->id, "rtx") ? "+gfx/-me/+me/+me.all" : "+me");
    int counts[32] = {0};
    for (int k = 0; k < g->n_slices; k++) {
        const struct config_mig_slice *sl = &g->slices[k];
        const struct mig_profile *p = mig_model_profile(m, sl->profile);
        if (!p) {
            locate(loc, sizeof(loc), file, first_line(sl->line, g->mig_line, g->line));
            snprintf(key, sizeof(key), "%s.mig.%s", where, sl->profile);
            return error_set(err, ERR_INVALID, key,
                             "%s%s: MIG profile \"%s\" does not exist on %s; it offers: %s", loc,
                             key, sl->profile, m->display, list);
        }
        counts[p - m->profiles] += sl->count;
    }
    int culprit;
    check_counts(m, counts, why, sizeof(why), &culprit);
    if (!why[0])
        return 0;
    int sug[32] = {0};
    suggest(m, counts, sug);
    for (int i = 0; i < m->n_profiles; i++)
        if (sug[i] > 0)
            append(fit, sizeof(fit), fit[0] ? ", %s: %d" : "%s: %d", m->profiles[i].name, sug[i]);
    const struct config_mig_slice *blame = NULL;
    for (int k = 0; culprit >= 0 && !blame && k < g->n_slices; k++)
        if (!strcmp(g->slices[k].profile, m->profiles[culprit].name))
            blame = &g->slices[k];
    if (blame) {
        locate(loc, sizeof(loc), file, first_line(blame->line, g->mig_line, g->line));
        snprintf(key, sizeof(key), "%s.mig.%s", where, blame->profile);
    } else {
        locate(loc, sizeof(loc), file, first_line(g->mig_line, g->line, 0));
        snprintf(key, sizeof(key), "%s.mig", where);
    }
    return error_set(err, ERR_INVALID, key,
                     "%s%s: MIG layout does not fit on %s (%d compute, %d memory slices): %s; "
                     "would fit: %s; profiles: %s",
                     loc, key, m->display, m->compute_slices, m->mem_slices, why,
                     fit[0] ? fit : "none of these", list);
}

enum mig_strategy mig_node_strategy(const struct config_node *nd)
{
    for (int i = 0; i < nd->n_gpus; i++)
        if (!nd->gpus[i].whole)
            return MIG_STRATEGY_MIXED;
    return MIG_STRATEGY_NONE;
}

const char *mig_strategy_name(enum mig_strategy s)
{
    static const char *n[] = {"none", "single", "mixed"};
    return (unsigned)s < 3 ? n[s] : "none";
}

int mig_strategy_parse(const char *s, enum mig_strategy *ret)
{
    for (int i = 0; i < 3; i++)
        if (s && !strcmp(s, mig_strategy_name((enum mig_strategy)i))) {
            *ret = (enum mig_strategy)i;
            return 0;
        }
    return -ERR_INVALID;
}
