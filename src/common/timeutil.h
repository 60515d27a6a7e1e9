/* Time as int64 seconds since the Unix epoch (UTC), and RFC 3339 text. Pure functions. */
#ifndef GPUAAS_COMMON_TIMEUTIL_H
#define GPUAAS_COMMON_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

#define RFC3339_LEN 21 /* "2026-12-01T09:00:00Z" + NUL */

/* Parses "YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)"; fractions are truncated. 0 or -ERR_INVALID. */
int time_parse_rfc3339(const char *s, int64_t *ret);
/* Writes "YYYY-MM-DDTHH:MM:SSZ" into buf (at least RFC3339_LEN bytes); returns buf. */
char *time_format_rfc3339(int64_t t, char *buf);
/* Wall clock, seconds. The only clock read in common/; core takes `now` as an argument. */
int64_t time_now(void);
/* Monotonic clock in milliseconds (for timeouts and latencies). */
int64_t time_mono_ms(void);

#endif
