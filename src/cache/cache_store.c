/* Content-addressed store: layout, atomic index, publication, fsck, use tracking and LRU
 * eviction. */
#include "cache/cache_store.h"
#include "common/util.h"

#include "cache/cache_hash.h"
#include "cache/cache_inuse.h"
#include "core/config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PATHLEN 4096

static int mkdir_p(const char *path)
{
    char tmp[PATHLEN];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(tmp, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

void cstore_partial_path(const struct cstore *st, const char *hex, char *buf, size_t len)
{
    snprintf(buf, len, "%s/tmp/%s.partial", st->dir, hex);
}

void cstore_blob_path(const struct cstore *st, const char *hex, char *buf, size_t len)
{
    snprintf(buf, len, "%s/blobs/sha256/%s", st->dir, hex);
}

static int valid_hex(const char *s)
{
    if (strlen(s) != 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

static int valid_name(const char *s)
{
    return config_artifact_name_valid(s);
}

/* Writes DIR/file atomically: temporary, fsync, rename, fsync(dir). */
static int write_atomic(const char *dir, const char *file, const char *text, struct error *err)
{
    char path[PATHLEN], tmp[PATHLEN];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, file);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int ok = fd >= 0 && text;
    if (ok) {
        size_t len = strlen(text), off = 0;
        while (ok && off < len) {
            ssize_t w = write(fd, text + off, len - off);
            if (w < 0 && errno == EINTR)
                continue;
            ok = w > 0;
            off += w > 0 ? (size_t)w : 0;
        }
        ok = ok && fsync(fd) == 0;
    }
    if (fd >= 0)
        close(fd);
    if (!ok || rename(tmp, path) < 0 || fsync_dir(dir) < 0) {
        int e = errno;
        unlink(tmp);
        return error_set(err, ERR_IO, "", "%s: cannot write: %s", path, strerror(e));
    }
    return 0;
}

int cstore_write_file(struct cstore *st, const char *file, const char *text, struct error *err)
{
    return write_atomic(st->dir, file, text, err);
}

/* Writes the index atomically. Caller holds mu. */
static int save_index(struct cstore *st, struct error *err)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < st->n; i++) {
        const struct cstore_entry *e = &st->e[i];
        json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:b, s:I, s:I}", "name", e->name,
                                             "sha256", e->sha256, "size", (json_int_t)e->size,
                                             "pinned", e->pinned, "added", (json_int_t)e->added,
                                             "last_used", (json_int_t)e->last_used));
    }
    json_t *doc = json_pack("{s:i, s:o}", "version", 1, "artifacts", arr);
    char *text = json_dumps(doc, JSON_INDENT(1));
    json_decref(doc);
    int r = write_atomic(st->dir, "index.json", text, err);
    free(text);
    if (r == 0)
        st->dirty = false;
    return r;
}

/* A new zeroed row at the end of the index (st->n counts it), or NULL when memory ran out. */
static struct cstore_entry *new_entry(struct cstore *st)
{
    if (ARRAY_GROW(st->e, st->cap, st->n + 1, 16) < 0)
        return NULL;
    struct cstore_entry *e = &st->e[st->n++];
    memset(e, 0, sizeof(*e));
    return e;
}

static int load_index(struct cstore *st, struct error *err)
{
    char path[PATHLEN];
    json_error_t je;
    snprintf(path, sizeof(path), "%s/index.json", st->dir);
    if (access(path, F_OK) < 0)
        return 0;
    json_t *doc = json_load_file(path, 0, &je);
    json_t *arr = json_object_get(doc, "artifacts");
    if (!doc || !json_is_array(arr)) {
        json_decref(doc);
        return error_set(err, ERR_INVALID, "", "%s: not a cache index (%s)", path, je.text);
    }
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        const char *name = json_string_value(json_object_get(v, "name"));
        const char *hex = json_string_value(json_object_get(v, "sha256"));
        json_t *size = json_object_get(v, "size");
        if (!name || !hex || !valid_name(name) || !valid_hex(hex) || !json_is_integer(size) ||
            json_integer_value(size) < 0)
            continue; /* a damaged row is dropped; fsck removes its blob if unreferenced */
        struct cstore_entry *e = new_entry(st);
        if (!e) {
            json_decref(doc);
            return error_set(err, ERR_NOMEM, "", "out of memory");
        }
        snprintf(e->name, sizeof(e->name), "%s", name);
        snprintf(e->sha256, sizeof(e->sha256), "%s", hex);
        e->size = json_integer_value(size);
        e->pinned = json_is_true(json_object_get(v, "pinned"));
        e->added = json_integer_value(json_object_get(v, "added"));
        e->last_used = json_integer_value(json_object_get(v, "last_used"));
    }
    json_decref(doc);
    return 0;
}

