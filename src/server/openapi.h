/* The OpenAPI 3.1 description of the REST API: src/server/openapi.json, compiled in by
 * cmake/openapi.cmake. GET /api/v1/openapi.json serves it; tests/unit/test_openapi.c checks
 * it against the route table (api_routes), so a route without a description fails a test. */
#ifndef GPUAAS_SERVER_OPENAPI_H
#define GPUAAS_SERVER_OPENAPI_H

#include <stddef.h>

/* The document's bytes, api_openapi_json_len of them, followed by a NUL. Static data. */
extern const char api_openapi_json[];
extern const size_t api_openapi_json_len;

#endif
