/* A strict validator of Kubernetes objects against the OpenAPI (swagger 2.0) definitions in
 * third_party/openapi/, for tests: resolves $ref, rejects unknown fields, checks
 * types, enums, required fields, int-or-string and quantities, like a real API server with
 * strict field validation.
 *
 * Ownership: oapi_load() returns a struct oapi freed with oapi_free(). */
#ifndef GPUAAS_TESTS_OPENAPI_CHECK_H
#define GPUAAS_TESTS_OPENAPI_CHECK_H

#include <jansson.h>
#include <stddef.h>

struct oapi;

/* Loads and merges the definitions of n swagger files. 0, or -1 with msg filled. */
int oapi_load(const char *const *paths, int n, struct oapi **ret, char *msg, size_t msg_len);
/* Loads kubernetes-1.36-swagger.json and the OpenShift file from directory dir. */
int oapi_load_dir(const char *dir, struct oapi **ret, char *msg, size_t msg_len);
void oapi_free(struct oapi *o);
/* Validates one object, found by its apiVersion and kind. 0, or -1 with msg naming the field
 * path (e.g. "Deployment/x: .spec.template.spec.containers[0].imagePullPolcy: unknown
 * field"). An apiVersion/kind without a definition is an error. */
int oapi_validate(const struct oapi *o, json_t *obj, char *msg, size_t msg_len);

#endif