/* ---- use tracking (DESIGN in cache_store.h) ---- */

#define USE_EVENTS (IN_OPEN | IN_CLOSE_NOWRITE)

/* Watches the inode of blob hex. Caller holds mu. Without a watch the blob's last use stays
 * its publication. */
static void watch_blob(struct cstore *st, const char *hex)
{
    char blob[PATHLEN];
    if (st->ino_fd < 0)
        return;
    cstore_blob_path(st, hex, blob, sizeof(blob));
    int wd = inotify_add_watch(st->ino_fd, blob, USE_EVENTS);
    if (wd < 0)
        return;
    for (size_t i = 0; i < st->nw; i++)
        if (st->w[i].wd == wd)
            return; /* the same inode: already known */
    if (ARRAY_GROW(st->w, st->capw, st->nw + 1, 16) < 0) {
        inotify_rm_watch(st->ino_fd, wd);
        return;
    }
    st->w[st->nw].wd = wd;
    snprintf(st->w[st->nw].hex, sizeof(st->w[st->nw].hex), "%s", hex);
    st->nw++;
}

static struct cstore_watch *watch_of(struct cstore *st, int wd)
{
    for (size_t i = 0; i < st->nw; i++)
        if (st->w[i].wd == wd)
            return &st->w[i];
    return NULL;
}

static void stamp(struct cstore *st, struct cstore_entry *e, int64_t now)
{
    e->last_used = now;
    e->use_seq = ++st->seq;
}

/* Reads every queued event. Uses of blobs whose hex is in skip[] (the store's own opens)
 * or, with record false, all uses are dropped. Caller holds mu. Returns the uses recorded. */
static int take_uses_locked(struct cstore *st, const char (*skip)[65], size_t nskip, bool record)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    int got = 0;
    if (st->ino_fd < 0)
        return 0;
    for (;;) {
        ssize_t len = read(st->ino_fd, buf, sizeof(buf));
        if (len <= 0)
            break; /* EAGAIN: nothing more queued */
        for (char *p = buf; p < buf + len;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            p += sizeof(*ev) + ev->len;
            if (ev->mask & IN_Q_OVERFLOW) {
                st->lost++;
                continue;
            }
            struct cstore_watch *w = watch_of(st, ev->wd);
            if (!w)
                continue;
            if (ev->mask & IN_IGNORED) { /* the blob was removed */
                *w = st->w[--st->nw];
                continue;
            }
            if (!(ev->mask & USE_EVENTS) || !record)
                continue;
            bool own = false;
            for (size_t k = 0; k < nskip && !own; k++)
                own = !strcmp(skip[k], w->hex);
            if (own)
                continue;
            int64_t now = (int64_t)time(NULL);
            for (size_t i = 0; i < st->n; i++)
                if (!strcmp(st->e[i].sha256, w->hex))
                    stamp(st, &st->e[i], now);
            st->uses++;
            st->dirty = true;
            got++;
        }
    }
    return got;
}

int cstore_take_uses(struct cstore *st)
{
    pthread_mutex_lock(&st->mu);
    int got = take_uses_locked(st, NULL, 0, true);
    pthread_mutex_unlock(&st->mu);
    return got;
}

int cstore_use_fd(struct cstore *st)
{
    return st->ino_fd;
}

void cstore_use_counts(struct cstore *st, long long *uses, long long *lost)
{
    pthread_mutex_lock(&st->mu);
    *uses = st->uses;
    *lost = st->lost;
    pthread_mutex_unlock(&st->mu);
}

