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

struct yaml_document_s;
/* Refuses a document in which one mapping holds the same scalar key twice, at any depth,
 * or which nests deeper than 64 levels. `name` (the file) starts the message:
 * "NAME:LINE: PATH: duplicate key \"K\" (first at line N)", PATH the dotted key path
 * ("pool.nodes[0].name"); err->field is PATH. Nodes shared through aliases are checked once.
 * Returns 0, -ERR_INVALID or -ERR_NOMEM. */
int yaml_unique_keys(struct yaml_document_s *doc, const char *name, struct error *err);

#endif
