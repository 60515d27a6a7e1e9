/* The one command-line option parser of the gpuaas commands and gpuaas-kubesim: a table of
 * options drives "--name value", "--name=value", "-o value", flags and "--" (then only
 * words). Unknown options, missing values and surplus words get one clear message.
 * Values point into argv (nothing is allocated). */
#ifndef GPUAAS_COMMON_ARGS_H
#define GPUAAS_COMMON_ARGS_H

#include "common/util.h"

#include <stddef.h>

struct cli_opt {
    const char *name;       /* "--start"; also matched as "-o" when short is set */
    const char *short_name; /* "-o" or NULL */
    const char **value;     /* receives the value; NULL for a flag */
    int *flag;              /* set to 1 for a flag */
};

/* Parses argv[1..argc-1] (argv[0] is the command). Non-option words go to pos (at most
 * max_pos, count in *ret_npos). On an unknown option, a missing value, a value given to a
 * flag or too many words, prints "WHO: ..." to stderr and returns 2; otherwise 0. A value
 * given twice keeps the last, as a flag given twice stays set. */
int cli_parse_as(const char *who, int argc, char **argv, const struct cli_opt *opts, size_t nopts,
                 const char **pos, size_t max_pos, size_t *ret_npos);
/* cli_parse_as() for a gpuaas command: WHO is "gpuaas ARGV0". */
int cli_parse(int argc, char **argv, const struct cli_opt *opts, size_t nopts, const char **pos,
              size_t max_pos, size_t *ret_npos);
/* cli_parse() with the option table's size taken from the array. */
#define CLI_PARSE(argc, argv, opts, pos, max_pos, ret_npos)                                        \
    cli_parse((argc), (argv), (opts), ARRAY_SIZE(opts), (pos), (max_pos), (ret_npos))

/* True when argv[1..argc-1] holds -h or --help (anywhere, as git does). */
int cli_wants_help(int argc, char **argv);

/* Parses a positive decimal integer within [min, max] (whole string). 0 or -ERR_INVALID. */
int cli_parse_long(const char *s, long min, long max, long *ret);
/* Parses a positive decimal number (e.g. "1.5"), 0 < x <= max. 0 or -ERR_INVALID. */
int cli_parse_double(const char *s, double max, double *ret);
/* "now" (returns now) or RFC 3339. 0 or -ERR_INVALID. */
int cli_parse_time(const char *s, long long now, long long *ret);

#endif
