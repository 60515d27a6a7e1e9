/* Which store files are in use: opened or memory-mapped by any process on the node
 * (scans /proc/<pid>/fd and /proc/<pid>/maps; the DaemonSet runs with hostPID so session
 * containers are visible). A workspace reading or mmap'ing model weights keeps them safe
 * from eviction without any coordination. */
#ifndef GPUAAS_CACHE_INUSE_H
#define GPUAAS_CACHE_INUSE_H

#include <stddef.h>

/* Fills hexes (malloc'ed array of malloc'ed strings) with the digests of blobs under
 * store_dir that some process has open. Returns the count (>= 0) or -1. */
int cache_in_use(const char *store_dir, char ***hexes);
void cache_in_use_free(char **hexes, int n);

#endif
