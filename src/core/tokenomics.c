/* Tokenomics model: forward cost per million tokens, break-even utilization against cloud
 * prices, inverse sizing with verdicts, and the SVG chart. Formulas: docs/tokenomics.md. */
#include "core/tokenomics.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "core/calendar.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- strict input decoding ------------------------------------------------------------- */

struct num_rule {
    const char *key;
    double *dst;
    double def;
    double min, max;
    bool min_open; /* value must be > min */
    bool required;
    const char *unit;
};

static int check_keys(const json_t *obj, const char *path, const char *const *allowed,
                      struct error *err)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++)
            ok |= !strcmp(*a, k);
        if (!ok) {
            char f[160];
            snprintf(f, sizeof(f), "%s%s%s", path, *path ? "." : "", k);
            return error_set(err, ERR_INVALID, f, "%s: unknown field", f);
        }
    }
    return 0;
}

static int get_number(const json_t *obj, const char *path, const struct num_rule *r,
                      struct error *err)
{
    char f[160];
    snprintf(f, sizeof(f), "%s%s%s", path, *path ? "." : "", r->key);
    json_t *v = json_object_get(obj, r->key);
    if (!v || json_is_null(v)) {
        if (r->required)
            return error_set(err, ERR_INVALID, f, "%s: required (%s)", f, r->unit);
        *r->dst = r->def;
        return 0;
    }
    if (!json_is_number(v))
        return error_set(err, ERR_INVALID, f, "%s: must be a number (%s)", f, r->unit);
    double x = json_number_value(v);
    if (!isfinite(x) || (r->min_open ? x <= r->min : x < r->min) || x > r->max)
        return error_set(err, ERR_INVALID, f,
                         "%s: %g is out of range: must be %s %g and at most %g (%s)", f, x,
                         r->min_open ? "greater than" : "at least", r->min, r->max, r->unit);
    *r->dst = x;
    return 0;
}

static int get_numbers(const json_t *obj, const char *path, const struct num_rule *rules, size_t n,
                       struct error *err)
{
    for (size_t i = 0; i < n; i++) {
        int r = get_number(obj, path, &rules[i], err);
        if (r < 0)
            return r;
    }
    return 0;
}

static int get_int_field(const json_t *obj, const char *path, const char *key, int def, int min,
                         int max, bool required, const char *unit, int *dst, struct error *err)
{
    double d = 0;
    struct num_rule r = {key, &d, def, min, max, false, required, unit};
    int rc = get_number(obj, path, &r, err);
    if (rc < 0)
        return rc;
    if (d != floor(d)) {
        char f[160];
        snprintf(f, sizeof(f), "%s.%s", path, key);
        return error_set(err, ERR_INVALID, f, "%s: must be a whole number (%s)", f, unit);
    }
    *dst = (int)d;
    return 0;
}

static int get_name(const json_t *obj, const char *path, const char *key, bool required, char *dst,
                    size_t len, struct error *err)
{
    char f[160];
    snprintf(f, sizeof(f), "%s.%s", path, key);
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            return error_set(err, ERR_INVALID, f, "%s: required (a name)", f);
        dst[0] = 0;
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= len)
        return error_set(err, ERR_INVALID, f,
                         "%s: must be a non-empty string of at most %zu characters", f, len - 1);
    snprintf(dst, len, "%s", json_string_value(v));
    return 0;
}

static int object_at(const json_t *in, const char *key, const char *path, json_t **ret,
                     struct error *err)
{
    json_t *v = json_object_get(in, key);
    *ret = NULL;
    if (v && !json_is_object(v))
        return error_set(err, ERR_INVALID, path, "%s: must be an object", path);
    *ret = v;
    return 0;
}

static int parse_server(const json_t *o, const char *path, struct tok_server *s, struct error *err)
{
    static const char *const allowed[] = {"name",          "count",         "standby",
                                          "capex",         "gpus",          "overhead_fraction",
                                          "power_load_kw", "power_idle_kw", NULL};
    int r;
    if (!json_is_object(o))
        return error_set(err, ERR_INVALID, path, "%s: must be an object", path);
    if ((r = check_keys(o, path, allowed, err)) < 0 ||
        (r = get_name(o, path, "name", true, s->name, sizeof(s->name), err)) < 0 ||
        (r = get_int_field(o, path, "count", 1, 0, 100000, false, "servers", &s->count, err)) < 0 ||
        (r = get_int_field(o, path, "standby", 0, 0, 100000, false, "servers", &s->standby, err)) <
            0 ||
        (r = get_int_field(o, path, "gpus", 0, 1, 1024, true, "GPUs per server", &s->gpus, err)) <
            0)
        return r;
    const struct num_rule rules[] = {
        {"capex", &s->capex, 0, 0, 1e12, true, true, "$ per server"},
        {"overhead_fraction", &s->overhead_fraction, 0.15, 0, 10, false, false,
         "fraction of capex"},
        {"power_load_kw", &s->power_load_kw, 0, 0, 1000, true, true, "kW per server at full load"},
        {"power_idle_kw", &s->power_idle_kw, 0, 0, 1000, false, true, "kW per server when idle"},
    };
    if ((r = get_numbers(o, path, rules, ARRAY_SIZE(rules), err)) < 0)
        return r;
    if (s->power_idle_kw > s->power_load_kw) {
        char field[96];
        snprintf(field, sizeof(field), "%s.power_idle_kw", path);
        return error_set(err, ERR_INVALID, field, "%s: %g kW is above power_load_kw %g kW", field,
                         s->power_idle_kw, s->power_load_kw);
    }
    return 0;
}