int cstore_flush(struct cstore *st, struct error *err)
{
    pthread_mutex_lock(&st->mu);
    int r = st->dirty ? save_index(st, err) : 0;
    pthread_mutex_unlock(&st->mu);
    return r;
}

int cstore_open(const char *dir, struct cstore **ret, struct error *err)
{
    char p[PATHLEN];
    static const char *sub[] = {"blobs/sha256", "names", "tmp"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, sub[i]);
        if (mkdir_p(p) < 0 || access(p, W_OK | X_OK) < 0) {
            if (errno == EACCES || errno == EPERM || errno == EROFS)
                return error_set(err, ERR_IO, "",
                                 "store_dir %s is not writable by uid %u (%s): prepare the node "
                                 "(docs/install.md#node-cache)",
                                 dir, (unsigned)geteuid(), strerror(errno));
            return error_set(err, ERR_IO, "", "%s: cannot create: %s", p, strerror(errno));
        }
    }
    struct cstore *st = calloc(1, sizeof(*st));
    if (!st || !(st->dir = strdup(dir))) {
        free(st);
        return error_set(err, ERR_NOMEM, "", "out of memory");
    }
    pthread_mutex_init(&st->mu, NULL);
    st->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    int r = load_index(st, err);
    if (r < 0) {
        cstore_close(st);
        return r;
    }
    for (size_t i = 0; i < st->n; i++)
        watch_blob(st, st->e[i].sha256);
    *ret = st;
    return 0;
}

void cstore_close(struct cstore *st)
{
    if (!st)
        return;
    pthread_mutex_destroy(&st->mu);
    if (st->ino_fd >= 0)
        close(st->ino_fd);
    free(st->w);
    free(st->e);
    free(st->dir);
    free(st);
}

static struct cstore_entry *find(struct cstore *st, const char *name, const char *hex)
{
    for (size_t i = 0; i < st->n; i++)
        if ((name && !strcmp(st->e[i].name, name)) ||
            (!name && hex && !strcmp(st->e[i].sha256, hex)))
            return &st->e[i];
    return NULL;
}

int cstore_lookup(struct cstore *st, const char *name, const char *sha256, struct cstore_entry *ret)
{
    pthread_mutex_lock(&st->mu);
    struct cstore_entry *e = find(st, name, sha256);
    if (e)
        *ret = *e;
    pthread_mutex_unlock(&st->mu);
    return e ? 0 : -ERR_NOT_FOUND;
}

/* The link target of a name: one "../" per directory level up to DIR. */
static void link_target(const char *name, const char *hex, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = 0;
    for (const char *c = name; *c; c++)
        if (*c == '/' && o + 3 < len) {
            memcpy(buf + o, "../", 4);
            o += 3;
        }
    snprintf(buf + o, len - o, "../blobs/sha256/%s", hex);
}

/* Links DIR/names/<name> to its blob, creating the directories of a nested name; the link is
 * replaced atomically (a temporary link renamed over it). */
static int link_name(struct cstore *st, const char *name, const char *hex)
{
    char link[PATHLEN], tmp[PATHLEN], target[PATHLEN], dir[PATHLEN];
    snprintf(link, sizeof(link), "%s/names/%s", st->dir, name);
    snprintf(dir, sizeof(dir), "%s", link);
    char *slash = strrchr(dir, '/');
    *slash = 0;
    if (strchr(name, '/') && mkdir_p(dir) < 0)
        return -1;
    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, slash + 1);
    link_target(name, hex, target, sizeof(target));
    unlink(tmp);
    if (symlink(target, tmp) < 0 || rename(tmp, link) < 0)
        return -1;
    /* the link, and every directory created for it, durable up to names/ */
    size_t top = strlen(st->dir) + strlen("/names");
    for (;;) {
        if (fsync_dir(dir) < 0)
            return -1;
        if (strlen(dir) <= top || !(slash = strrchr(dir, '/')))
            return 0;
        *slash = 0;
    }
}

