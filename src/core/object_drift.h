/* Has someone changed an object we applied? A pure comparison of the desired object (what
 * server-side apply sent) with the live one the API server returns.
 *
 * DESIGN: the live object carries more than we sent (defaults, status, metadata the server
 * owns), so the desired object must be contained in it: every member of a desired object is
 * present in the live one with a contained value, arrays have the same length and contain
 * element by element, scalars are equal. Anything we never set is ignored, which is what
 * server-side apply with force restores too, except below a strict path: there a member added
 * to an object (a rule added to a NetworkPolicy, a scope to a ResourceQuota) is drift too. */
#ifndef GPUAAS_CORE_OBJECT_DRIFT_H
#define GPUAAS_CORE_OBJECT_DRIFT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* True when live does not contain desired, or has members desired lacks at or below path
 * strict (e.g. ".spec"; NULL = nowhere); where (may be NULL) receives the first differing path,
 * e.g. ".spec.ingress[0].ports[0].port". Inputs are borrowed. */
bool object_drifted(const json_t *desired, const json_t *live, const char *strict, char *where,
                    size_t n);
/* The strict path for objects of kind: ".spec" for the kinds whose every rule is ours
 * (NetworkPolicy, ResourceQuota), NULL for the others (the server defaults fields there). */
const char *object_drift_strict_path(const char *kind);

#endif
