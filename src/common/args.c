/* The table-driven command-line option parser (see args.h). */
#include "common/args.h"

#include "common/error.h"
#include "common/timeutil.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct cli_opt *find(const struct cli_opt *opts, size_t n, const char *arg, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        if (strlen(opts[i].name) == len && !strncmp(opts[i].name, arg, len))
            return &opts[i];
        if (opts[i].short_name && strlen(opts[i].short_name) == len &&
            !strncmp(opts[i].short_name, arg, len))
            return &opts[i];
    }
    return NULL;
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return 1;
    return 0;
}

int cli_parse(int argc, char **argv, const struct cli_opt *opts, size_t nopts, const char **pos,
              size_t max_pos, size_t *ret_npos)
{
    char who[96];
    snprintf(who, sizeof(who), "gpuaas %s", argc > 0 && argv[0] ? argv[0] : "");
    return cli_parse_as(who, argc, argv, opts, nopts, pos, max_pos, ret_npos);
}

int cli_parse_as(const char *who, int argc, char **argv, const struct cli_opt *opts, size_t nopts,
                 const char **pos, size_t max_pos, size_t *ret_npos)
{
    size_t npos = 0;
    int only_words = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_words && !strcmp(a, "--")) {
            only_words = 1;
            continue;
        }
        if (!only_words && a[0] == '-' && a[1] != '\0') {
            const char *eq = strchr(a, '=');
            size_t len = eq ? (size_t)(eq - a) : strlen(a);
            const struct cli_opt *o = find(opts, nopts, a, len);
            if (!o) {
                fprintf(stderr, "%s: unknown option \"%.*s\" (see --help)\n", who, (int)len, a);
                return 2;
            }
            if (!o->value) {
                if (eq) {
                    fprintf(stderr, "%s: %s takes no value\n", who, o->name);
                    return 2;
                }
                if (o->flag)
                    *o->flag = 1;
                continue;
            }
            if (eq) {
                *o->value = eq + 1;
            } else if (i + 1 < argc) {
                *o->value = argv[++i];
            } else {
                fprintf(stderr, "%s: %s needs a value\n", who, o->name);
                return 2;
            }
            continue;
        }
        if (npos >= max_pos) {
            fprintf(stderr, "%s: unexpected argument \"%s\" (see --help)\n", who, a);
            return 2;
        }
        pos[npos++] = a;
    }
    *ret_npos = npos;
    return 0;
}

int cli_parse_long(const char *s, long min, long max, long *ret)
{
    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
        return -ERR_INVALID;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -ERR_INVALID;
    *ret = v;
    return 0;
}

int cli_parse_double(const char *s, double max, double *ret)
{
    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
        return -ERR_INVALID;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v <= 0 || v > max)
        return -ERR_INVALID;
    *ret = v;
    return 0;
}

int cli_parse_time(const char *s, long long now, long long *ret)
{
    if (!s)
        return -ERR_INVALID;
    if (!strcmp(s, "now")) {
        *ret = now;
        return 0;
    }
    int64_t t;
    if (time_parse_rfc3339(s, &t) < 0)
        return -ERR_INVALID;
    *ret = t;
    return 0;
}
