/* Finding an element of a JSON array of objects by one of its string members, the way
 * Kubernetes lists name their entries (containers, env, conditions, volumes). */
#ifndef GPUAAS_COMMON_JSON_FIND_H
#define GPUAAS_COMMON_JSON_FIND_H

#include <jansson.h>

/* The first object in arr whose member `key` is the string `value` (borrowed), or NULL when
 * there is none or arr is not an array. */
json_t *json_find_by(const json_t *arr, const char *key, const char *value);

#endif