/* Removes DIR/names/<name> and the directories of a nested name left empty. */
static void unlink_name(struct cstore *st, const char *name)
{
    char p[PATHLEN];
    snprintf(p, sizeof(p), "%s/names/%s", st->dir, name);
    unlink(p);
    size_t top = strlen(st->dir) + strlen("/names");
    char *slash;
    while ((slash = strrchr(p, '/')) && (size_t)(slash - p) > top) {
        *slash = 0;
        if (rmdir(p) < 0)
            break;
    }
}

/* Drops index row i and its name link; the blob too when unlink_blob and no other row
 * names it. */
static void remove_row(struct cstore *st, size_t i, bool unlink_blob)
{
    char p[PATHLEN];
    struct cstore_entry gone = st->e[i];
    st->e[i] = st->e[--st->n];
    unlink_name(st, gone.name);
    if (unlink_blob && !find(st, NULL, gone.sha256)) {
        cstore_blob_path(st, gone.sha256, p, sizeof(p));
        unlink(p);
    }
}

static void remove_at(struct cstore *st, size_t i)
{
    remove_row(st, i, true);
}

int cstore_publish(struct cstore *st, const char *hex, const char *name, long long size,
                   bool pinned, int64_t now, struct error *err)
{
    char part[PATHLEN], blob[PATHLEN], blobs[PATHLEN];
    if (!valid_hex(hex) || !valid_name(name))
        return error_set(err, ERR_INVALID, "name", "invalid artifact name or digest");
    cstore_partial_path(st, hex, part, sizeof(part));
    cstore_blob_path(st, hex, blob, sizeof(blob));
    snprintf(blobs, sizeof(blobs), "%s/blobs/sha256", st->dir);
    pthread_mutex_lock(&st->mu);
    int r = 0;
    for (size_t i = 0; i < st->n; i++)
        if (config_artifact_names_clash(st->e[i].name, name)) {
            r = error_set(err, ERR_EXISTS, "name",
                          "\"%s\" and \"%s\": one name would be a directory of the other", name,
                          st->e[i].name);
            goto out;
        }
    if (access(part, F_OK) == 0) {
        int fd = open(part, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) < 0 || fchmod(fd, 0444) < 0 || rename(part, blob) < 0 ||
            fsync_dir(blobs) < 0) {
            r = error_set(err, ERR_IO, "", "%s: cannot publish: %s", blob, strerror(errno));
            if (fd >= 0)
                close(fd);
            goto out;
        }
        close(fd);
    } else if (access(blob, F_OK) < 0) {
        r = error_set(err, ERR_NOT_FOUND, "", "%s: nothing to publish", part);
        goto out;
    }
    take_uses_locked(st, NULL, 0, true); /* uses before this publication come first */
    struct cstore_entry *e = find(st, name, NULL);
    bool added = false;
    if (!e) {
        if (!(e = new_entry(st))) {
            r = error_set(err, ERR_NOMEM, "", "out of memory");
            goto out;
        }
        snprintf(e->name, sizeof(e->name), "%s", name);
        e->added = now;
        added = true;
    }
    snprintf(e->sha256, sizeof(e->sha256), "%s", hex);
    e->size = size;
    e->pinned = pinned;
    stamp(st, e, now);
    if (link_name(st, name, hex) < 0) {
        int le = errno;
        if (added)
            st->n--; /* no row without its link; fsck removes the unnamed blob */
        r = error_set(err, ERR_IO, "", "%s/names/%s: cannot link: %s%s", st->dir, name,
                      strerror(le),
                      le == ENOTDIR || le == EISDIR || le == EEXIST
                          ? " (another name is a file where this one needs a directory, or "
                            "the reverse)"
                          : "");
        goto out;
    }
    watch_blob(st, hex);
    r = save_index(st, err);
out:
    pthread_mutex_unlock(&st->mu);
    return r;
}

int cstore_touch(struct cstore *st, const char *name, int64_t now)
{
    pthread_mutex_lock(&st->mu);
    struct cstore_entry *e = find(st, name, NULL);
    int r = e ? 0 : -ERR_NOT_FOUND;
    if (e) {
        take_uses_locked(st, NULL, 0, true);
        stamp(st, e, now);
        r = save_index(st, NULL);
    }
    pthread_mutex_unlock(&st->mu);
    return r;
}

