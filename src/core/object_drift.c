/* Containment of a desired object in a live one (see object_drift.h). */
#include "core/object_drift.h"

#include <stdio.h>
#include <string.h>

/* strict: below here, a member the live object has and the desired one lacks is drift too. */
static bool differ(const json_t *want, const json_t *got, const char *strict, char *path,
                   size_t len, size_t n)
{
    if (json_is_object(want)) {
        if (!json_is_object(got))
            return true;
        const char *k;
        json_t *v;
        bool in_strict = strict && !strncmp(path, strict, strlen(strict)) &&
                         (path[strlen(strict)] == '\0' || path[strlen(strict)] == '.' ||
                          path[strlen(strict)] == '[');
        json_object_foreach((json_t *)want, k, v)
        {
            int w = snprintf(path + len, n - len, ".%s", k);
            size_t l2 = w > 0 && (size_t)w < n - len ? len + (size_t)w : len;
            if (differ(v, json_object_get(got, k), strict, path, l2, n))
                return true;
            path[len] = '\0';
        }
        if (in_strict) {
            json_object_foreach((json_t *)got, k, v)
            {
                if (!json_object_get(want, k)) {
                    snprintf(path + len, n - len, ".%s", k);
                    return true;
                }
            }
        }
        return false;
    }
    if (json_is_array(want)) {
        if (!json_is_array(got) || json_array_size(got) != json_array_size(want))
            return true;
        size_t i;
        json_t *v;
        json_array_foreach(want, i, v)
        {
            int w = snprintf(path + len, n - len, "[%zu]", i);
            size_t l2 = w > 0 && (size_t)w < n - len ? len + (size_t)w : len;
            if (differ(v, json_array_get(got, i), strict, path, l2, n))
                return true;
            path[len] = '\0';
        }
        return false;
    }
    if (json_is_number(want) && json_is_number(got))
        return json_number_value(want) != json_number_value(got);
    return !got || !json_equal((json_t *)want, (json_t *)got);
}

bool object_drifted(const json_t *desired, const json_t *live, const char *strict, char *where,
                    size_t n)
{
    char path[256] = "";
    bool d = differ(desired, live, strict, path, 0, sizeof(path));
    if (where && n)
        snprintf(where, n, "%s", d ? (path[0] ? path : ".") : "");
    return d;
}

const char *object_drift_strict_path(const char *kind)
{
    return kind && (!strcmp(kind, "NetworkPolicy") || !strcmp(kind, "ResourceQuota")) ? ".spec"
                                                                                      : NULL;
}
