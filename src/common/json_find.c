#include "common/json_find.h"

#include <string.h>

json_t *json_find_by(const json_t *arr, const char *key, const char *value)
{
    size_t n = json_array_size(arr);
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(arr, i);
        const char *s = json_string_value(json_object_get(v, key));
        if (s && !strcmp(s, value))
            return v;
    }
    return NULL;
}