static int parse_price(const json_t *o, const char *path, struct tok_price *p, struct error *err)
{
    static const char *const allowed[] = {"name", "input_per_million", "output_per_million", NULL};
    int r;
    if (!json_is_object(o))
        return error_set(err, ERR_INVALID, path, "%s: must be an object", path);
    if ((r = check_keys(o, path, allowed, err)) < 0 ||
        (r = get_name(o, path, "name", true, p->name, sizeof(p->name), err)) < 0)
        return r;
    const struct num_rule rules[] = {
        {"input_per_million", &p->input_per_million, 0, 0, 1e6, false, true,
         "$ per 1M input tokens"},
        {"output_per_million", &p->output_per_million, 0, 0, 1e6, false, true,
         "$ per 1M output tokens"},
    };
    return get_numbers(o, path, rules, ARRAY_SIZE(rules), err);
}

static int parse_workload(const json_t *o, const char *path, struct tok_workload *w,
                          struct error *err)
{
    static const char *const allowed[] = {"name",
                                          "tokens_per_second_per_gpu",
                                          "gpus_per_replica",
                                          "min_replicas",
                                          "share",
                                          "demand_tokens_per_year",
                                          "input_output_ratio",
                                          "cloud_prices",
                                          "installed_gpus",
                                          "server",
                                          NULL};
    int r;
    if (!json_is_object(o))
        return error_set(err, ERR_INVALID, path, "%s: must be an object", path);
    if ((r = check_keys(o, path, allowed, err)) < 0 ||
        (r = get_name(o, path, "name", true, w->name, sizeof(w->name), err)) < 0 ||
        (r = get_name(o, path, "server", false, w->server, sizeof(w->server), err)) < 0 ||
        (r = get_int_field(o, path, "gpus_per_replica", 1, 1, 1024, false, "GPUs",
                           &w->gpus_per_replica, err)) < 0 ||
        (r = get_int_field(o, path, "min_replicas", 1, 0, 1000, false, "replicas", &w->min_replicas,
                           err)) < 0 ||
        (r = get_int_field(o, path, "installed_gpus", -1, -1, 1000000, false, "GPUs",
                           &w->installed_gpus, err)) < 0)
        return r;
    const struct num_rule rules[] = {
        {"tokens_per_second_per_gpu", &w->tokens_per_second_per_gpu, 0, 0, 1e9, true, true,
         "output tokens per second per GPU at the latency target"},
        {"share", &w->share, 0, 0, 1, false, false, "fraction of tokens, 0..1"},
        {"demand_tokens_per_year", &w->demand_tokens_per_year, 0, 0, 1e18, false, false,
         "output tokens per year"},
        {"input_output_ratio", &w->input_output_ratio, 1, 0, 1e4, false, false,
         "input tokens per output token"},
    };
    if ((r = get_numbers(o, path, rules, ARRAY_SIZE(rules), err)) < 0)
        return r;
    w->has_share = json_object_get(o, "share") && !json_is_null(json_object_get(o, "share"));
    w->has_demand = json_object_get(o, "demand_tokens_per_year") != NULL;
    json_t *prices = json_object_get(o, "cloud_prices");
    if (prices) {
        char f[160];
        snprintf(f, sizeof(f), "%s.cloud_prices", path);
        if (!json_is_array(prices))
            return error_set(err, ERR_INVALID, f, "%s: must be a list", f);
        if (json_array_size(prices) > TOK_MAX_PRICES)
            return error_set(err, ERR_INVALID, f, "%s: at most %d prices", f, TOK_MAX_PRICES);
        size_t i;
        json_t *p;
        json_array_foreach(prices, i, p)
        {
            char pp[200];
            snprintf(pp, sizeof(pp), "%s[%zu]", f, i);
            if ((r = parse_price(p, pp, &w->prices[i], err)) < 0)
                return r;
            w->n_prices++;
        }
    }
    return 0;
}

/* The optional object `key` of the input: only the keys in `allowed`, its numbers read by
 * rules (their defaults where a number or the whole object is absent). */
static int parse_section(const json_t *in, const char *key, const char *const *allowed,
                         const struct num_rule *rules, size_t n, struct error *err)
{
    json_t *o = NULL;
    int r;
    if ((r = object_at(in, key, key, &o, err)) < 0 ||
        (o && (r = check_keys(o, key, allowed, err)) < 0))
        return r;
    return get_numbers(o, key, rules, n, err); /* json_object_get(NULL, k) is NULL */
}

