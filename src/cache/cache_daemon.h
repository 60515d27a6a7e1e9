/* The node cache daemon: a queue of artifacts and images to pre-stage, worker threads that
 * download (bounded parallelism; jobs for the same digest share one transfer), retries with
 * backoff, budget and LRU eviction, and a status snapshot for the HTTP endpoint.
 * The daemon owns its jobs; cache_daemon_status() returns a new JSON reference. */
#ifndef GPUAAS_CACHE_DAEMON_H
#define GPUAAS_CACHE_DAEMON_H

#include "cache/cache_store.h"
#include "common/error.h"
#include "core/config.h"

#include <jansson.h>
#include <stdbool.h>

struct cache_daemon;

/* Opens the store, runs fsck (keeping partials of configured artifacts so they resume),
 * checks the pinned set fits the budget, queues every configured artifact and image. */
int cache_daemon_new(const struct config *c, struct cache_daemon **ret, struct error *err);
/* Starts the worker threads. */
int cache_daemon_start(struct cache_daemon *d, struct error *err);
/* Adds an artifact on demand (POST /prefetch). -ERR_EXISTS when the name is taken by a
 * different digest. */
int cache_daemon_prefetch(struct cache_daemon *d, const char *name, const char *url, const char *hex,
                          long long size, bool pinned, struct error *err);
json_t *cache_daemon_status(struct cache_daemon *d);
/* Prometheus text; *ret malloc'ed. */
int cache_daemon_metrics(struct cache_daemon *d, char **ret);
/* True once every job has reached ready or failed. */
bool cache_daemon_idle(struct cache_daemon *d);
/* Stops workers (in-flight transfers are cancelled; partials stay for resume) and frees. */
void cache_daemon_free(struct cache_daemon *d);

#endif