int cstore_set_pinned(struct cstore *st, const char *name, bool pinned)
{
    pthread_mutex_lock(&st->mu);
    struct cstore_entry *e = find(st, name, NULL);
    int r = e ? 0 : -ERR_NOT_FOUND;
    if (e && e->pinned != pinned) {
        e->pinned = pinned;
        r = save_index(st, NULL);
    }
    pthread_mutex_unlock(&st->mu);
    return r;
}

static long long used_locked(struct cstore *st)
{
    long long sum = 0;
    for (size_t i = 0; i < st->n; i++) {
        int dup = 0;
        for (size_t j = 0; j < i && !dup; j++)
            dup = !strcmp(st->e[i].sha256, st->e[j].sha256);
        if (!dup)
            sum += st->e[i].size;
    }
    return sum;
}

long long cstore_used(struct cstore *st)
{
    pthread_mutex_lock(&st->mu);
    long long u = used_locked(st);
    pthread_mutex_unlock(&st->mu);
    return u;
}

static int in_list(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(list[i], name))
            return 1;
    return 0;
}

/* A published blob and what eviction needs to know about it. */
struct victim {
    char hex[65];
    long long size;
    int64_t last_used; /* the latest use by any of its names */
    uint64_t use_seq;  /* and its order within that second */
    bool pinned;       /* any of its names is pinned */
    int fd;            /* holding its write lease, or -1 */
};

static int by_last_used(const void *a, const void *b)
{
    const struct victim *x = a, *y = b;
    if (x->last_used != y->last_used)
        return x->last_used < y->last_used ? -1 : 1;
    if (x->use_seq != y->use_seq)
        return x->use_seq < y->use_seq ? -1 : 1;
    return strcmp(x->hex, y->hex);
}

/* Distinct blobs of the index, least recently used first. Caller holds mu. */
static struct victim *blobs_by_age(struct cstore *st, size_t *ret_n)
{
    struct victim *v = calloc(st->n ? st->n : 1, sizeof(*v));
    size_t n = 0;
    if (!v)
        return NULL;
    for (size_t i = 0; i < st->n; i++) {
        const struct cstore_entry *e = &st->e[i];
        size_t k = 0;
        while (k < n && strcmp(v[k].hex, e->sha256))
            k++;
        if (k == n) {
            snprintf(v[n].hex, sizeof(v[n].hex), "%s", e->sha256);
            v[n].size = e->size;
            v[n].last_used = e->last_used;
            v[n].use_seq = e->use_seq;
            v[n].fd = -1;
            n++;
        }
        if (e->last_used > v[k].last_used ||
            (e->last_used == v[k].last_used && e->use_seq > v[k].use_seq)) {
            v[k].last_used = e->last_used;
            v[k].use_seq = e->use_seq;
        }
        v[k].pinned |= e->pinned;
    }
    qsort(v, n, sizeof(*v), by_last_used);
    *ret_n = n;
    return v;
}

