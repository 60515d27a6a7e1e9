/* Option parsing shared by the CLI commands: "--name value", "--name=value", flags. */
#ifndef GPUAAS_CLI_ARGS_H
#define GPUAAS_CLI_ARGS_H

#include <stddef.h>

struct cli_opt {
    const char *name;       /* "--start"; also matched as "-o" when short is set */
    const char *short_name; /* "-o" or NULL */
    const char **value;     /* receives the value; NULL for a flag */
    int *flag;              /* set to 1 for a flag */
};

/* Parses argv[1..argc-1] (argv[0] is the command). Non-option words go to pos (at most
 * max_pos, count in *ret_npos). On an unknown option, a missing value or too many words,
 * prints "gpuaas CMD: ..." to stderr and returns 2; otherwise 0. Values point into argv. */
int cli_parse(int argc, char **argv, const struct cli_opt *opts, size_t nopts, const char **pos,
              size_t max_pos, size_t *ret_npos);

/* Parses a positive decimal integer within [min, max] (whole string). 0 or -ERR_INVALID. */
int cli_parse_long(const char *s, long min, long max, long *ret);
/* Parses a positive decimal number (e.g. "1.5"), 0 < x <= max. 0 or -ERR_INVALID. */
int cli_parse_double(const char *s, double max, double *ret);
/* "now" (returns now) or RFC 3339. 0 or -ERR_INVALID. */
int cli_parse_time(const char *s, long long now, long long *ret);

#endif
