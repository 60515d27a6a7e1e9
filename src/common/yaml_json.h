/* YAML (or JSON, which is YAML) text to a jansson value. Plain scalars that read as
 * integers, reals, booleans or null become those JSON types; quoted scalars stay strings.
 * Anchors/aliases are refused (no billion-laughs). Pure, in memory.
 * On success *ret is a new reference the caller json_decref()s. */
#ifndef GPUAAS_COMMON_YAML_JSON_H
#define GPUAAS_COMMON_YAML_JSON_H

#include "common/error.h"

#include <jansson.h>
#include <stddef.h>

int yaml_to_json(const char *text, size_t len, const char *name, json_t **ret, struct error *err);

#endif
