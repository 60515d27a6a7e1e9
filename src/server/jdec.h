/* Strict JSON request decoding driven by a field table: malformed JSON, a non-object body,
 * duplicate or unknown fields, wrong types, values out of bounds and missing required fields
 * are all rejected with ERR_INVALID and err->field naming the offending field. Pure. */
#ifndef GPUAAS_SERVER_JDEC_H
#define GPUAAS_SERVER_JDEC_H

#include "common/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JDEC_MAX_STR 1024

enum jdec_type { JD_STRING, JD_INT, JD_BOOL, JD_TIME };

/* One accepted field. JD_INT: value within [min, max]. JD_STRING: length (bytes) within
 * [min, max], no NUL or control characters. JD_TIME: an RFC 3339 string. */
struct jdec_field {
    const char *name;
    enum jdec_type type;
    bool required;
    long long min, max;
};

/* Decoded value of field i (same index as the table). */
struct jdec_value {
    bool present;
    long long i;          /* JD_INT */
    bool b;               /* JD_BOOL */
    int64_t t;            /* JD_TIME, seconds since the epoch */
    char s[JDEC_MAX_STR]; /* JD_STRING and JD_TIME (the text) */
};

/* Decodes body[0..len) against fields[0..n) into out[0..n) (caller-owned). An empty body
 * is treated as "{}". 0 or -ERR_INVALID with err filled. */
int jdec_decode(const char *body, size_t len, const struct jdec_field *fields, size_t n,
                struct jdec_value *out, struct error *err);

#endif
