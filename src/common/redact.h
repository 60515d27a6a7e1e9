/* Redaction of credentials in URLs before they reach a log line, an error message or a
 * status page: presigned download URLs carry their signature in the query string
 * (X-Amz-Signature=..., sig=..., token=...), others carry user:password@ in the authority. */
#ifndef GPUAAS_COMMON_REDACT_H
#define GPUAAS_COMMON_REDACT_H

#include <stddef.h>

/* Copies in to out (size n, always NUL-terminated, truncated if needed), replacing in every
 * "scheme://" URL found in the text the userinfo ("user:pw@") with "***@" and the query
 * string and fragment with "?***". Text outside URLs is copied unchanged. */
void redact_urls(const char *in, char *out, size_t n);

#endif
