/* Error codes and the human-readable error a caller passes in to be filled on failure.
 *
 * Functions that can fail return int: 0 on success, a negative ERR_* code on failure.
 * Where a person needs to know what went wrong (validation, configuration, Kubernetes
 * Status), the callee also fills a caller-owned struct error. */
#ifndef GPUAAS_COMMON_ERROR_H
#define GPUAAS_COMMON_ERROR_H

#include <stdarg.h>

enum err_code {
    ERR_OK = 0,
    ERR_INVALID = 1,   /* bad input: HTTP 400 */
    ERR_UNAUTH = 2,    /* 401 */
    ERR_FORBIDDEN = 3, /* 403 */
    ERR_NOT_FOUND = 4, /* 404 */
    ERR_CONFLICT = 5,  /* 409 capacity_conflict */
    ERR_STATE = 6,     /* 409 invalid_state */
    ERR_TOO_LARGE = 7, /* 413 */
    ERR_RATE = 8,      /* 429 */
    ERR_IO = 9,        /* file, socket, database I/O */
    ERR_NOMEM = 10,
    ERR_INTERNAL = 11,   /* 500 */
    ERR_EXISTS = 12,     /* unique constraint / already exists */
    ERR_UNAVAILABLE = 13 /* 503: dependency down, retryable */
};

struct error {
    int code;          /* enum err_code, positive */
    char field[96];    /* offending field or config key, "" when none */
    char message[512]; /* one sentence for a person */
};

/* Fills err (NULL allowed) and returns -code, so `return error_set(...)` reads naturally. */
int error_set(struct error *err, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int error_setv(struct error *err, int code, const char *field, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
void error_clear(struct error *err);
/* Stable machine-readable name of a code ("invalid", "not_found", ...). */
const char *error_code_name(int code);

#endif