int cstore_make_room(struct cstore *st, long long need, long long budget,
                     void (*cb)(const char *name, void *arg), void *arg, struct error *err)
{
    pthread_mutex_lock(&st->mu);
    int r = 0;
    size_t n = 0, tried = 0;
    struct victim *v = NULL;
    long long used = used_locked(st);
    if (need > budget || need < 0) { /* first: then used + need cannot overflow */
        r = error_set(err, ERR_CONFLICT, "budget",
                      "%lld bytes are more than the whole %lld-byte budget", need, budget);
        goto out;
    }
    if (used <= budget - need)
        goto out;
    take_uses_locked(st, NULL, 0, true); /* the order as of now */
    if (!(v = blobs_by_age(st, &n))) {
        r = error_set(err, ERR_NOMEM, "", "out of memory");
        goto out;
    }
    /* lease victims, oldest first, until enough would be freed; nothing is removed unless
     * all of it can be */
    long long freed = 0, pinned = 0, busy = 0;
    int lease_error = 0;
    for (size_t k = 0; k < n && used - freed + need > budget; k++) {
        char blob[PATHLEN];
        tried = k + 1;
        if (v[k].pinned) {
            pinned += v[k].size;
            continue;
        }
        cstore_blob_path(st, v[k].hex, blob, sizeof(blob));
        int l = cache_inuse_lease(blob, &v[k].fd);
        if (l == 0 || l == -ENOENT) {
            freed += v[k].size; /* a missing blob only frees its index row */
            v[k].fd = l == 0 ? v[k].fd : -2;
        } else {
            busy += v[k].size;
            if (l != -EBUSY)
                lease_error = -l;
        }
    }
    if (used - freed + need > budget) {
        for (size_t k = 0; k < n; k++)
            if (v[k].fd >= 0)
                cache_inuse_release(v[k].fd);
        /* files in use are released when their sessions end: worth retrying; pinned
         * files are not */
        r = error_set(err, busy > 0 ? ERR_UNAVAILABLE : ERR_CONFLICT, "budget",
                      "%lld bytes do not fit in the %lld-byte budget: %lld bytes are used, "
                      "%lld of them pinned and %lld in use (open or mapped by a session)%s%s",
                      need, budget, used, pinned, busy,
                      lease_error ? "; cannot take a lease: " : "",
                      lease_error ? strerror(lease_error) : "");
        goto out;
    }
    /* unlink under the lease: a session opening the file meanwhile waits for the release,
     * then holds the (unlinked) whole file */
    for (size_t k = 0; k < n; k++) {
        if (v[k].fd == -1)
            continue;
        for (size_t i = 0; i < st->n;) {
            if (strcmp(st->e[i].sha256, v[k].hex)) {
                i++;
                continue;
            }
            char name[CONFIG_ARTIFACT_NAME_MAX];
            snprintf(name, sizeof(name), "%s", st->e[i].name);
            remove_row(st, i, false);
            if (cb)
                cb(name, arg);
        }
        char blob[PATHLEN];
        cstore_blob_path(st, v[k].hex, blob, sizeof(blob));
        unlink(blob);
        cache_inuse_release(v[k].fd);
        v[k].fd = -1;
    }
    r = save_index(st, err);
out:
    if (tried > 0) {
        /* the lease's open and close of the blobs tried are the store's own, not uses */
        char(*own)[65] = calloc(tried, sizeof(*own));
        for (size_t k = 0; own && k < tried; k++)
            memcpy(own[k], v[k].hex, sizeof(own[k]));
        take_uses_locked(st, (const char(*)[65])own, own ? tried : 0, own != NULL);
        free(own);
    }
    free(v);
    pthread_mutex_unlock(&st->mu);
    return r;
}

int cstore_remove(struct cstore *st, const char *name)
{
    pthread_mutex_lock(&st->mu);
    int r = -ERR_NOT_FOUND;
    for (size_t i = 0; i < st->n; i++)
        if (!strcmp(st->e[i].name, name)) {
            remove_at(st, i);
            r = save_index(st, NULL);
            break;
        }
    pthread_mutex_unlock(&st->mu);
    return r;
}

int cstore_list(struct cstore *st, struct cstore_entry **ret, size_t *ret_n)
{
    pthread_mutex_lock(&st->mu);
    struct cstore_entry *copy = malloc((st->n ? st->n : 1) * sizeof(*copy));
    if (copy && st->n)
        memcpy(copy, st->e, st->n * sizeof(*copy));
    size_t n = st->n;
    pthread_mutex_unlock(&st->mu);
    if (!copy)
        return -ERR_NOMEM;
    *ret = copy;
    *ret_n = n;
    return 0;
}

