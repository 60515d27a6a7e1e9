/* Kubernetes resource quantities ("500m", "20Gi", "1e3") as signed milli-units. */
#ifndef GPUAAS_KUBESIM_QUANTITY_H
#define GPUAAS_KUBESIM_QUANTITY_H

#include <stdint.h>

/* Parses a quantity string into milli-units; 0 or -ERR_INVALID (bad syntax or overflow). */
int ksim_qty_parse(const char *s, int64_t *ret_milli);
/* Formats milli-units canonically enough for messages ("2", "500m", "20Gi"); returns buf. */
char *ksim_qty_format(int64_t milli, char *buf, unsigned len);

#endif
