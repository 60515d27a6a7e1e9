/* Cache daemon: job queue, download workers, image pulls, eviction and status.
 *
 * DESIGN: the budget holds for published files plus the downloads in flight. A worker
 * reserves room (evicting, cstore_make_room) for the size it expects before the transfer
 * and for the real size after verification, before publishing; room_mu serializes the
 * reservations, each counting the others still in flight. Artifacts added by POST
 * /prefetch are kept in DIR/prefetch.json so that they are listed and resumed after a
 * restart. A use watcher thread takes the store's open/close events as they arrive (so each
 * use gets its own time, cache_store.h) and writes them to the index every CSTORE_FLUSH_S
 * seconds and at exit. */
#include "cache/cache_daemon.h"
#include "common/redact.h"
#include "cache/cache_fetch.h"
#include "common/log.h"
#include "common/timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define MAX_JOBS 1024
#define MAX_WORKERS 64

enum job_state { J_QUEUED, J_DOWNLOADING, J_READY, J_FAILED, J_EVICTED };
static const char *state_names[] = {"queued", "downloading", "ready", "failed", "evicted"};

struct job {
    bool image;
    char name[512]; /* artifact name, or image reference */
    char url[1024];
    char hex[65];
    long long size;
    bool pinned;
    bool prefetched;    /* added by POST /prefetch: persisted in prefetch.json */
    long long reserved; /* bytes of the budget held for the transfer in flight */
    enum job_state state;
    char reason[512];
    int attempts;
    int64_t next_try_ms;
    int64_t started_ms;
    struct fetch_progress prog;
};

struct cache_daemon {
    struct config_snapshot {
        long long budget;
        int workers;
        int retries;
        long retry_delay_s;
        int ranges;
        long long range_min;
        char proxy[512];
        char pull_cmd[512];
    } cfg;
    struct cstore *st;
    pthread_mutex_t room_mu; /* serializes reservations; taken before the store's lock */
    struct job *jobs;
    int n_jobs;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t workers[MAX_WORKERS];
    int n_workers;
    pthread_t imager;
    bool image_thread;
    pthread_t use_watcher;
    bool use_thread;
    int wake[2]; /* written at stop: wakes the use watcher */
    _Atomic int stop;
    /* metrics */
    long long bytes_downloaded, downloads_ok, downloads_failed, evictions, checksum_failures;
};

static int64_t now_ms(void)
{
    return time_mono_ms();
}

static struct job *find_job(struct cache_daemon *d, bool image, const char *name)
{
    for (int i = 0; i < d->n_jobs; i++)
        if (d->jobs[i].image == image && !strcmp(d->jobs[i].name, name))
            return &d->jobs[i];
    return NULL;
}

/* Caller holds mu. */
static int add_job(struct cache_daemon *d, const struct job *j, struct error *err)
{
    if (d->n_jobs >= MAX_JOBS)
        return error_set(err, ERR_TOO_LARGE, "", "more than %d artifacts and images", MAX_JOBS);
    d->jobs[d->n_jobs++] = *j;
    pthread_cond_broadcast(&d->cv);
    return 0;
}

/* Checks an artifact given by POST /prefetch or read back from prefetch.json. */
static int check_artifact(const char *name, const char *url, const char *hex, long long size,
                          struct error *err)
{
    if (!name || !config_artifact_name_valid(name))
        return error_set(err, ERR_INVALID, "name",
                         "name: required, a relative path such as \"llama-3-8b/config.json\" "
                         "of at most %d components, none empty, \".\" or \"..\", at most %d "
                         "bytes",
                         CONFIG_ARTIFACT_NAME_DEPTH, CONFIG_ARTIFACT_NAME_MAX - 1);
    if (!url ||
        (strncmp(url, "https://", 8) && strncmp(url, "http://", 7) && strncmp(url, "file://", 7)) ||
        strlen(url) >= sizeof(((struct job *)0)->url))
        return error_set(err, ERR_INVALID, "url",
                         "url: must start with https://, http:// or file://");
    if (!hex || strlen(hex) != 64 || strspn(hex, "0123456789abcdef") != 64)
        return error_set(err, ERR_INVALID, "sha256", "sha256: must be 64 lowercase hex digits");
    if (size < 0 || size > CACHE_MAX_ARTIFACT_BYTES)
        return error_set(err, ERR_INVALID, "size", "size: must be a byte count up to %lld",
                         (long long)CACHE_MAX_ARTIFACT_BYTES);
    return 0;
}