int sha256_file(const char *path, char hex[65], struct error *err)
{
    static __thread unsigned char buf[1 << 20];
    struct chash *h = NULL;
    int r = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return error_set(err, ERR_IO, "", "%s: %s", path, strerror(errno));
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    h = chash_new();
    if (!h) {
        r = error_set(err, ERR_NOMEM, "", "%s: cannot start a SHA-256", path);
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = error_set(err, ERR_IO, "", "%s: %s", path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        if (chash_update(h, buf, (size_t)n)) {
            r = error_set(err, ERR_INTERNAL, "", "%s: SHA-256 failed", path);
            goto out;
        }
    }
    if (chash_final_hex(h, hex))
        r = error_set(err, ERR_INTERNAL, "", "%s: SHA-256 failed", path);
out:
    chash_free(h);
    close(fd);
    return r;
}

/* Removes, under DIR/names/<rel>, links that no index row names and directories left empty.
 * Returns the number of links removed. Caller holds mu. */
static int sweep_names(struct cstore *st, const char *dir, const char *rel, int depth)
{
    int removed = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char p[PATHLEN], name[PATHLEN];
        snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
        snprintf(name, sizeof(name), "%s%s%s", rel, *rel ? "/" : "", de->d_name);
        struct stat sb;
        if (lstat(p, &sb) < 0)
            continue;
        if (S_ISDIR(sb.st_mode) && depth + 1 < CONFIG_ARTIFACT_NAME_DEPTH) {
            removed += sweep_names(st, p, name, depth + 1);
            rmdir(p); /* fails while not empty */
        } else if (S_ISLNK(sb.st_mode) && !find(st, name, NULL) && unlink(p) == 0) {
            removed++;
        }
    }
    if (d)
        closedir(d);
    return removed;
}

int cstore_fsck(struct cstore *st, const char *const *keep, size_t n_keep, bool verify_hash,
                struct cstore_fsck_report *rep, struct error *err)
{
    char p[PATHLEN];
    struct cstore_fsck_report R = {0};
    pthread_mutex_lock(&st->mu);
    /* 1. temporaries */
    snprintf(p, sizeof(p), "%s/tmp", st->dir);
    DIR *d = opendir(p);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char hex[65] = "";
        const char *dot = strchr(de->d_name, '.');
        if (dot && dot - de->d_name == 64)
            memcpy(hex, de->d_name, 64);
        if (hex[0] && in_list(hex, keep, n_keep))
            continue;
        snprintf(p, sizeof(p), "%s/tmp/%s", st->dir, de->d_name);
        if (unlink(p) == 0)
            R.removed_temporaries++;
    }
    if (d)
        closedir(d);
    /* 2. index rows */
    for (size_t i = 0; i < st->n;) {
        struct stat sb;
        char hex[65];
        cstore_blob_path(st, st->e[i].sha256, p, sizeof(p));
        int bad = stat(p, &sb) < 0 || sb.st_size != st->e[i].size;
        if (!bad && verify_hash)
            bad = sha256_file(p, hex, NULL) < 0 || strcmp(hex, st->e[i].sha256);
        if (bad) {
            remove_at(st, i);
            R.removed_entries++;
        } else {
            i++;
        }
    }
    /* 3. blobs nobody names */
    snprintf(p, sizeof(p), "%s/blobs/sha256", st->dir);
    d = opendir(p);
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        if (find(st, NULL, de->d_name))
            continue;
        snprintf(p, sizeof(p), "%s/blobs/sha256/%s", st->dir, de->d_name);
        if (unlink(p) == 0)
            R.removed_blobs++;
    }
    if (d)
        closedir(d);
    /* 4. name links */
    for (size_t i = 0; i < st->n; i++) {
        char want[PATHLEN], have[PATHLEN];
        snprintf(p, sizeof(p), "%s/names/%s", st->dir, st->e[i].name);
        link_target(st->e[i].name, st->e[i].sha256, want, sizeof(want));
        ssize_t n = readlink(p, have, sizeof(have) - 1);
        if (n >= 0)
            have[n] = 0;
        if (n < 0 || strcmp(have, want)) {
            link_name(st, st->e[i].name, st->e[i].sha256);
            R.fixed_links++;
        }
    }
    /* 5. links no row names (and temporaries of interrupted links), empty directories */
    snprintf(p, sizeof(p), "%s/names", st->dir);
    R.removed_links = sweep_names(st, p, "", 0);
    take_uses_locked(st, NULL, 0, false); /* hashing above read the blobs: not uses */
    int r = save_index(st, err);
    pthread_mutex_unlock(&st->mu);
    if (rep)
        *rep = R;
    return r;
}
