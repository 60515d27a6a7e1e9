/* Validation of API objects against the OpenAPI v2 definitions that real API servers publish,
 * with the semantics of strict field validation: unknown fields and mistyped values are errors.
 *
 * DESIGN: definitions from every *.json file in the directory are merged into one jansson
 * object; validation walks the value and the schema together, resolving $ref lazily. */
#ifndef GPUAAS_KUBESIM_SCHEMA_H
#define GPUAAS_KUBESIM_SCHEMA_H

#include <jansson.h>

#include "common/error.h"

struct ksim_schema;

/* Loads every *.json swagger document in dir. Caller frees with ksim_schema_free. */
int ksim_schema_load(const char *dir, struct ksim_schema **ret, struct error *err);
/* Builds a schema set from a definitions object (steals nothing: takes a new reference). */
struct ksim_schema *ksim_schema_from_definitions(json_t *definitions);
void ksim_schema_free(struct ksim_schema *s);
/* True when the named definition exists. */
int ksim_schema_has(const struct ksim_schema *s, const char *defname);
/* Validates obj against definition defname. On failure returns -ERR_INVALID and err->message
 * is the decoder's text as the real server words it, e.g.
 * `strict decoding error: unknown field "spec.foo"` or
 * `json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type
 * int32`; err->field holds the first offending path. -ERR_NOT_FOUND for an unknown defname. */
int ksim_schema_validate(const struct ksim_schema *s, const char *defname, json_t *obj,
                         struct error *err);

#endif
