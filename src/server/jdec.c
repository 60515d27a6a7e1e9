/* Strict JSON request decoding (see jdec.h). */
#include "server/jdec.h"

#include "common/timeutil.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static int find_field(const struct jdec_field *fields, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(fields[i].name, name))
            return (int)i;
    return -1;
}

static bool clean_string(const char *s, size_t len)
{
    if (strlen(s) != len)
        return false; /* embedded NUL */
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

static int decode_one(const struct jdec_field *f, json_t *v, struct jdec_value *out,
                      struct error *err)
{
    switch (f->type) {
    case JD_INT: {
        if (!json_is_integer(v))
            return error_set(err, ERR_INVALID, f->name, "%s must be an integer", f->name);
        long long x = json_integer_value(v);
        if (x < f->min || x > f->max)
            return error_set(err, ERR_INVALID, f->name, "%s must be between %lld and %lld", f->name,
                             f->min, f->max);
        out->i = x;
        break;
    }
    case JD_BOOL:
        if (!json_is_boolean(v))
            return error_set(err, ERR_INVALID, f->name, "%s must be true or false", f->name);
        out->b = json_is_true(v);
        break;
    case JD_STRING:
    case JD_TIME: {
        if (!json_is_string(v))
            return error_set(err, ERR_INVALID, f->name, "%s must be a string", f->name);
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        if (!clean_string(s, len))
            return error_set(err, ERR_INVALID, f->name, "%s holds control characters", f->name);
        if (f->type == JD_TIME) {
            if (len >= 64 || time_parse_rfc3339(s, &out->t) < 0)
                return error_set(err, ERR_INVALID, f->name,
                                 "%s must be an RFC 3339 time such as 2026-12-01T09:00:00Z",
                                 f->name);
            /* Times are kept in whole seconds: refuse a fraction rather than cut it off. */
            for (const char *c = s[19] == '.' ? s + 20 : ""; *c >= '0' && *c <= '9'; c++)
                if (*c != '0')
                    return error_set(err, ERR_INVALID, f->name,
                                     "%s must be a whole second (no fraction): times are kept "
                                     "to the second",
                                     f->name);
        } else if ((long long)len < f->min || (long long)len > f->max || len >= JDEC_MAX_STR) {
            return error_set(err, ERR_INVALID, f->name,
                             "%s must be between %lld and %lld characters long", f->name, f->min,
                             f->max);
        }
        memcpy(out->s, s, len + 1);
        break;
    }
    }
    out->present = true;
    return 0;
}

int jdec_decode(const char *body, size_t len, const struct jdec_field *fields, size_t n,
                struct jdec_value *out, struct error *err)
{
    json_t *root = NULL;
    json_error_t jerr;
    int r = 0;

    for (size_t i = 0; i < n; i++)
        memset(&out[i], 0, sizeof(out[i]));
    if (len == 0) {
        body = "{}";
        len = 2;
    }
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        /* jansson names its own flag for a NUL; say what is wrong instead */
        const char *why = strstr(jerr.text, "JSON_ALLOW_NUL")
                              ? "NUL (\\u0000) is not allowed in strings"
                              : jerr.text;
        r = error_set(err, ERR_INVALID, "body", "malformed JSON at line %d column %d: %s",
                      jerr.line, jerr.column, why);
        goto out;
    }
    if (!json_is_object(root)) {
        r = error_set(err, ERR_INVALID, "body", "the body must be a JSON object");
        goto out;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        int i = find_field(fields, n, key);
        if (i < 0) {
            char name[64];
            size_t k = 0;
            for (const char *c = key; *c && k < sizeof(name) - 1; c++)
                name[k++] = (*c > 0x20 && *c < 0x7f) ? *c : '?';
            name[k] = 0;
            r = error_set(err, ERR_INVALID, name, "unknown field \"%s\"", name);
            goto out;
        }
        if (json_is_null(v) && !fields[i].required)
            continue;
        r = decode_one(&fields[i], v, &out[i], err);
        if (r < 0)
            goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (fields[i].required && !out[i].present) {
            r = error_set(err, ERR_INVALID, fields[i].name, "%s is required", fields[i].name);
            goto out;
        }
out:
    json_decref(root);
    return r;
}
