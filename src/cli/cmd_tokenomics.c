/* `gpuaas tokenomics`: the tokenomics model offline, from a YAML or JSON input file. */
#include "cli/commands.h"
#include "cli/shared.h"
#include "common/args.h"
#include "common/strbuf.h"
#include "common/timeutil.h"
#include "common/yaml_json.h"
#include "core/tokenomics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOK_INPUT_MAX_BYTES (8u << 20) /* a larger model input file is refused */

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: gpuaas tokenomics --input FILE [-o table|json] [--svg FILE]\n"
            "                         [--config FILE] [--from RFC3339] [--to RFC3339]\n\n"
            "Computes the annual cost, cost per million tokens, break-even utilization against\n"
            "each cloud price, and the infrastructure the demand needs (docs/tokenomics.md).\n"
            "The input is YAML or JSON (see config/tokenomics.example.yaml).\n\n"
            "  --input FILE     model inputs\n"
            "  -o FORMAT        table (default) or json\n"
            "  --svg FILE       also draw cost per million tokens against utilization\n"
            "  --config FILE    with \"utilization: measured\": the platform configuration whose\n"
            "                   database holds the bookings (default $GPUAAS_CONFIG)\n"
            "  --from, --to     the past window to measure (default: the last 30 days)\n");
}

static double dnum(const json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

static void print_table(const json_t *res)
{
    const json_t *ac = json_object_get(res, "annual_cost");
    printf("Utilization %.0f%% (%s)   GPUs active %lld, standby %lld\n\n",
           100 * dnum(res, "utilization"),
           json_string_value(json_object_get(res, "utilization_source")),
           (long long)json_integer_value(json_object_get(json_object_get(res, "gpus"), "active")),
           (long long)json_integer_value(json_object_get(json_object_get(res, "gpus"), "standby")));
    printf("Annual cost ($/year)\n");
    static const char *parts[] = {"capital", "maintenance", "licenses", "ops", "energy", "total"};
    for (size_t i = 0; i < 6; i++)
        printf("  %-12s %14.0f\n", parts[i], dnum(ac, parts[i]));
    printf("\nCapacity            %14.3e tokens/year\n", dnum(res, "capacity_tokens_per_year"));
    printf("Served              %14.3e tokens/year\n", dnum(res, "tokens_per_year"));
    printf("Cost per 1M tokens  %14.4f $\n\n", dnum(res, "cost_per_million_tokens"));

    printf("%-36s %8s %16s %12s\n", "WORKLOAD", "SHARE", "TOKENS/YEAR", "$/1M");
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(res, "per_workload"), i, w) printf(
        "%-36s %7.1f%% %16.3e %12.4f\n", json_string_value(json_object_get(w, "name")),
        100 * dnum(w, "share"), dnum(w, "tokens_per_year"), dnum(w, "cost_per_million_tokens"));

    printf("\n%-36s %-18s %10s %12s\n", "BREAK-EVEN", "CLOUD PRICE", "$/1M EQ", "UTILIZATION");
    json_array_foreach(json_object_get(res, "break_even"), i, w)
    {
        char u[32];
        json_t *uv = json_object_get(w, "utilization");
        const char *st = json_string_value(json_object_get(w, "status"));
        if (json_is_number(uv) && strcmp(st, "reachable"))
            snprintf(u, sizeof(u), "%.0f%% (%s)", 100 * json_number_value(uv), st);
        else if (json_is_number(uv))
            snprintf(u, sizeof(u), "%.0f%%", 100 * json_number_value(uv));
        else
            snprintf(u, sizeof(u), "%s", st);
        printf("%-36s %-18s %10.3f %12s\n", json_string_value(json_object_get(w, "workload")),
               json_string_value(json_object_get(w, "price")),
               dnum(w, "equivalent_price_per_million"), u);
    }
    json_t *sz = json_object_get(res, "sizing");
    if (json_array_size(sz)) {
        printf("\n%-36s %9s %9s %8s %-18s %s\n", "SIZING", "REQUIRED", "INSTALLED", "UTIL",
               "VERDICT", "WHY");
        json_array_foreach(sz, i, w)
            printf("%-36s %9lld %9.1f %7.0f%% %-18s %s\n",
                   json_string_value(json_object_get(w, "workload")),
                   (long long)json_integer_value(json_object_get(w, "gpus_required")),
                   dnum(w, "gpus_installed"), 100 * dnum(w, "utilization_implied"),
                   json_string_value(json_object_get(w, "verdict")),
                   json_string_value(json_object_get(w, "detail")));
        json_t *fl = json_object_get(res, "fleet");
        printf("\nServers required:");
        json_array_foreach(json_object_get(fl, "servers_required"), i, w)
            printf(" %lld x %s", (long long)json_integer_value(json_object_get(w, "count")),
                   json_string_value(json_object_get(w, "name")));
        printf("\nAnnual cost at the target utilization: $%.0f ($%.4f per 1M tokens)\n",
               dnum(fl, "annual_cost_required"), dnum(fl, "cost_per_million_required"));
        json_t *b = json_object_get(fl, "budget");
        if (b)
            printf("Budget $%.0f/year: %s, affords %.3e tokens/year (%.0f%% of demand)\n",
                   dnum(b, "budget_per_year"), json_string_value(json_object_get(b, "verdict")),
                   dnum(b, "affordable_tokens_per_year"),
                   100 * dnum(b, "affordable_fraction_of_demand"));
    }
}