static int parse_finance(const json_t *in, struct tok_input *t, struct error *err)
{
    static const char *const keys[] = {"life_years",
                                       "cost_of_capital",
                                       "residual_fraction",
                                       "maintenance_fraction",
                                       "licenses_per_gpu_year",
                                       "ops_per_year",
                                       NULL};
    const struct num_rule rules[] = {
        {"life_years", &t->finance.life_years, 4, 0, 50, true, false, "years"},
        {"cost_of_capital", &t->finance.cost_of_capital, 0, 0, 1, false, false,
         "annual rate, 0..1"},
        {"residual_fraction", &t->finance.residual_fraction, 0, 0, 1, false, false,
         "fraction of capex"},
        {"maintenance_fraction", &t->finance.maintenance_fraction, 0.08, 0, 1, false, false,
         "fraction of capex per year"},
        {"licenses_per_gpu_year", &t->finance.licenses_per_gpu_year, 0, 0, 1e9, false, false,
         "$ per GPU per year"},
        {"ops_per_year", &t->finance.ops_per_year, 0, 0, 1e12, false, false, "$ per year"},
    };
    return parse_section(in, "finance", keys, rules, ARRAY_SIZE(rules), err);
}

static int parse_facility(const json_t *in, struct tok_input *t, struct error *err)
{
    static const char *const keys[] = {"pue", "electricity_per_kwh", NULL};
    const struct num_rule rules[] = {
        {"pue", &t->facility.pue, 1.5, 1, 5, false, false, "power usage effectiveness, >= 1"},
        {"electricity_per_kwh", &t->facility.electricity_per_kwh, 0.10, 0, 100, false, false,
         "$ per kWh"},
    };
    return parse_section(in, "facility", keys, rules, ARRAY_SIZE(rules), err);
}

static int parse_planning(const json_t *in, struct tok_input *t, struct error *err)
{
    static const char *const keys[] = {"target_utilization", "peak_to_average", "peak_ceiling",
                                       "budget_per_year", NULL};
    const struct num_rule rules[] = {
        {"target_utilization", &t->planning.target_utilization, 0.7, 0, 1, true, false,
         "fraction, 0..1"},
        {"peak_to_average", &t->planning.peak_to_average, 2, 1, 1000, false, false, "ratio, >= 1"},
        {"peak_ceiling", &t->planning.peak_ceiling, 0.9, 0, 1, true, false, "fraction, 0..1"},
        {"budget_per_year", &t->planning.budget_per_year, 0, 0, 1e15, false, false,
         "$ per year, 0 = none"},
    };
    return parse_section(in, "planning", keys, rules, ARRAY_SIZE(rules), err);
}

/* servers: 1 to TOK_MAX_SERVERS server types with distinct names. */
static int parse_servers(const json_t *in, struct tok_input *t, struct error *err)
{
    json_t *servers = json_object_get(in, "servers");
    if (!json_is_array(servers) || json_array_size(servers) == 0 ||
        json_array_size(servers) > TOK_MAX_SERVERS)
        return error_set(err, ERR_INVALID, "servers",
                         "servers: a list of 1 to %d server types is required", TOK_MAX_SERVERS);
    size_t i;
    json_t *v;
    json_array_foreach(servers, i, v)
    {
        char p[64];
        int r;
        snprintf(p, sizeof(p), "servers[%zu]", i);
        if ((r = parse_server(v, p, &t->servers[i], err)) < 0)
            return r;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(t->servers[j].name, t->servers[i].name))
                return error_set(err, ERR_INVALID, "servers", "%s.name: \"%s\" appears twice", p,
                                 t->servers[i].name);
        t->n_servers++;
    }
    return 0;
}

/* utilization: a fraction (default 0.5) or "measured". */
static int parse_utilization(const json_t *in, struct tok_input *t, struct error *err)
{
    json_t *u = json_object_get(in, "utilization");
    if (json_is_string(u) && !strcmp(json_string_value(u), "measured")) {
        t->utilization_measured = true;
        return 0;
    }
    if (!u) {
        t->utilization = 0.5;
        return 0;
    }
    const struct num_rule rule = {"utilization",
                                  &t->utilization,
                                  0.5,
                                  0,
                                  1,
                                  true,
                                  false,
                                  "fraction of capacity served, 0..1, or \"measured\""};
    return get_number(in, "", &rule, err);
}

/* workloads: 1 to TOK_MAX_WORKLOADS, each naming a known server type if any; all with a
 * share (adding up to 1) or all with a demand above 0. Needs the servers parsed. */
