/* The node cache daemon: a queue of artifacts and images to pre-stage, worker threads that
 * download (bounded parallelism; jobs for the same digest share one transfer), retries with
 * backoff, a budget that counts the downloads in flight, eviction of the least recently used (last
 * opened or closed, cache_store.h) files no process holds (cache_inuse.h), and a status snapshot
 * for the HTTP endpoint. The daemon owns its jobs; cache_daemon_status() returns a new JSON
 * reference. */
#ifndef GPUAAS_CACHE_DAEMON_H
#define GPUAAS_CACHE_DAEMON_H

/* The largest artifact accepted (1 PiB): sizes from configuration, prefetch requests and
 * servers stay far from overflow in the budget arithmetic. */
#define CACHE_MAX_ARTIFACT_BYTES (1LL << 50)

#include "cache/cache_store.h"
#include "common/error.h"
#include "core/config.h"

#include <jansson.h>
#include <stdbool.h>

struct cache_daemon;

/* Opens the store, checks the pinned set fits the budget (c->cache.budget_bytes; pinned
 * artifacts without a size count as 0), queues every configured artifact, the prefetched
 * ones kept in DIR/prefetch.json (checked like POST /prefetch; a bad or clashing entry is
 * dropped with a warning) and every image, and runs fsck (keeping the partials of every
 * queued artifact so they resume). */
int cache_daemon_new(const struct config *c, struct cache_daemon **ret, struct error *err);
/* Starts the worker threads. */
int cache_daemon_start(struct cache_daemon *d, struct error *err);
/* Adds an artifact on demand (POST /prefetch) and records it in DIR/prefetch.json so that it
 * survives a restart. -ERR_INVALID for a bad field, -ERR_EXISTS when the name is taken by a
 * different digest or one name would be a directory of the other, -ERR_IO when the record
 * cannot be written (the artifact is then not added). */
int cache_daemon_prefetch(struct cache_daemon *d, const char *name, const char *url,
                          const char *hex, long long size, bool pinned, struct error *err);
json_t *cache_daemon_status(struct cache_daemon *d);
/* Prometheus text; *ret malloc'ed. */
int cache_daemon_metrics(struct cache_daemon *d, char **ret);
/* True once every job has reached ready or failed. */
bool cache_daemon_idle(struct cache_daemon *d);
/* Stops workers (in-flight transfers are cancelled; partials stay for resume) and frees. */
void cache_daemon_free(struct cache_daemon *d);

#endif
