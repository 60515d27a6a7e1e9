/* Has someone changed an object we applied? A pure comparison of the desired object (what
 * server-side apply sent) with the live one the API server returns.
 *
 * DESIGN: the live object carries more than we sent (defaults, status, metadata the server
 * owns), so the desired object must be contained in it: every member of a desired object is
 * present in the live one with a contained value, arrays have the same length and contain
 * element by element, scalars are equal. Anything we never set is ignored, which is what
 * server-side apply with force restores too. */
#ifndef GPUAAS_CORE_OBJECT_DRIFT_H
#define GPUAAS_CORE_OBJECT_DRIFT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* True when live does not contain desired; where (may be NULL) receives the first differing
 * path, e.g. ".spec.ingress[0].ports[0].port". Inputs are borrowed. */
bool object_drifted(const json_t *desired, const json_t *live, char *where, size_t n);

#endif