static int parse_workloads(const json_t *in, struct tok_input *t, struct error *err)
{
    json_t *wl = json_object_get(in, "workloads");
    if (!json_is_array(wl) || json_array_size(wl) == 0 || json_array_size(wl) > TOK_MAX_WORKLOADS)
        return error_set(err, ERR_INVALID, "workloads",
                         "workloads: a list of 1 to %d workloads is required", TOK_MAX_WORKLOADS);
    int n_share = 0, n_demand = 0;
    size_t i;
    json_t *v;
    json_array_foreach(wl, i, v)
    {
        char p[64];
        int r;
        snprintf(p, sizeof(p), "workloads[%zu]", i);
        struct tok_workload *w = &t->workloads[i];
        if ((r = parse_workload(v, p, w, err)) < 0)
            return r;
        if (w->server[0]) {
            int found = 0;
            for (int s = 0; s < t->n_servers; s++)
                found |= !strcmp(t->servers[s].name, w->server);
            if (!found) {
                char field[96];
                snprintf(field, sizeof(field), "%s.server", p);
                return error_set(err, ERR_INVALID, field, "%s: no server type named \"%s\"", field,
                                 w->server);
            }
        }
        n_share += w->has_share;
        n_demand += w->has_demand && w->demand_tokens_per_year > 0;
        t->n_workloads++;
    }
    if (n_share != t->n_workloads && n_demand != t->n_workloads)
        return error_set(
            err, ERR_INVALID, "workloads",
            "workloads: give every workload a share (fraction of tokens) or every workload a "
            "demand_tokens_per_year (output tokens per year) above 0");
    if (n_share == t->n_workloads) {
        double sum = 0;
        for (int k = 0; k < t->n_workloads; k++)
            sum += t->workloads[k].share;
        if (fabs(sum - 1.0) > 1e-6)
            return error_set(err, ERR_INVALID, "workloads",
                             "workloads: the shares add up to %g; they must add up to 1", sum);
    }
    return 0;
}

int tok_parse(const json_t *in, struct tok_input *ret, struct error *err)
{
    static const char *const top[] = {"servers",     "finance",  "facility", "workloads",
                                      "utilization", "planning", NULL};
    struct tok_input *t = calloc(1, sizeof(*t));
    int r;
    if (!t)
        return error_set(err, ERR_NOMEM, "", "out of memory");
    if (!json_is_object(in))
        r = error_set(err, ERR_INVALID, "", "the input must be an object");
    else if ((r = check_keys(in, "", top, err)) == 0 && (r = parse_servers(in, t, err)) == 0 &&
             (r = parse_finance(in, t, err)) == 0 && (r = parse_facility(in, t, err)) == 0 &&
             (r = parse_planning(in, t, err)) == 0 && (r = parse_utilization(in, t, err)) == 0 &&
             (r = parse_workloads(in, t, err)) == 0)
        *ret = *t;
    free(t);
    return r;
}

/* ---- the model ---------------------------------------------------------------------------- */

/* Capital recovery factor: the annual payment per $ of capital over n years at rate r. */
static double crf(double r, double n)
{
    if (r <= 0)
        return 1.0 / n;
    double g = pow(1 + r, n);
    return r * g / (g - 1);
}

struct fleet_cost {
    double capital, maintenance, licenses, ops;
    double energy_idle; /* $ / year, all servers at idle power */
    double energy_span; /* $ / year added at utilization 1 (active servers only) */
};

static double server_fixed(const struct tok_input *in, const struct tok_server *s, double *cap,
                           double *maint, double *lic)
{
    double capex = s->capex * (1 + s->overhead_fraction);
    double n = in->finance.life_years, r = in->finance.cost_of_capital;
    *cap = capex * (1 - in->finance.residual_fraction / pow(1 + r, n)) * crf(r, n);
    *maint = in->finance.maintenance_fraction * capex;
    *lic = in->finance.licenses_per_gpu_year * s->gpus;
    return *cap + *maint + *lic;
}

static double kw_to_dollars(const struct tok_input *in, double kw)
{
    return kw * TOK_HOURS_PER_YEAR * in->facility.pue * in->facility.electricity_per_kwh;
}

/* Annual cost of `count` active and `standby` servers of type s at utilization u. */
static double server_annual(const struct tok_input *in, const struct tok_server *s, double count,
                            double standby, double u)
{
    double cap, maint, lic;
    double fixed = server_fixed(in, s, &cap, &maint, &lic);
    double idle = kw_to_dollars(in, s->power_idle_kw);
    double span = kw_to_dollars(in, s->power_load_kw - s->power_idle_kw);
    return (count + standby) * (fixed + idle) + count * u * span;
}

static struct fleet_cost fleet_cost(const struct tok_input *in)
{
    struct fleet_cost f = {.ops = in->finance.ops_per_year};
    for (int i = 0; i < in->n_servers; i++) {
        const struct tok_server *s = &in->servers[i];
        double cap, maint, lic, all = s->count + s->standby;
        server_fixed(in, s, &cap, &maint, &lic);
        f.capital += all * cap;
        f.maintenance += all * maint;
        f.licenses += all * lic;
        f.energy_idle += all * kw_to_dollars(in, s->power_idle_kw);
        f.energy_span += s->count * kw_to_dollars(in, s->power_load_kw - s->power_idle_kw);
    }
    return f;
}

static double fleet_fixed(const struct fleet_cost *f)
{
    return f->capital + f->maintenance + f->licenses + f->ops + f->energy_idle;
}

