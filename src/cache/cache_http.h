/* The cache daemon's HTTP endpoint: GET /status (JSON), GET /metrics (Prometheus text),
 * GET /healthz, POST /prefetch (admin bearer token; JSON {name, url, sha256, size?, pinned?}). */
#ifndef GPUAAS_CACHE_HTTP_H
#define GPUAAS_CACHE_HTTP_H

#include "cache/cache_daemon.h"
#include "common/error.h"

struct cache_http;

/* listen is ADDR:PORT (port 0: the kernel picks one); token "" disables POST /prefetch (403). */
int cache_http_start(struct cache_daemon *d, const char *listen, const char *token,
                     struct cache_http **ret, struct error *err);
/* The bound port (the kernel's pick when listen asked for port 0). */
int cache_http_port(const struct cache_http *h);
void cache_http_stop(struct cache_http *h);

#endif
