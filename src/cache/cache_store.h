/* The node cache's content-addressed store on disk:
 *   DIR/blobs/sha256/<hex>   published artifacts, verified, read-only (0444)
 *   DIR/names/<name>         symlink -> ../blobs/sha256/<hex> (the human-readable index); a
 *                            name may be a relative path ("llama/config.json"), its
 *                            directories are created as needed and removed when empty
 *   DIR/tmp/<hex>.partial    downloads in progress (never served)
 *   DIR/index.json           name, sha256, size, pinned, last use; replaced atomically
 * A blob becomes visible only by rename after its sha256 was verified, so a reader sees a
 * whole verified file or nothing. Thread-safe (one mutex); the index is rewritten with
 * write-temp + fsync + rename + fsync(dir) on every change of its rows.
 *
 * DESIGN, "last use": a blob's last use is the later of its publication (or a new name for
 * it) and the last time any process opened or closed it. The store watches every blob's
 * inode with inotify (IN_OPEN, IN_CLOSE_NOWRITE), so an open through any path or mount of
 * the same file counts (a session reading /models/..., a hard link), and closing the last
 * mapping counts as a close; an open does not wait for the daemon (unlike a lease break).
 * Events are taken by cstore_take_uses() (the daemon calls it as they arrive) and before
 * every publication and eviction, in the kernel's order, so the order of uses is exact even
 * within one second; the time is that of taking them. The store's own opens (hashing at
 * fsck, the eviction lease) are not uses. Uses update the index in memory and are written
 * by cstore_flush() (the daemon: at most every CSTORE_FLUSH_S seconds and at exit): a crash
 * forgets at most that much use. If the kernel's event queue overflows (more than
 * fs.inotify.max_queued_events uses between two takes), the uses lost keep their older
 * times; gpuaas_cache_use_events_lost_total counts overflows. */
#ifndef GPUAAS_CACHE_STORE_H
#define GPUAAS_CACHE_STORE_H

#include "common/error.h"
#include "core/config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cstore_entry {
    char name[CONFIG_ARTIFACT_NAME_MAX];
    char sha256[65];
    long long size;
    bool pinned;
    int64_t added;
    int64_t last_used; /* seconds: publication or the last open/close seen (see DESIGN) */
    uint64_t use_seq;  /* order of uses within a second; not kept across restarts */
};

struct cstore_watch {
    int wd;
    char hex[65];
};

#define CSTORE_FLUSH_S 30

struct cstore {
    char *dir;
    struct cstore_entry *e;
    size_t n, cap;
    pthread_mutex_t mu;
    int ino_fd; /* inotify watching the blobs' inodes; -1 when unavailable */
    struct cstore_watch *w;
    size_t nw, capw;
    uint64_t seq;
    bool dirty;     /* uses not yet written to the index */
    long long uses; /* uses seen (opens and closes by other processes) */
    long long lost; /* event queue overflows */
};

struct cstore_fsck_report {
    int removed_temporaries; /* partial files no job wants */
    int removed_entries;     /* index rows whose blob is missing or the wrong size */
    int removed_blobs;       /* blobs no index row names */
    int fixed_links;         /* name links re-created */
    int removed_links;       /* name links no index row names */
};

/* Creates the layout when missing and loads the index. Caller frees with cstore_close(). */
int cstore_open(const char *dir, struct cstore **ret, struct error *err);
void cstore_close(struct cstore *st);
/* Consistency check at start: keeps partials whose hex is in keep[] (they resume), removes
 * the other temporaries, drops index rows whose blob is missing or mis-sized, deletes
 * unindexed blobs, re-creates name links. With verify_hash, re-hashes every blob too. */
int cstore_fsck(struct cstore *st, const char *const *keep, size_t n_keep, bool verify_hash,
                struct cstore_fsck_report *rep, struct error *err);
/* Copies the entry named `name` (or with `sha256` when name is NULL) into *ret. */
int cstore_lookup(struct cstore *st, const char *name, const char *sha256,
                  struct cstore_entry *ret);
/* Path of the partial download for a hex digest (caller-provided buffer). */
void cstore_partial_path(const struct cstore *st, const char *hex, char *buf, size_t len);
void cstore_blob_path(const struct cstore *st, const char *hex, char *buf, size_t len);
/* Publishes a verified partial file: fsync, rename into blobs/, index row, name link. */
int cstore_publish(struct cstore *st, const char *hex, const char *name, long long size,
                   bool pinned, int64_t now, struct error *err);
/* Records a use of name at now (for LRU), written to the index at once. */
int cstore_touch(struct cstore *st, const char *name, int64_t now);
/* Takes the open/close events the kernel queued for the blobs and records them as uses at
 * the current time (see DESIGN); returns how many. Never blocks. */
int cstore_take_uses(struct cstore *st);
/* The inotify descriptor to poll for readability before cstore_take_uses, or -1. */
int cstore_use_fd(struct cstore *st);
/* Uses recorded and event queue overflows since the store was opened. */
void cstore_use_counts(struct cstore *st, long long *uses, long long *lost);
/* Writes the index when uses changed it since the last write. */
int cstore_flush(struct cstore *st, struct error *err);
int cstore_set_pinned(struct cstore *st, const char *name, bool pinned);
/* Bytes of all published blobs. */
long long cstore_used(struct cstore *st);
/* Evicts least-recently-used blobs (last use as in DESIGN), with every name linking them,
 * until `need` more bytes fit in `budget`, skipping pinned blobs and blobs in use: a blob is
 * removed only while the store holds a write lease on it (cache_inuse.h), which the kernel refuses
 * while any process has it open or mapped. Evicted names are reported through cb (called with the
 * store's lock held). -ERR_CONFLICT, with nothing evicted, when the pinned and in-use bytes
 * leave no room. */
int cstore_make_room(struct cstore *st, long long need, long long budget,
                     void (*cb)(const char *name, void *arg), void *arg, struct error *err);
/* Removes one entry and its blob (if no other name shares it). */
int cstore_remove(struct cstore *st, const char *name);
/* Writes DIR/<file> atomically (temporary, fsync, rename, fsync of DIR). */
int cstore_write_file(struct cstore *st, const char *file, const char *text, struct error *err);
/* Snapshot of the index (malloc'ed array). */
int cstore_list(struct cstore *st, struct cstore_entry **ret, size_t *ret_n);

/* sha256 of a file as lowercase hex (cache_hash.h). */
int sha256_file(const char *path, char hex[65], struct error *err);

#endif