/* Token shares: the given shares, or each demand over the total demand. */
static void shares(const struct tok_input *in, double *w)
{
    bool all_share = true;
    double total = 0;
    for (int i = 0; i < in->n_workloads; i++) {
        all_share &= in->workloads[i].has_share;
        total += in->workloads[i].demand_tokens_per_year;
    }
    for (int i = 0; i < in->n_workloads; i++)
        w[i] = all_share ? in->workloads[i].share : in->workloads[i].demand_tokens_per_year / total;
}

static json_t *num(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

/* Picks the server type for workload w: the named one, else the smallest that holds a
 * replica, else the largest. */
static const struct tok_server *server_for(const struct tok_input *in, const struct tok_workload *w)
{
    const struct tok_server *best = NULL, *largest = &in->servers[0];
    for (int i = 0; i < in->n_servers; i++) {
        const struct tok_server *s = &in->servers[i];
        if (w->server[0] && !strcmp(w->server, s->name))
            return s;
        if (s->gpus > largest->gpus)
            largest = s;
        if (s->gpus >= w->gpus_per_replica && (!best || s->gpus < best->gpus))
            best = s;
    }
    return best ? best : largest;
}

static json_t *sizing(const struct tok_input *in, const double *gpu_time, double active_gpus,
                      json_t **ret_fleet)
{
    json_t *rows = json_array();
    double need_gpus[TOK_MAX_SERVERS] = {0};
    double demand_total = 0;
    const double U_t = in->planning.target_utilization, U_pk = in->planning.peak_ceiling;
    const double PAR = in->planning.peak_to_average;
    for (int i = 0; i < in->n_workloads; i++) {
        const struct tok_workload *w = &in->workloads[i];
        if (!w->has_demand)
            continue;
        double D = w->demand_tokens_per_year, T = w->tokens_per_second_per_gpu;
        demand_total += D;
        double avg_need = D / (U_t * T * TOK_SECONDS_PER_YEAR);
        double peak_need = PAR * D / (U_pk * T * TOK_SECONDS_PER_YEAR);
        int replicas = (int)ceil(fmax(avg_need, peak_need) / w->gpus_per_replica - 1e-9);
        if (replicas < w->min_replicas)
            replicas = w->min_replicas;
        int gpus_req = replicas * w->gpus_per_replica;
        double installed = w->installed_gpus >= 0 ? w->installed_gpus : gpu_time[i] * active_gpus;
        double u_impl = installed > 0 ? D / (installed * T * TOK_SECONDS_PER_YEAR) : INFINITY;
        int inst_replicas = (int)floor(installed / w->gpus_per_replica + 1e-9);
        const char *verdict, *reason;
        char why[256];
        if (inst_replicas < w->min_replicas) {
            verdict = "under-provisioned";
            reason = "redundancy";
            snprintf(why, sizeof(why), "%d replica(s) installed, %d required for redundancy",
                     inst_replicas, w->min_replicas);
        } else if (PAR * u_impl > U_pk || u_impl > 0.85) {
            verdict = "under-provisioned";
            reason = "capacity";
            snprintf(why, sizeof(why), "peak utilization %.2f exceeds the ceiling %.2f",
                     PAR * u_impl, U_pk);
        } else if (installed > 1.25 * gpus_req) {
            verdict = "over-provisioned";
            reason = "capacity";
            snprintf(why, sizeof(why), "%.1f GPUs installed, %d required", installed, gpus_req);
        } else {
            verdict = "right-sized";
            reason = "";
            snprintf(why, sizeof(why), "utilization %.2f, peak %.2f", u_impl, PAR * u_impl);
        }
        const struct tok_server *s = server_for(in, w);
        need_gpus[s - in->servers] += gpus_req;
        json_array_append_new(
            rows, json_pack("{s:s, s:o, s:i, s:i, s:o, s:o, s:o, s:s, s:s, s:s, s:s}", "workload",
                            w->name, "demand_tokens_per_year", num(D), "replicas_required",
                            replicas, "gpus_required", gpus_req, "gpus_installed", num(installed),
                            "utilization_implied", num(u_impl), "peak_utilization_implied",
                            num(PAR * u_impl), "verdict", verdict, "reason", reason, "detail", why,
                            "server", s->name));
    }
    json_t *servers = json_array();
    double annual_req = demand_total > 0 ? in->finance.ops_per_year : 0;
    for (int s = 0; s < in->n_servers; s++) {
        if (need_gpus[s] <= 0)
            continue;
        int n = (int)ceil(need_gpus[s] / in->servers[s].gpus - 1e-9);
        annual_req += server_annual(in, &in->servers[s], n, 0, U_t);
        json_array_append_new(servers, json_pack("{s:s, s:i, s:o}", "name", in->servers[s].name,
                                                 "count", n, "gpus", num(need_gpus[s])));
    }
    json_t *fleet = json_pack("{s:o, s:o, s:o}", "servers_required", servers,
                              "annual_cost_required", num(annual_req), "cost_per_million_required",
                              num(demand_total > 0 ? annual_req / (demand_total / 1e6) : NAN));
    double B = in->planning.budget_per_year;
    if (B > 0 && demand_total > 0) {
        json_t *per = json_array();
        for (int i = 0; i < in->n_workloads; i++) {
            const struct tok_workload *w = &in->workloads[i];
            if (!w->has_demand)
                continue;
            const struct tok_server *s = server_for(in, w);
            double per_server = server_annual(in, s, 1, 0, U_t);
            double nserv = floor(B / per_server);
            double tokens =
                nserv * s->gpus * w->tokens_per_second_per_gpu * TOK_SECONDS_PER_YEAR * U_t;
            json_array_append_new(per, json_pack("{s:s, s:s, s:o, s:o}", "workload", w->name,
                                                 "server", s->name, "servers", num(nserv),
                                                 "tokens_per_year", num(tokens)));
        }
        bool constrained = annual_req > B;
        json_object_set_new(
            fleet, "budget",
            json_pack("{s:o, s:s, s:o, s:o, s:o}", "budget_per_year", num(B), "verdict",
                      constrained ? "budget-constrained" : "within-budget",
                      "affordable_fraction_of_demand", num(fmin(1.0, B / annual_req)),
                      "affordable_tokens_per_year", num(fmin(1.0, B / annual_req) * demand_total),
                      "if_all_for_one_workload", per));
    }
    *ret_fleet = fleet;
    return rows;
}

int tok_compute(const struct tok_input *in, json_t **ret, struct error *err)
{
    double w[TOK_MAX_WORKLOADS], gpu_time[TOK_MAX_WORKLOADS];
    double U = in->utilization;
    if (!(U > 0 && U <= 1))
        return error_set(err, ERR_INVALID, "utilization",
                         "utilization: %g is out of range: must be greater than 0 and at most 1",
                         U);
    int active_gpus = 0, standby_gpus = 0;
    for (int i = 0; i < in->n_servers; i++) {
        active_gpus += in->servers[i].count * in->servers[i].gpus;
        standby_gpus += in->servers[i].standby * in->servers[i].gpus;
    }
    if (active_gpus == 0)
        return error_set(err, ERR_INVALID, "servers",
                         "servers: no active GPUs (every count is 0): capacity would be zero");
    shares(in, w);
    double inv = 0; /* sum of w_i / T_i: GPU-seconds per token */
    for (int i = 0; i < in->n_workloads; i++)
        inv += w[i] / in->workloads[i].tokens_per_second_per_gpu;
    for (int i = 0; i < in->n_workloads; i++)
        gpu_time[i] = w[i] / in->workloads[i].tokens_per_second_per_gpu / inv;
    const double T_eff = 1.0 / inv;
    const double cap_tokens = active_gpus * T_eff * TOK_SECONDS_PER_YEAR;
    const double cap_M = cap_tokens / 1e6;
    struct fleet_cost f = fleet_cost(in);
    const double F = fleet_fixed(&f);
    const double annual = F + U * f.energy_span;
    const double tokens = U * cap_tokens;
    const double cpm = annual / (tokens / 1e6);
    const double U_max = fmin(1.0, in->planning.peak_ceiling / in->planning.peak_to_average);

    json_t *res = json_object();
    json_object_set_new(res, "utilization", num(U));
    json_object_set_new(res, "utilization_source",
                        json_string(in->utilization_measured ? "measured" : "input"));
    json_object_set_new(
        res, "annual_cost",
        json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "capital", num(f.capital), "maintenance",
                  num(f.maintenance), "licenses", num(f.licenses), "ops", num(f.ops), "energy",
                  num(f.energy_idle + U * f.energy_span), "energy_fraction",
                  num((f.energy_idle + U * f.energy_span) / annual), "total", num(annual)));
    json_object_set_new(res, "gpus",
                        json_pack("{s:i, s:i}", "active", active_gpus, "standby", standby_gpus));
    json_object_set_new(res, "effective_tokens_per_second_per_gpu", num(T_eff));
    json_object_set_new(res, "capacity_tokens_per_year", num(cap_tokens));
    json_object_set_new(res, "tokens_per_year", num(tokens));
    json_object_set_new(res, "cost_per_million_tokens", num(cpm));
    json_object_set_new(res, "max_achievable_utilization", num(U_max));

    json_t *per = json_array();
    for (int i = 0; i < in->n_workloads; i++) {
        const struct tok_workload *wl = &in->workloads[i];
        json_array_append_new(per, json_pack("{s:s, s:o, s:o, s:o, s:o, s:o}", "name", wl->name,
                                             "share", num(w[i]), "gpu_time_share", num(gpu_time[i]),
                                             "tokens_per_year", num(w[i] * tokens), "annual_cost",
                                             num(annual * gpu_time[i]), "cost_per_million_tokens",
                                             num(cpm * T_eff / wl->tokens_per_second_per_gpu)));
    }
    json_object_set_new(res, "per_workload", per);

    json_t *curve = json_array();
    for (int k = 1; k <= 20; k++) {
        double u = k * 0.05;
        double c = (F + u * f.energy_span) / (u * cap_M);
        json_t *pw = json_array();
        for (int i = 0; i < in->n_workloads; i++)
            json_array_append_new(pw, num(c * T_eff / in->workloads[i].tokens_per_second_per_gpu));
        json_array_append_new(curve,
                              json_pack("{s:o, s:o, s:o}", "utilization", num(u),
                                        "cost_per_million_tokens", num(c), "per_workload", pw));
    }
    json_object_set_new(res, "curve", curve);

    json_t *be = json_array();
    for (int i = 0; i < in->n_workloads; i++) {
        const struct tok_workload *wl = &in->workloads[i];
        double k = T_eff / wl->tokens_per_second_per_gpu; /* this workload's cost multiplier */
        for (int j = 0; j < wl->n_prices; j++) {
            const struct tok_price *p = &wl->prices[j];
            double p_eq = p->input_per_million * wl->input_output_ratio + p->output_per_million;
            double denom = p_eq * cap_M - f.energy_span * k;
            double u_star = denom > 0 ? F * k / denom : INFINITY;
            const char *status = u_star > 1       ? "never"
                                 : u_star > U_max ? "not_reachable"
                                                  : "reachable";
            json_array_append_new(
                be, json_pack("{s:s, s:s, s:o, s:o, s:s, s:o}", "workload", wl->name, "price",
                              p->name, "equivalent_price_per_million", num(p_eq), "utilization",
                              num(u_star <= 1 ? u_star : NAN), "status", status,
                              "on_prem_cost_per_million_at_utilization", num(cpm * k)));
        }
    }
    json_object_set_new(res, "break_even", be);

    json_t *fleet = NULL;
    json_object_set_new(res, "sizing", sizing(in, gpu_time, active_gpus, &fleet));
    json_object_set_new(res, "fleet", fleet);
    *ret = res;
    return 0;
}

