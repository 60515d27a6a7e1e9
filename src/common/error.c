/* struct error helpers. */
#include "common/error.h"

#include <stdio.h>
#include <string.h>

int error_setv(struct error *err, int code, const char *field, const char *fmt, va_list ap)
{
    if (err) {
        err->code = code;
        snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
    }
    return -code;
}

int error_set(struct error *err, int code, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = error_setv(err, code, field, fmt, ap);
    va_end(ap);
    return r;
}

void error_clear(struct error *err)
{
    if (err)
        memset(err, 0, sizeof(*err));
}

const char *error_code_name(int code)
{
    if (code < 0)
        code = -code;
    switch (code) {
    case ERR_OK:
        return "ok";
    case ERR_INVALID:
        return "invalid";
    case ERR_UNAUTH:
        return "unauthenticated";
    case ERR_FORBIDDEN:
        return "forbidden";
    case ERR_NOT_FOUND:
        return "not_found";
    case ERR_CONFLICT:
        return "capacity_conflict";
    case ERR_STATE:
        return "invalid_state";
    case ERR_TOO_LARGE:
        return "too_large";
    case ERR_RATE:
        return "rate_limited";
    case ERR_EXISTS:
        return "already_exists";
    case ERR_UNAVAILABLE:
        return "unavailable";
    default:
        return "internal";
    }
}
