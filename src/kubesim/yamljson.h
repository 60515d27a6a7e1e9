/* YAML (one document) to jansson, with YAML 1.2 core-schema scalar typing; JSON is YAML. */
#ifndef GPUAAS_KUBESIM_YAMLJSON_H
#define GPUAAS_KUBESIM_YAMLJSON_H

#include <jansson.h>
#include <stddef.h>

#include "common/error.h"

/* Parses the first document of buf[0..len). On success *ret is a new reference the caller
 * owns. Nesting is bounded (64 levels). 0 or -ERR_INVALID with err->message set. */
int ksim_yaml_to_json(const char *buf, size_t len, json_t **ret, struct error *err);

#endif