double tok_measured_utilization(const struct pool *p, const struct reservation *r, size_t n,
                                int64_t from, int64_t to)
{
    double booked = 0, capacity = 0;
    if (to <= from)
        return 0;
    for (int i = 0; i < p->n; i++) {
        const struct pool_resource *res = &p->res[i];
        if (!pool_is_gpu(res))
            continue;
        double weight = res->memory_gib > 0 ? res->memory_gib : 1;
        capacity += weight * res->physical * (double)(to - from);
        for (size_t k = 0; k < n; k++) {
            if (r[k].state == RS_CANCELED || r[k].state == RS_FAILED)
                continue;
            if (strcmp(r[k].gpu_type, res->name))
                continue;
            int64_t s = r[k].starts_at > from ? r[k].starts_at : from;
            int64_t e = r[k].ends_at < to ? r[k].ends_at : to;
            if (e > s)
                booked += weight * r[k].gpu_count * (double)(e - s);
        }
    }
    return capacity > 0 ? fmin(1.0, booked / capacity) : 0;
}

/* ---- SVG chart ---------------------------------------------------------------------------- */

/* Appends s with the five XML special characters escaped and control characters dropped. */
static void svg_escaped(struct strbuf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<':
            sb_adds(b, "&lt;");
            break;
        case '>':
            sb_adds(b, "&gt;");
            break;
        case '&':
            sb_adds(b, "&amp;");
            break;
        case '"':
            sb_adds(b, "&quot;");
            break;
        case '\'':
            sb_adds(b, "&apos;");
            break;
        default:
            if ((unsigned char)*s >= 0x20)
                sb_addch(b, *s);
        }
    }
}