int cmd_tokenomics(int argc, char **argv)
{
    const char *input = NULL, *format = "table", *svg = NULL, *config = NULL;
    const char *from_s = NULL, *to_s = NULL;
    const struct cli_opt opts[] = {
        {"--input", NULL, &input, NULL}, {"--output", "-o", &format, NULL},
        {"--svg", NULL, &svg, NULL},     {"--config", NULL, &config, NULL},
        {"--from", NULL, &from_s, NULL}, {"--to", NULL, &to_s, NULL},
    };
    size_t npos;
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (CLI_PARSE(argc, argv, opts, NULL, 0, &npos)) {
        usage(stderr);
        return 2;
    }
    if (!input || (strcmp(format, "table") && strcmp(format, "json"))) {
        usage(stderr);
        return 2;
    }
    size_t len = 0;
    char *text = NULL;
    struct error err = {0};
    if (read_file(input, TOK_INPUT_MAX_BYTES, &text, &len, &err) < 0) {
        fprintf(stderr, "gpuaas tokenomics: %s\n", err.message);
        return 1;
    }
    json_t *doc = NULL, *res = NULL;
    struct tok_input *in = calloc(1, sizeof(*in));
    int rc = 1;
    char *chart = NULL;
    if (!in || yaml_to_json(text, len, input, &doc, &err) < 0 || tok_parse(doc, in, &err) < 0)
        goto fail;
    if (in->utilization_measured) {
        int64_t to = time_now(), from = to - 30 * 86400;
        if ((to_s && time_parse_rfc3339(to_s, &to) < 0) ||
            (from_s && time_parse_rfc3339(from_s, &from) < 0) || from >= to) {
            error_set(&err, ERR_INVALID, "from",
                      "--from and --to must be RFC 3339 times with from before to");
            goto fail;
        }
        if (cli_measured_utilization(cli_config_path(config), from, to, &in->utilization, &err) < 0)
            goto fail;
    }
    if (tok_compute(in, &res, &err) < 0)
        goto fail;
    if (svg) {
        FILE *f = NULL;
        if (tok_svg(res, &chart, &err) < 0)
            goto fail;
        if (!(f = fopen(svg, "w")) || fputs(chart, f) == EOF || fclose(f) != 0) {
            error_set(&err, ERR_IO, "", "%s: %s", svg, strerror(errno));
            goto fail;
        }
    }
    if (!strcmp(format, "json")) {
        char *s = json_dumps(res, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
        if (s)
            puts(s);
        free(s);
    } else {
        print_table(res);
    }
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "gpuaas tokenomics: %s\n", err.message);
out:
    free(chart);
    json_decref(res);
    json_decref(doc);
    free(in);
    free(text);
    return rc;
}