/* The job an artifact name collides with: the same name, or one that would be a directory
 * of it (or the reverse). Caller holds mu. */
static struct job *clashing_job(struct cache_daemon *d, const char *name)
{
    for (int i = 0; i < d->n_jobs; i++)
        if (!d->jobs[i].image &&
            (!strcmp(d->jobs[i].name, name) || config_artifact_names_clash(d->jobs[i].name, name)))
            return &d->jobs[i];
    return NULL;
}

/* Rewrites DIR/prefetch.json with every prefetched artifact. Caller holds mu. */
static int save_prefetched(struct cache_daemon *d, struct error *err)
{
    json_t *arr = json_array();
    for (int i = 0; i < d->n_jobs; i++) {
        const struct job *j = &d->jobs[i];
        if (j->prefetched)
            json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:I, s:b}", "name", j->name,
                                                 "url", j->url, "sha256", j->hex, "size",
                                                 (json_int_t)j->size, "pinned", j->pinned));
    }
    json_t *doc = json_pack("{s:i, s:o}", "version", 1, "artifacts", arr);
    char *text = doc ? json_dumps(doc, JSON_INDENT(1)) : NULL;
    json_decref(doc);
    if (!text)
        return error_set(err, ERR_NOMEM, "", "out of memory");
    int r = cstore_write_file(d->st, "prefetch.json", text, err);
    free(text);
    return r;
}

/* Queues the artifacts of DIR/prefetch.json, checked like POST /prefetch; an entry that is
 * invalid or collides with a configured artifact is dropped with a warning. */
static void load_prefetched(struct cache_daemon *d)
{
    char path[4096];
    json_error_t je;
    snprintf(path, sizeof(path), "%s/prefetch.json", d->st->dir);
    if (access(path, F_OK) < 0)
        return;
    json_t *doc = json_load_file(path, 0, &je);
    json_t *arr = json_object_get(doc, "artifacts");
    if (!json_is_array(arr)) {
        log_warn("cache prefetch list unreadable; ignored", "path=%s reason=\"%s\"", path,
                 doc ? "no artifacts list" : je.text);
        json_decref(doc);
        return;
    }
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        const char *name = json_string_value(json_object_get(v, "name"));
        const char *url = json_string_value(json_object_get(v, "url"));
        const char *hex = json_string_value(json_object_get(v, "sha256"));
        json_t *size = json_object_get(v, "size");
        struct error e = {0};
        if (check_artifact(name, url, hex, json_is_integer(size) ? json_integer_value(size) : -1,
                           &e) < 0) {
            log_warn("cache prefetched artifact dropped", "path=%s index=%zu reason=\"%s\"", path,
                     i, e.message);
            continue;
        }
        pthread_mutex_lock(&d->mu);
        struct job *old = clashing_job(d, name);
        if (old && strcmp(old->name, name))
            log_warn("cache prefetched artifact dropped", "name=%s reason=\"clashes with %s\"",
                     name, old->name);
        else if (old && strcmp(old->hex, hex))
            log_warn("cache prefetched artifact dropped",
                     "name=%s reason=\"the configuration names another sha256\"", name);
        if (!old) {
            struct job j = {.size = json_integer_value(size),
                            .pinned = json_is_true(json_object_get(v, "pinned")),
                            .prefetched = true};
            snprintf(j.name, sizeof(j.name), "%s", name);
            snprintf(j.url, sizeof(j.url), "%s", url);
            snprintf(j.hex, sizeof(j.hex), "%s", hex);
            if (add_job(d, &j, &e) < 0)
                log_warn("cache prefetched artifact dropped", "name=%s reason=\"%s\"", name,
                         e.message);
        }
        pthread_mutex_unlock(&d->mu);
    }
    json_decref(doc);
}