static const char *palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};

int tok_svg(const json_t *result, char **ret, struct error *err)
{
    const double W = 820, H = 500, L = 80, R = 220, T = 40, B = 60;
    json_t *curve = json_object_get(result, "curve");
    json_t *per = json_object_get(result, "per_workload");
    json_t *be = json_object_get(result, "break_even");
    if (!json_is_array(curve) || !json_array_size(curve) || !json_is_array(per) ||
        !json_is_array(be))
        return error_set(err, ERR_INVALID, "", "not a tokenomics result");
    size_t nw = json_array_size(per);
    /* y range over all series and prices, log10 scale */
    double ymin = INFINITY, ymax = 0;
    size_t i, j;
    json_t *pt, *v;
    json_array_foreach(curve, i, pt)
    {
        json_array_foreach(json_object_get(pt, "per_workload"), j, v)
        {
            double y = json_number_value(v);
            if (y > 0) {
                ymin = fmin(ymin, y);
                ymax = fmax(ymax, y);
            }
        }
    }
    json_array_foreach(be, i, v)
    {
        double y = json_number_value(json_object_get(v, "equivalent_price_per_million"));
        if (y > 0) {
            ymin = fmin(ymin, y);
            ymax = fmax(ymax, y);
        }
    }
    if (!(ymax > 0) || !isfinite(ymin))
        return error_set(err, ERR_INVALID, "", "nothing to draw");
    double lo = floor(log10(ymin)), hi = ceil(log10(ymax));
    if (hi <= lo)
        hi = lo + 1;
#define XP(u) (L + (u) * (W - L - R))
#define YP(c) (T + (hi - log10(c)) / (hi - lo) * (H - T - B))
    struct strbuf b = STRBUF_INIT;
    sb_addf(&b,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n",
            W, H, W, H);
    sb_adds(&b, "<title>Cost per million tokens against utilization</title>\n");
    sb_addf(&b, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#ffffff\"/>\n", W, H);
    /* axes and grid */
    for (double d = lo; d <= hi + 1e-9; d += 1) {
        double y = YP(pow(10, d));
        sb_addf(&b,
                "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"#dddddd\"/>\n",
                L, y, W - R, y);
        sb_addf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">$%g</text>\n", L - 6, y + 4,
                pow(10, d));
    }
    for (int k = 0; k <= 10; k++) {
        double x = XP(k / 10.0);
        sb_addf(&b,
                "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"#eeeeee\"/>\n",
                x, T, x, H - B);
        sb_addf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%d%%</text>\n", x,
                H - B + 16, k * 10);
    }
    sb_addf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000000\"/>\n", L,
            H - B, W - R, H - B);
    sb_addf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000000\"/>\n", L,
            T, L, H - B);
    sb_addf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">utilization</text>\n",
            (L + W - R) / 2, H - 15);
    sb_addf(&b,
            "<text x=\"20\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 20 "
            "%.1f)\">$ per million output tokens (log scale)</text>\n",
            (T + H - B) / 2, (T + H - B) / 2);
    /* one cost curve per workload */
    json_t *wl;
    json_array_foreach(per, i, wl)
    {
        const char *name = json_string_value(json_object_get(wl, "name"));
        const char *color = palette[i % 8];
        sb_adds(&b, "<polyline class=\"series cost\" data-workload=\"");
        svg_escaped(&b, name ? name : "");
        sb_addf(&b, "\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", color);
        json_array_foreach(curve, j, pt)
        {
            double u = json_number_value(json_object_get(pt, "utilization"));
            double c = json_number_value(json_array_get(json_object_get(pt, "per_workload"), i));
            if (c > 0)
                sb_addf(&b, "%s%.1f,%.1f", j ? " " : "", XP(u), YP(c));
        }
        sb_adds(&b, "\"/>\n");
        double ly = T + 16 * (double)i;
        sb_addf(&b,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                "stroke-width=\"2\"/>\n",
                W - R + 10, ly, W - R + 30, ly, color);
        sb_addf(&b, "<text x=\"%.1f\" y=\"%.1f\">", W - R + 36, ly + 4);
        svg_escaped(&b, name ? name : "");
        sb_adds(&b, "</text>\n");
    }
    /* cloud prices as dashed lines in the workload's colour, break-even points marked */
    double ly = T + 16 * (double)nw + 10;
    json_array_foreach(be, i, v)
    {
        const char *wname = json_string_value(json_object_get(v, "workload"));
        const char *pname = json_string_value(json_object_get(v, "price"));
        double p_eq = json_number_value(json_object_get(v, "equivalent_price_per_million"));
        size_t widx = 0;
        json_array_foreach(
            per, j, wl) if (wname && !strcmp(wname, json_string_value(json_object_get(wl, "name"))))
            widx = j;
        if (!(p_eq > 0))
            continue;
        const char *color = palette[widx % 8];
        sb_adds(&b, "<line class=\"series price\" data-workload=\"");
        svg_escaped(&b, wname ? wname : "");
        sb_adds(&b, "\" data-price=\"");
        svg_escaped(&b, pname ? pname : "");
        sb_addf(&b,
                "\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                "stroke-dasharray=\"6 4\"/>\n",
                L, YP(p_eq), W - R, YP(p_eq), color);
        json_t *u = json_object_get(v, "utilization");
        if (json_is_number(u) && json_number_value(u) >= 0.05) {
            sb_addf(
                &b,
                "<circle class=\"break-even\" cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\"><title>",
                XP(json_number_value(u)), YP(p_eq), color);
            svg_escaped(&b, wname ? wname : "");
            sb_adds(&b, " vs ");
            svg_escaped(&b, pname ? pname : "");
            sb_addf(&b, ": break-even at %.0f%%</title></circle>\n", 100 * json_number_value(u));
        }
        if (ly < H - 20) {
            sb_addf(&b, "<text x=\"%.1f\" y=\"%.1f\" fill=\"%s\">- - ", W - R + 10, ly, color);
            svg_escaped(&b, pname ? pname : "");
            sb_addf(&b, " ($%.2f)</text>\n", p_eq);
            ly += 14;
        }
    }
    sb_adds(&b, "</svg>\n");
#undef XP
#undef YP
    char *svg = sb_detach(&b, NULL);
    if (!svg)
        return error_set(err, ERR_NOMEM, "", "out of memory");
    *ret = svg;
    return 0;
}
