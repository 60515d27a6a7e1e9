/* Downloads one artifact into the store's partial file and verifies it.
 *
 * One stream: resumes with an HTTP Range from the partial file's size and hashes as it
 * goes (the existing prefix is hashed first), in a writer thread fed through a ring of
 * buffers. Parallel ranges (size known, server accepts ranges, size >= range_min): the file
 * is cut into segments fetched in file order by N connections that write with pwrite; a
 * sidecar `<partial>.ranges` records each segment's progress after the data is on disk
 * (fdatasync), so a restart resumes every segment; a hasher thread follows the downloaded
 * prefix. Either way the file is fsynced before it is published, and a digest that does not
 * match deletes the partial file and fails: nothing unverified is ever published. */
#ifndef GPUAAS_CACHE_FETCH_H
#define GPUAAS_CACHE_FETCH_H

#include "cache/cache_store.h"
#include "common/error.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct fetch_progress {
    _Atomic long long done;  /* bytes on disk */
    _Atomic long long total; /* 0 = unknown */
    _Atomic int ranges;      /* connections in use */
};

struct fetch_opts {
    const char *proxy;   /* NULL/"" = libcurl's environment handling */
    int ranges;          /* parallel ranges for large files (1 = never) */
    long long range_min; /* bytes */
    long long segment;   /* bytes per range request, 0 = 16 MiB (at most 1024 segments) */
    long connect_timeout_s;
    long low_speed_time_s;           /* abort a stalled transfer after this long below 1 KiB/s */
    const _Atomic int *cancel;       /* non-zero aborts */
    struct fetch_progress *progress; /* may be NULL */
    /* Room for the file in the store's budget, NULL = none: called before the transfer with
     * the expected size (the configured one, else the server's Content-Length; not called
     * when neither is known) and again after verification, before publishing, with the
     * real size (final). A negative return (err set) fails the fetch; after the download
     * the partial file is removed. Not called when the digest is already in the store. */
    int (*reserve)(void *arg, long long size, bool final, struct error *err);
    void *reserve_arg;
};

/* Fetches url into the partial file of `hex`, verifies the sha256 and publishes it under
 * `name`. expected_size 0 = unknown. -ERR_INVALID on checksum or size mismatch (partial
 * removed), -ERR_IO/-ERR_UNAVAILABLE on transfer errors (partial kept for resume). */
int cache_fetch(struct cstore *st, const char *url, const char *hex, const char *name,
                long long expected_size, bool pinned, const struct fetch_opts *o, int64_t now,
                struct error *err);

#endif