int cache_daemon_new(const struct config *c, struct cache_daemon **ret, struct error *err)
{
    struct cache_daemon *d = calloc(1, sizeof(*d));
    if (!d || !(d->jobs = calloc(MAX_JOBS, sizeof(struct job)))) {
        free(d);
        return error_set(err, ERR_NOMEM, "", "out of memory");
    }
    d->cfg.budget = c->cache.budget_bytes;
    d->cfg.workers = (int)c->cache.max_parallel;
    d->cfg.retries = (int)c->cache.retries;
    d->cfg.retry_delay_s = c->cache.retry_delay_seconds;
    d->cfg.ranges = (int)c->cache.ranges;
    d->cfg.range_min = (long long)c->cache.range_min_mib << 20;
    snprintf(d->cfg.proxy, sizeof(d->cfg.proxy), "%s", c->cache.proxy);
    snprintf(d->cfg.pull_cmd, sizeof(d->cfg.pull_cmd), "%s", c->cache.image_pull_command);
    pthread_mutex_init(&d->mu, NULL);
    pthread_mutex_init(&d->room_mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    int r = cstore_open(c->cache.store_dir, &d->st, err);
    if (r < 0)
        goto fail;
    /* pinned artifacts must fit: refuse to start rather than thrash (configuration
     * validation checks the same; those without a size are checked once downloaded) */
    long long pinned = 0;
    int unsized = 0;
    for (int i = 0; i < c->cache.n_artifacts; i++)
        if (c->cache.artifacts[i].pinned) {
            pinned += c->cache.artifacts[i].size;
            unsized += !c->cache.artifacts[i].size;
        }
    if (pinned > d->cfg.budget) {
        r = error_set(err, ERR_CONFLICT, "cache.budget_gib",
                      "%s: the pinned artifacts need %lld bytes%s but cache.budget_gib allows %lld",
                      c->path, pinned, unsized ? " (those without a size count as 0)" : "",
                      d->cfg.budget);
        goto fail;
    }
    for (int i = 0; i < c->cache.n_artifacts; i++) {
        const struct config_artifact *a = &c->cache.artifacts[i];
        struct job j = {.size = a->size, .pinned = a->pinned};
        snprintf(j.name, sizeof(j.name), "%s", a->name);
        snprintf(j.url, sizeof(j.url), "%s", a->url);
        snprintf(j.hex, sizeof(j.hex), "%s", a->sha256);
        if ((r = add_job(d, &j, err)) < 0)
            goto fail;
    }
    load_prefetched(d);
    /* partials of every wanted artifact stay (they resume) */
    const char **keep = calloc((size_t)d->n_jobs + 1, sizeof(char *));
    if (!keep) {
        r = error_set(err, ERR_NOMEM, "", "out of memory");
        goto fail;
    }
    for (int i = 0; i < d->n_jobs; i++)
        keep[i] = d->jobs[i].hex;
    struct cstore_fsck_report rep;
    r = cstore_fsck(d->st, keep, (size_t)d->n_jobs, false, &rep, err);
    free(keep);
    if (r < 0)
        goto fail;
    if (rep.removed_temporaries || rep.removed_entries || rep.removed_blobs || rep.fixed_links ||
        rep.removed_links)
        log_info("cache store repaired",
                 "temporaries=%d entries=%d blobs=%d links=%d stale_links=%d",
                 rep.removed_temporaries, rep.removed_entries, rep.removed_blobs, rep.fixed_links,
                 rep.removed_links);
    for (int i = 0; i < d->n_jobs; i++) {
        struct job *j = &d->jobs[i];
        struct cstore_entry e;
        if (cstore_lookup(d->st, j->name, NULL, &e) == 0 && !strcmp(e.sha256, j->hex)) {
            j->state = J_READY;
            j->size = e.size;
            if (e.pinned != j->pinned)
                cstore_set_pinned(d->st, j->name, j->pinned);
        }
    }
    for (int i = 0; i < c->cache.n_images; i++) {
        struct job j = {.image = true};
        snprintf(j.name, sizeof(j.name), "%s", c->cache.images[i].ref);
        if ((r = add_job(d, &j, err)) < 0)
            goto fail;
    }
    *ret = d;
    return 0;
fail:
    cstore_close(d->st);
    pthread_mutex_destroy(&d->mu);
    pthread_mutex_destroy(&d->room_mu);
    pthread_cond_destroy(&d->cv);
    free(d->jobs);
    free(d);
    return r;
}

static void on_evict(const char *name, void *arg)
{
    struct cache_daemon *d = arg;
    /* Called with the store's lock held; lock order is store, then daemon. */
    pthread_mutex_lock(&d->mu);
    struct job *j = find_job(d, false, name);
    if (j && j->state == J_READY) {
        j->state = J_EVICTED;
        snprintf(j->reason, sizeof(j->reason), "evicted (least recently used) to make room");
    }
    d->evictions++;
    pthread_mutex_unlock(&d->mu);
    log_info("cache evicted artifact", "name=%s", name);
}

/* Picks the next runnable artifact job; marks it downloading. Caller holds mu. */
static struct job *next_job(struct cache_daemon *d)
{
    int64_t t = now_ms();
    for (int i = 0; i < d->n_jobs; i++) {
        struct job *j = &d->jobs[i];
        if (j->image || j->state != J_QUEUED || j->next_try_ms > t)
            continue;
        bool shared = false; /* another job is transferring the same digest: wait for it */
        for (int k = 0; k < d->n_jobs && !shared; k++)
            shared = k != i && !d->jobs[k].image && d->jobs[k].state == J_DOWNLOADING &&
                     !strcmp(d->jobs[k].hex, j->hex);
        if (shared)
            continue;
        j->state = J_DOWNLOADING;
        return j;
    }
    return NULL;
}

static int64_t next_wake(struct cache_daemon *d)
{
    int64_t best = now_ms() + 1000;
    for (int i = 0; i < d->n_jobs; i++)
        if (!d->jobs[i].image && d->jobs[i].state == J_QUEUED && d->jobs[i].next_try_ms < best)
            best = d->jobs[i].next_try_ms;
    return best;
}

static void fail_or_retry(struct cache_daemon *d, struct job *j, const struct error *e, bool fatal)
{
    /* a presigned URL's signature must not reach /status (unauthenticated) or the log */
    redact_urls(e->message, j->reason, sizeof(j->reason));
    if (fatal || j->attempts >= d->cfg.retries) {
        j->state = J_FAILED;
        d->downloads_failed++;
        log_warn("cache download failed", "name=%s attempts=%d reason=\"%s\"", j->name, j->attempts,
                 e->message);
    } else {
        j->state = J_QUEUED;
        long delay = d->cfg.retry_delay_s << (j->attempts - 1 < 10 ? j->attempts - 1 : 10);
        j->next_try_ms = now_ms() + delay * 1000;
        log_info("cache download retry", "name=%s attempt=%d delay_s=%ld reason=\"%s\"", j->name,
                 j->attempts, delay, e->message);
    }
}

struct reservation {
    struct cache_daemon *d;
    struct job *j;
};

/* fetch_opts.reserve: makes room for `size` bytes of j besides what the other downloads in
 * flight hold (their files not yet published), and records the reservation. */
static int reserve_room(void *arg, long long size, bool final, struct error *err)
{
    struct reservation *res = arg;
    struct cache_daemon *d = res->d;
    if (size < 0 || size > CACHE_MAX_ARTIFACT_BYTES)
        return error_set(err, ERR_CONFLICT, "budget", "a size of %lld bytes is out of range", size);
    struct held {
        char hex[65];
        long long bytes;
    } *held = calloc(MAX_JOBS, sizeof(*held));
    if (!held)
        return error_set(err, ERR_NOMEM, "", "out of memory");
    pthread_mutex_lock(&d->room_mu);
    pthread_mutex_lock(&d->mu);
    long long mine = res->j->reserved;
    int n = 0;
    for (int i = 0; i < d->n_jobs; i++)
        if (&d->jobs[i] != res->j && d->jobs[i].reserved > 0) {
            snprintf(held[n].hex, sizeof(held[n].hex), "%s", d->jobs[i].hex);
            held[n++].bytes = d->jobs[i].reserved;
        }
    pthread_mutex_unlock(&d->mu);
    int r = 0;
    if (size > mine) {
        /* a reservation whose file is already published counts in the store's use */
        long long others = 0;
        struct cstore_entry e;
        for (int i = 0; i < n; i++)
            if (cstore_lookup(d->st, NULL, held[i].hex, &e) < 0 &&
                held[i].bytes <= CACHE_MAX_ARTIFACT_BYTES)
                others += held[i].bytes; /* bounded: at most a few thousand jobs of 1 PiB */
        struct error why = {0};
        r = cstore_make_room(d->st, size + others, d->cfg.budget, on_evict, d, &why);
        if (r < 0) {
            char held_note[96] = "";
            if (others)
                snprintf(held_note, sizeof(held_note), "; %lld more held by downloads in flight",
                         others);
            /* room held by other downloads frees when they end: retry later; only a file
             * that cannot fit beside the pinned ones is refused for good */
            int code = why.code ? why.code : ERR_CONFLICT;
            if (code == ERR_CONFLICT && others > 0)
                code = ERR_UNAVAILABLE;
            r = error_set(
                err, code, "budget", "no room in the cache budget %s (%lld bytes%s%s): %s",
                final ? "to publish the downloaded file" : "for the download", size,
                final && !mine ? ", size unknown before the download" : "", held_note, why.message);
        } else {
            pthread_mutex_lock(&d->mu);
            res->j->reserved = size;
            pthread_mutex_unlock(&d->mu);
        }
    }
    pthread_mutex_unlock(&d->room_mu);
    free(held);
    return r;
}

static void *worker(void *arg)
{
    struct cache_daemon *d = arg;
    pthread_mutex_lock(&d->mu);
    while (!atomic_load(&d->stop)) {
        struct job *j = next_job(d);
        if (!j) {
            int64_t wake = next_wake(d), t = time_mono_ms();
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t wait = wake > t ? wake - t : 10;
            ts.tv_sec += wait / 1000;
            ts.tv_nsec += (wait % 1000) * 1000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&d->cv, &d->mu, &ts);
            continue;
        }
        j->attempts++;
        j->started_ms = now_ms();
        atomic_store(&j->prog.done, 0);
        atomic_store(&j->prog.total, j->size);
        char name[512], url[1024], hex[65];
        snprintf(name, sizeof(name), "%s", j->name);
        snprintf(url, sizeof(url), "%s", j->url);
        snprintf(hex, sizeof(hex), "%s", j->hex);
        long long size = j->size;
        bool pinned = j->pinned;
        pthread_mutex_unlock(&d->mu);

        struct error e = {0};
        struct reservation res = {d, j};
        struct fetch_opts o = {.proxy = d->cfg.proxy,
                               .ranges = d->cfg.ranges,
                               .range_min = d->cfg.range_min,
                               .cancel = &d->stop,
                               .progress = &j->prog,
                               .reserve = reserve_room,
                               .reserve_arg = &res};
        int r = cache_fetch(d->st, url, hex, name, size, pinned, &o, time_now(), &e);
        struct cstore_entry ent;
        long long got = r == 0 && cstore_lookup(d->st, name, NULL, &ent) == 0 ? ent.size : -1;
        pthread_mutex_lock(&d->mu);
        j->reserved = 0;
        d->bytes_downloaded += atomic_load(&j->prog.done);
        if (r == 0 && got < 0) {
            /* published, then evicted by another download's make_room before we got here */
            j->state = J_EVICTED;
            d->downloads_ok++;
            log_info("cache artifact evicted as soon as published", "name=%s sha256=%s", name, hex);
        } else if (r == 0) {
            j->state = J_READY;
            j->reason[0] = 0;
            j->size = got;
            d->downloads_ok++;
            log_info("cache artifact ready", "name=%s sha256=%s bytes=%lld", name, hex, j->size);
        } else if (atomic_load(&d->stop)) {
            j->state = J_QUEUED;
        } else {
            if (e.code == ERR_INVALID && !strcmp(e.field, "sha256"))
                d->checksum_failures++;
            fail_or_retry(d, j, &e, e.code == ERR_CONFLICT);
        }
        pthread_cond_broadcast(&d->cv);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

#define PULL_HINT                                                                                  \
    "image pre-pull needs the pull command (cache.image_pull_command, default crictl) in "         \
    "the cache container and the node's CRI socket, see docs/operations.md#node-cache"

/* Runs the pull command with the reference appended; no shell. */
static int pull_image(const char *cmd, const char *ref, char *why, size_t len)
{
    char buf[512];
    char *argv[34];
    int argc = 0;
    snprintf(buf, sizeof(buf), "%s", cmd);
    for (char *save, *w = strtok_r(buf, " \t", &save); w && argc < 32;
         w = strtok_r(NULL, " \t", &save))
        argv[argc++] = w;
    argv[argc++] = (char *)ref;
    argv[argc] = NULL;
    pid_t pid;
    /* the daemon ignores SIGIO (lease breaks); the pull command gets the default back */
    posix_spawnattr_t attr;
    sigset_t def;
    sigemptyset(&def);
    sigaddset(&def, SIGIO);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigdefault(&attr, &def);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
    int rc = posix_spawnp(&pid, argv[0], NULL, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        snprintf(why, len, "cannot run %s: %s; %s", argv[0], strerror(rc), PULL_HINT);
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    snprintf(why, len, "%s exited with status %d; %s", argv[0],
             WIFEXITED(status) ? WEXITSTATUS(status) : -1, PULL_HINT);
    return -1;
}

static void *imager(void *arg)
{
    struct cache_daemon *d = arg;
    pthread_mutex_lock(&d->mu);
    while (!atomic_load(&d->stop)) {
        struct job *j = NULL;
        int64_t t = now_ms(), wake = t + 1000;
        for (int i = 0; i < d->n_jobs && !j; i++) {
            struct job *c = &d->jobs[i];
            if (c->image && c->state == J_QUEUED) {
                if (c->next_try_ms <= t)
                    j = c;
                else if (c->next_try_ms < wake)
                    wake = c->next_try_ms;
            }
        }
        if (!j) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += (wake - t) / 1000 + 1;
            pthread_cond_timedwait(&d->cv, &d->mu, &ts);
            continue;
        }
        j->state = J_DOWNLOADING;
        j->attempts++;
        char ref[512], cmd[512], why[512] = "";
        snprintf(ref, sizeof(ref), "%s", j->name);
        snprintf(cmd, sizeof(cmd), "%s", d->cfg.pull_cmd);
        pthread_mutex_unlock(&d->mu);
        int r = pull_image(cmd, ref, why, sizeof(why));
        pthread_mutex_lock(&d->mu);
        if (r == 0) {
            j->state = J_READY;
            j->reason[0] = 0;
            log_info("cache image pulled", "image=%s", ref);
        } else {
            struct error e = {0};
            error_set(&e, ERR_UNAVAILABLE, "", "%s", why);
            fail_or_retry(d, j, &e, false);
        }
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

/* Takes the store's use events as they arrive; writes them to the index now and then. */
static void *use_watcher(void *arg)
{
    struct cache_daemon *d = arg;
    int64_t flushed = now_ms();
    while (!atomic_load(&d->stop)) {
        struct pollfd p[2] = {{.fd = cstore_use_fd(d->st), .events = POLLIN},
                              {.fd = d->wake[0], .events = POLLIN}};
        if (poll(p, 2, CSTORE_FLUSH_S * 1000) < 0 && errno != EINTR)
            break;
        cstore_take_uses(d->st);
        if (now_ms() - flushed >= CSTORE_FLUSH_S * 1000) {
            struct error e = {0};
            if (cstore_flush(d->st, &e) < 0)
                log_warn("cannot record artifact uses", "why=%s", e.message);
            flushed = now_ms();
        }
    }
    return NULL;
}

int cache_daemon_start(struct cache_daemon *d, struct error *err)
{
    if (cstore_use_fd(d->st) >= 0) {
        if (pipe2(d->wake, O_CLOEXEC) < 0)
            return error_set(err, ERR_INTERNAL, "", "cannot start the use watcher: %s",
                             strerror(errno));
        if (pthread_create(&d->use_watcher, NULL, use_watcher, d) != 0) {
            close(d->wake[0]);
            close(d->wake[1]);
            return error_set(err, ERR_INTERNAL, "", "cannot start the use watcher");
        }
        d->use_thread = true;
    } else {
        log_warn("cannot watch the store's files (inotify): eviction orders artifacts by "
                 "publication, not by use",
                 "store=%s", d->st->dir);
    }
    int n = d->cfg.workers > MAX_WORKERS ? MAX_WORKERS : d->cfg.workers;
    for (int i = 0; i < n; i++) {
        if (pthread_create(&d->workers[i], NULL, worker, d) != 0)
            return error_set(err, ERR_INTERNAL, "", "cannot start download workers");
        d->n_workers++;
    }
    bool images = false;
    for (int i = 0; i < d->n_jobs; i++)
        images |= d->jobs[i].image;
    if (images) {
        if (pthread_create(&d->imager, NULL, imager, d) != 0)
            return error_set(err, ERR_INTERNAL, "", "cannot start the image puller");
        d->image_thread = true;
    }
    return 0;
}

int cache_daemon_prefetch(struct cache_daemon *d, const char *name, const char *url,
                          const char *hex, long long size, bool pinned, struct error *err)
{
    struct job j = {.size = size, .pinned = pinned, .prefetched = true};
    int r = check_artifact(name, url, hex, size, err);
    if (r < 0)
        return r;
    snprintf(j.name, sizeof(j.name), "%s", name);
    snprintf(j.url, sizeof(j.url), "%s", url);
    snprintf(j.hex, sizeof(j.hex), "%s", hex);
    pthread_mutex_lock(&d->mu);
    struct job *old = clashing_job(d, name);
    if (old && strcmp(old->name, name)) {
        r = error_set(err, ERR_EXISTS, "name",
                      "the artifact \"%s\" exists: one name would be a directory of the other",
                      old->name);
    } else if (old && strcmp(old->hex, hex)) {
        r = error_set(err, ERR_EXISTS, "name",
                      "an artifact named \"%s\" with another sha256 exists", name);
    } else if (old) {
        if (old->state == J_FAILED || old->state == J_EVICTED) {
            old->state = J_QUEUED;
            old->attempts = 0;
            old->next_try_ms = 0;
            pthread_cond_broadcast(&d->cv);
        }
    } else if ((r = add_job(d, &j, err)) == 0 && (r = save_prefetched(d, err)) < 0) {
        d->n_jobs--; /* not durable: refused, so that a restart does not lose it silently */
    }
    pthread_mutex_unlock(&d->mu);
    return r;
}

json_t *cache_daemon_status(struct cache_daemon *d)
{
    json_t *arts = json_array(), *imgs = json_array();
    int64_t t = now_ms();
    pthread_mutex_lock(&d->mu);
    for (int i = 0; i < d->n_jobs; i++) {
        struct job *j = &d->jobs[i];
        json_t *o = json_pack("{s:s, s:s, s:i}", j->image ? "image" : "name", j->name, "state",
                              state_names[j->state], "attempts", j->attempts);
        if (j->reason[0])
            json_object_set_new(o, "reason", json_string(j->reason));
        if (!j->image) {
            json_object_set_new(o, "sha256", json_string(j->hex));
            json_object_set_new(o, "pinned", json_boolean(j->pinned));
            json_object_set_new(o, "size", json_integer(j->size));
            if (j->state == J_DOWNLOADING) {
                long long done = atomic_load(&j->prog.done);
                double secs = (double)(t - j->started_ms) / 1000.0;
                json_object_set_new(o, "bytes_done", json_integer(done));
                json_object_set_new(o, "bytes_total", json_integer(atomic_load(&j->prog.total)));
                json_object_set_new(o, "rate_bytes_per_second",
                                    json_real(secs > 0 ? done / secs : 0));
            }
            json_array_append_new(arts, o);
        } else {
            json_array_append_new(imgs, o);
        }
    }
    pthread_mutex_unlock(&d->mu);
    return json_pack("{s:o, s:o, s:{s:I, s:I}}", "artifacts", arts, "images", imgs, "store",
                     "used_bytes", (json_int_t)cstore_used(d->st), "budget_bytes",
                     (json_int_t)d->cfg.budget);
}

int cache_daemon_metrics(struct cache_daemon *d, char **ret)
{
    int counts[5] = {0}, icounts[5] = {0};
    pthread_mutex_lock(&d->mu);
    for (int i = 0; i < d->n_jobs; i++)
        (d->jobs[i].image ? icounts : counts)[d->jobs[i].state]++;
    long long bytes = d->bytes_downloaded, ok = d->downloads_ok, bad = d->downloads_failed;
    long long ev = d->evictions, cs = d->checksum_failures;
    pthread_mutex_unlock(&d->mu);
    long long uses, lost;
    cstore_use_counts(d->st, &uses, &lost);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return -ERR_NOMEM;
    fprintf(
        f,
        "# HELP gpuaas_cache_artifacts Artifacts by state.\n# TYPE gpuaas_cache_artifacts gauge\n");
    for (int s = 0; s < 5; s++)
        fprintf(f, "gpuaas_cache_artifacts{state=\"%s\"} %d\n", state_names[s], counts[s]);
    fprintf(f, "# HELP gpuaas_cache_images Images by state.\n# TYPE gpuaas_cache_images gauge\n");
    for (int s = 0; s < 5; s++)
        fprintf(f, "gpuaas_cache_images{state=\"%s\"} %d\n", state_names[s], icounts[s]);
    fprintf(f,
            "# HELP gpuaas_cache_store_bytes Bytes of published artifacts.\n# TYPE "
            "gpuaas_cache_store_bytes gauge\n"
            "gpuaas_cache_store_bytes %lld\n",
            cstore_used(d->st));
    fprintf(f,
            "# HELP gpuaas_cache_budget_bytes Store size budget.\n# TYPE gpuaas_cache_budget_bytes "
            "gauge\n"
            "gpuaas_cache_budget_bytes %lld\n",
            d->cfg.budget);
    fprintf(f,
            "# HELP gpuaas_cache_downloaded_bytes_total Bytes transferred.\n# TYPE "
            "gpuaas_cache_downloaded_bytes_total counter\n"
            "gpuaas_cache_downloaded_bytes_total %lld\n",
            bytes);
    fprintf(f,
            "# HELP gpuaas_cache_downloads_total Finished downloads by result.\n# TYPE "
            "gpuaas_cache_downloads_total counter\n"
            "gpuaas_cache_downloads_total{result=\"ok\"} "
            "%lld\ngpuaas_cache_downloads_total{result=\"failed\"} %lld\n",
            ok, bad);
    fprintf(f,
            "# HELP gpuaas_cache_checksum_failures_total Downloads discarded for a wrong "
            "sha256.\n# TYPE gpuaas_cache_checksum_failures_total counter\n"
            "gpuaas_cache_checksum_failures_total %lld\n",
            cs);
    fprintf(f,
            "# HELP gpuaas_cache_evictions_total Artifacts evicted, least recently used first "
            "(last open or close by any process, else publication).\n# TYPE "
            "gpuaas_cache_evictions_total counter\n"
            "gpuaas_cache_evictions_total %lld\n",
            ev);
    fprintf(f,
            "# HELP gpuaas_cache_uses_total Opens and closes of published artifacts seen, "
            "which order eviction.\n# TYPE gpuaas_cache_uses_total counter\n"
            "gpuaas_cache_uses_total %lld\n",
            uses);
    fprintf(f,
            "# HELP gpuaas_cache_use_events_lost_total Overflows of the kernel's event queue: "
            "uses lost keep older times.\n# TYPE gpuaas_cache_use_events_lost_total counter\n"
            "gpuaas_cache_use_events_lost_total %lld\n",
            lost);
    if (fclose(f) != 0) {
        free(out);
        return -ERR_NOMEM;
    }
    *ret = out;
    return 0;
}

bool cache_daemon_idle(struct cache_daemon *d)
{
    bool idle = true;
    pthread_mutex_lock(&d->mu);
    for (int i = 0; i < d->n_jobs; i++)
        idle &= d->jobs[i].state == J_READY || d->jobs[i].state == J_FAILED ||
                d->jobs[i].state == J_EVICTED;
    pthread_mutex_unlock(&d->mu);
    return idle;
}

void cache_daemon_free(struct cache_daemon *d)
{
    if (!d)
        return;
    atomic_store(&d->stop, 1);
    pthread_mutex_lock(&d->mu);
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    for (int i = 0; i < d->n_workers; i++)
        pthread_join(d->workers[i], NULL);
    if (d->image_thread)
        pthread_join(d->imager, NULL);
    if (d->use_thread) {
        if (write(d->wake[1], "x", 1) < 0)
            log_warn("cannot wake the use watcher", "why=%s", strerror(errno));
        pthread_join(d->use_watcher, NULL);
        close(d->wake[0]);
        close(d->wake[1]);
    }
    cstore_take_uses(d->st);
    struct error e = {0};
    if (cstore_flush(d->st, &e) < 0)
        log_warn("cannot record artifact uses", "why=%s", e.message);
    cstore_close(d->st);
    pthread_mutex_destroy(&d->mu);
    pthread_mutex_destroy(&d->room_mu);
    pthread_cond_destroy(&d->cv);
    free(d->jobs);
    free(d);
}
