/* Node cache: downloads from a real local HTTP server with Range support and injected faults.
 * Resume after a disconnect, checksum mismatch rejected and retried, parallel ranges equal
 * to the source, eviction order and pinning, least-recently-used order from real opens of
 * the files (directly and through the daemon), in-use protection (write leases: another
 * process holding or mapping a blob, through another path), the budget held with downloads
 * in flight and unknown sizes, prefetched artifacts surviving a restart, nested names,
 * deduplicated concurrent requests, kill -9 in the middle and restart, fsck, image pre-pull
 * failures, and bad configuration entries. */
#include "cache/cache_daemon.h"
#include "cache/cache_fetch.h"
#include "cache/cache_store.h"
#include "common/timeutil.h"
#include "core/config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char work[256], files[300], srvlog[300];
static char big_hex[65], small_hex[65], big2_hex[65];
#define BIG (6 << 20)
#define SMALL (300 << 10)

static const char *build_dir(void)
{
    const char *b = getenv("GPUAAS_BUILD");
    return b ? b : "build";
}

/* Polls cond every 20 ms until it holds or `seconds` of wall-clock time pass. The bounds
 * below are far above the normal wait (tens of milliseconds to a few seconds): they only
 * decide how long a broken run takes to fail, and a count of polls would shrink under load
 * (each poll, a stat or an HTTP call, takes longer on a busy machine). */
#define WAIT_UNTIL(cond, seconds)                                                                  \
    for (int64_t wait_end_ = time_mono_ms() + (int64_t)(seconds)*1000;                             \
         !(cond) && time_mono_ms() < wait_end_;)                                                   \
    usleep(20000)

static void write_random(const char *path, size_t n, unsigned seed, char hex[65])
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    unsigned x = seed;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        fputc((int)(x >> 16) & 0xff, f);
    }
    fclose(f);
    struct error err;
    assert_int_equal(sha256_file(path, hex, &err), 0);
}

struct srv {
    pid_t pid;
    int port;
};

static pid_t servers[32]; /* servers and holders, killed at teardown even when a test failed */
static int n_servers;

/* Starts the test file server with extra flags (NULL-terminated). */
static struct srv srv_start(const char *flag, ...)
{
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    char bin[512];
    snprintf(bin, sizeof(bin), "%s/gpuaas-testfilesrv", build_dir());
    const char *argv[32] = {bin, "--root", files, "--listen", "127.0.0.1:0", "--log", srvlog};
    int n = 7;
    va_list ap;
    va_start(ap, flag);
    for (const char *f = flag; f && n < 30; f = va_arg(ap, const char *))
        argv[n++] = f;
    va_end(ap);
    argv[n] = NULL;
    unlink(srvlog); /* count only the requests of this scenario */
    struct srv s = {0};
    s.pid = fork();
    if (s.pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    if (n_servers < 32)
        servers[n_servers++] = s.pid;
    char buf[32] = "";
    ssize_t k = read(pfd[0], buf, sizeof(buf) - 1);
    close(pfd[0]);
    assert_true(k > 0);
    s.port = atoi(buf);
    assert_true(s.port > 0);
    return s;
}

static void srv_stop(struct srv *s)
{
    kill(s->pid, SIGTERM);
    waitpid(s->pid, NULL, 0);
}

static int log_count(const char *needle)
{
    FILE *f = fopen(srvlog, "r");
    char line[512];
    int n = 0;
    while (f && fgets(line, sizeof(line), f))
        n += strstr(line, needle) != NULL;
    if (f)
        fclose(f);
    return n;
}

static void url_of(const struct srv *s, const char *file, char *buf, size_t len)
{
    snprintf(buf, len, "http://127.0.0.1:%d/%s", s->port, file);
}

static void fresh_store(const char *name, char *dir, size_t len)
{
    snprintf(dir, len, "%s/%s", work, name);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
    snprintf(work, sizeof(work), "/tmp/gpuaas-cache-test-%d", getpid());
    snprintf(files, sizeof(files), "%s/files", work);
    snprintf(srvlog, sizeof(srvlog), "%s/server.log", work);
    mkdir(work, 0755);
    mkdir(files, 0755);
    char p[400];
    snprintf(p, sizeof(p), "%s/big.bin", files);
    write_random(p, BIG, 12345, big_hex);
    snprintf(p, sizeof(p), "%s/small.bin", files);
    write_random(p, SMALL, 12345, small_hex);
    snprintf(p, sizeof(p), "%s/big2.bin", files);
    write_random(p, BIG, 777, big2_hex);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return 0;
}

static int teardown(void **state)
{
    for (int i = 0; i < n_servers; i++)
        if (kill(servers[i], SIGTERM) == 0)
            waitpid(servers[i], NULL, 0);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_resume_after_disconnect(void **state)
{
    struct srv s = srv_start("--drop-after", "2000000", "--drop-times", "1", NULL);
    char dir[400], url[200], part[600];
    struct cstore *st;
    struct error err = {0};
    fresh_store("resume", dir, sizeof(dir));
    assert_int_equal(cstore_open(dir, &st, &err), 0);
    url_of(&s, "big.bin", url, sizeof(url));
    struct fetch_opts o = {.ranges = 1};
    assert_true(cache_fetch(st, url, big_hex, "big", 0, false, &o, 1, &err) < 0);
    cstore_partial_path(st, big_hex, part, sizeof(part));
    struct stat sb;
    assert_int_equal(stat(part, &sb), 0);
    assert_true(sb.st_size >= 1000000 && sb.st_size <= 2000000);
    struct cstore_entry e;
    assert_int_equal(cstore_lookup(st, "big", NULL, &e), -ERR_NOT_FOUND); /* never served partial */
    int rc = cache_fetch(st, url, big_hex, "big", 0, false, &o, 2, &err);
    if (rc < 0)
        fail_msg("%s", err.message);
    char want[64];
    snprintf(want, sizeof(want), "bytes=%lld-", (long long)sb.st_size);
    assert_int_equal(log_count(want), 1); /* resumed where it stopped */
    assert_int_equal(cstore_lookup(st, "big", NULL, &e), 0);
    assert_int_equal(e.size, BIG);
    assert_int_not_equal(access(part, F_OK), 0);
    cstore_close(st);
    srv_stop(&s);
}

static void test_checksum_mismatch_rejected(void **state)
{
    struct srv s = srv_start("--corrupt-times", "1", NULL);
    char dir[400], url[200], part[600];
    struct cstore *st;
    struct error err = {0};
    fresh_store("corrupt", dir, sizeof(dir));
    assert_int_equal(cstore_open(dir, &st, &err), 0);
    url_of(&s, "small.bin", url, sizeof(url));
    struct fetch_opts o = {.ranges = 1};
    assert_int_equal(cache_fetch(st, url, small_hex, "small", SMALL, false, &o, 1, &err),
                     -ERR_INVALID);
    assert_non_null(strstr(err.message, "checksum mismatch"));
    struct cstore_entry e;
    assert_int_equal(cstore_lookup(st, "small", NULL, &e), -ERR_NOT_FOUND);
    cstore_partial_path(st, small_hex, part, sizeof(part));
    assert_int_not_equal(access(part, F_OK), 0); /* the bad bytes are gone */
    assert_int_equal(cache_fetch(st, url, small_hex, "small", SMALL, false, &o, 2, &err), 0);
    cstore_close(st);
    srv_stop(&s);
}

static void test_parallel_ranges_identical(void **state)
{
    struct srv s = srv_start(NULL);
    char dir[400], url[200], blob[600], hex[65];
    struct cstore *st;
    struct error err = {0};
    fresh_store("ranges", dir, sizeof(dir));
    assert_int_equal(cstore_open(dir, &st, &err), 0);
    url_of(&s, "big.bin", url, sizeof(url));
    struct fetch_progress prog = {0};
    struct fetch_opts o = {.ranges = 4, .range_min = 1 << 20, .progress = &prog};
    int rc = cache_fetch(st, url, big_hex, "big", BIG, false, &o, 1, &err);
    if (rc < 0)
        fail_msg("%s", err.message);
    assert_int_equal(atomic_load(&prog.ranges), 4);
    assert_int_equal(log_count("GET /big.bin bytes="), 4);
    cstore_blob_path(st, big_hex, blob, sizeof(blob));
    assert_int_equal(sha256_file(blob, hex, &err), 0);
    assert_string_equal(hex, big_hex);
    cstore_close(st);
    srv_stop(&s);
}

static void test_parallel_ranges_resume(void **state)
{
    /* every range connection drops once after 500 kB; the retry resumes each range */
    struct srv s = srv_start("--drop-after", "500000", "--drop-times", "4", NULL);
    char dir[400], url[200];
    struct cstore *st;
    struct error err = {0};
    fresh_store("ranges-resume", dir, sizeof(dir));
    assert_int_equal(cstore_open(dir, &st, &err), 0);
    url_of(&s, "big.bin", url, sizeof(url));
    struct fetch_opts o = {.ranges = 4, .range_min = 1 << 20};
    assert_true(cache_fetch(st, url, big_hex, "big", BIG, false, &o, 1, &err) < 0);
    int rc = cache_fetch(st, url, big_hex, "big", BIG, false, &o, 2, &err);
    if (rc < 0)
        fail_msg("%s", err.message);
    struct cstore_entry e;
    assert_int_equal(cstore_lookup(st, "big", NULL, &e), 0);
    cstore_close(st);
    srv_stop(&s);
}

/* More segments than connections: each connection fetches the next segment in file order
 * over its kept-alive connection; the result is identical to the source. */
static void test_parallel_segments(void **state)
{
    struct srv s = srv_start(NULL);
    char dir[400], url[200], blob[600], hex[65];
    struct cstore *st;
    struct error err = {0};
    fresh_store("segments", dir, sizeof(dir));
    assert_int_equal(cstore_open(dir, &st, &err), 0);
    url_of(&s, "big.bin", url, sizeof(url));
    struct fetch_progress prog = {0};
    struct fetch_opts o = {.ranges = 4, .range_min = 1 << 20, .segment = 500000, .progress = &prog};
    int rc = cache_fetch(st, url, big_hex, "big", BIG, false, &o, 1, &err);
    if (rc < 0)
        fail_msg("%s", err.message);
    assert_int_equal(atomic_load(&prog.ranges), 4);
    assert_int_equal(atomic_load(&prog.done), BIG);
    /* ceil(6 MiB / 500000) segments, one request each */
    assert_int_equal(log_count("GET /big.bin bytes="), (BIG + 499999) / 500000);
    cstore_blob_path(st, big_hex, blob, sizeof(blob));
    assert_int_equal(sha256_file(blob, hex, &err), 0);
    assert_string_equal(hex, big_hex);
    cstore_close(st);
    srv_stop(&s);
}

/* Every connection drops once: the sidecar keeps one line per segment and the retry asks
 * only for what is missing; a corrupted byte in one segment is caught by the hash that
 * followed the download, and nothing is published. */
static void test_parallel_segments_resume_and_corrupt(void **state)
{
    struct srv s = srv_start("--drop-after", "700000", "--drop-times", "3", NULL);
    char dir[400], url[200], part[600], side[700];
    struct cstore *st;
    struct error err = {0};
    fresh_store("segments-resume", dir, sizeof(dir));
    assert_int_equal(cstore_open(dir, &st, &err), 0);
    url_of(&s, "big.bin", url, sizeof(url));
    struct fetch_opts o = {.ranges = 3, .range_min = 1 << 20, .segment = 1 << 20};
    assert_true(cache_fetch(st, url, big_hex, "big", BIG, false, &o, 1, &err) < 0);
    cstore_partial_path(st, big_hex, part, sizeof(part));
    snprintf(side, sizeof(side), "%s.ranges", part);
    FILE *f = fopen(side, "r");
    assert_non_null(f);
    int lines = 0;
    long long a, b, d, durable = 0;
    while (fscanf(f, "%lld %lld %lld", &a, &b, &d) == 3) {
        lines++;
        durable += d;
    }
    fclose(f);
    assert_int_equal(lines, BIG >> 20);
    assert_true(durable > 0 && durable < BIG);
    int rc = cache_fetch(st, url, big_hex, "big", BIG, false, &o, 2, &err);
    if (rc < 0)
        fail_msg("%s", err.message);
    struct cstore_entry e;
    assert_int_equal(cstore_lookup(st, "big", NULL, &e), 0);
    assert_int_not_equal(access(side, F_OK), 0);
    cstore_close(st);
    srv_stop(&s);

    struct srv c = srv_start("--corrupt-times", "1", NULL);
    fresh_store("segments-corrupt", dir, sizeof(dir));
    assert_int_equal(cstore_open(dir, &st, &err), 0);
    url_of(&c, "big.bin", url, sizeof(url));
    assert_int_equal(cache_fetch(st, url, big_hex, "big", BIG, false, &o, 1, &err), -ERR_INVALID);
    assert_non_null(strstr(err.message, "checksum mismatch"));
    assert_int_equal(cstore_lookup(st, "big", NULL, &e), -ERR_NOT_FOUND);
    cstore_partial_path(st, big_hex, part, sizeof(part));
    assert_int_not_equal(access(part, F_OK), 0);
    cstore_close(st);
    srv_stop(&c);
}

static void put(struct cstore *st, const char *name, char c, long long size, bool pinned, int64_t t)
{
    char hex[65], part[600];
    struct error err;
    /* a blob whose content is `size` copies of c */
    snprintf(part, sizeof(part), "%s/tmp/x", st->dir);
    FILE *f = fopen(part, "wb");
    for (long long i = 0; i < size; i++)
        fputc(c, f);
    fclose(f);
    assert_int_equal(sha256_file(part, hex, &err), 0);
    char dst[600];
    cstore_partial_path(st, hex, dst, sizeof(dst));
    rename(part, dst);
    assert_int_equal(cstore_publish(st, hex, name, size, pinned, t, &err), 0);
}

static char evicted[8][64];
static int n_evicted;
static void note(const char *name, void *arg)
{
    snprintf(evicted[n_evicted++ % 8], 64, "%s", name);
}

static void test_eviction_order_and_pinning(void **state)
{
    char dir[400], blob[600];
    struct cstore *st;
    struct error err = {0};
    fresh_store("evict", dir, sizeof(dir));
    assert_int_equal(cstore_open(dir, &st, &err), 0);
    put(st, "old", 'a', 1000, false, 10);
    put(st, "pinned-oldest", 'b', 1000, true, 5);
    put(st, "mid", 'c', 1000, false, 20);
    put(st, "new", 'd', 1000, false, 30);
    cstore_touch(st, "old", 40); /* used recently: now the newest */
    assert_int_equal(cstore_used(st), 4000);
    /* hold "mid" open: in use by a session */
    struct cstore_entry mid;
    assert_int_equal(cstore_lookup(st, "mid", NULL, &mid), 0);
    cstore_blob_path(st, mid.sha256, blob, sizeof(blob));
    int fd = open(blob, O_RDONLY);
    assert_true(fd >= 0);
    n_evicted = 0;
    /* need 1500 more in a 4500 budget: evict 1000 at least, LRU unpinned not in use = "new" */
    assert_int_equal(cstore_make_room(st, 1500, 4500, note, NULL, &err), 0);
    assert_int_equal(n_evicted, 1);
    assert_string_equal(evicted[0], "new");
    /* need 2500: "old" goes; then nothing evictable is left */
    assert_int_equal(cstore_make_room(st, 2500, 4500, note, NULL, &err), 0);
    assert_string_equal(evicted[1], "old");
    /* blocked partly by a file in use: worth retrying later (unavailable, not conflict) */
    assert_int_equal(cstore_make_room(st, 4000, 4500, note, NULL, &err), -ERR_UNAVAILABLE);
    assert_non_null(strstr(err.message, "1000 of them pinned and 1000 in use"));
    struct cstore_entry e;
    assert_int_equal(cstore_lookup(st, "pinned-oldest", NULL, &e), 0);
    assert_int_equal(cstore_lookup(st, "mid", NULL, &e), 0);
    close(fd);
    /* "mid" is free now, but the pinned file alone leaves too little: refused for good, and
     * nothing is removed */
    assert_int_equal(cstore_make_room(st, 4000, 4500, note, NULL, &err), -ERR_CONFLICT);
    assert_int_equal(cstore_lookup(st, "mid", NULL, &e), 0);
    /* a size near the top of long long must not wrap the arithmetic into "fits" */
    assert_int_equal(cstore_make_room(st, LLONG_MAX, 4500, note, NULL, &err), -ERR_CONFLICT);
    cstore_close(st);
}

static void test_fsck(void **state)
{
    char dir[400], p[700];
    struct cstore *st;
    struct error err = {0};
    fresh_store("fsck", dir, sizeof(dir));
    assert_int_equal(cstore_open(dir, &st, &err), 0);
    put(st, "keep", 'k', 100, false, 1);
    put(st, "lost", 'l', 100, false, 1);
    struct cstore_entry lost;
    cstore_lookup(st, "lost", NULL, &lost);
    cstore_blob_path(st, lost.sha256, p, sizeof(p));
    unlink(p); /* blob vanished */
    snprintf(p, sizeof(p), "%s/tmp/%s.partial", dir, small_hex);
    fclose(fopen(p, "w")); /* wanted partial: kept */
    snprintf(p, sizeof(p), "%s/tmp/%s.partial", dir, big_hex);
    fclose(fopen(p, "w")); /* stray partial: removed */
    snprintf(p, sizeof(p), "%s/blobs/sha256/%064d", dir, 7);
    fclose(fopen(p, "w")); /* unindexed blob: removed */
    const char *keep[] = {small_hex};
    struct cstore_fsck_report rep;
    assert_int_equal(cstore_fsck(st, keep, 1, true, &rep, &err), 0);
    assert_int_equal(rep.removed_temporaries, 1);
    assert_int_equal(rep.removed_entries, 1);
    assert_int_equal(rep.removed_blobs, 1);
    struct cstore_entry e;
    assert_int_equal(cstore_lookup(st, "keep", NULL, &e), 0);
    assert_int_equal(cstore_lookup(st, "lost", NULL, &e), -ERR_NOT_FOUND);
    snprintf(p, sizeof(p), "%s/tmp/%s.partial", dir, small_hex);
    assert_int_equal(access(p, F_OK), 0);
    cstore_close(st);
    /* the index survives a reopen */
    assert_int_equal(cstore_open(dir, &st, &err), 0);
    assert_int_equal(cstore_lookup(st, "keep", NULL, &e), 0);
    cstore_close(st);
}

static struct config *cache_config(const char *dir, const char *extra, struct error *err)
{
    char text[4096];
    snprintf(text, sizeof(text),
             "cache:\n  store_dir: %s\n  budget_gib: 1\n  max_parallel: 2\n  retries: 3\n"
             "  retry_delay_seconds: 0\n  ranges: 1\n%s",
             dir, extra);
    struct config *c = NULL;
    config_load_string(text, strlen(text), "cache.yaml", &c, err);
    return c;
}

static void wait_idle(struct cache_daemon *d)
{
    WAIT_UNTIL(cache_daemon_idle(d), 120);
    assert_true(cache_daemon_idle(d));
}

/* cache_config that must succeed. */
static struct config *cache_config_ok(const char *dir, const char *extra, struct error *err)
{
    struct config *c = cache_config(dir, extra, err);
    if (!c)
        fail_msg("%s", err->message);
    return c;
}

/* A started daemon on c, its budget set to `budget` bytes when > 0. */
static struct cache_daemon *daemon_up(struct config *c, long long budget, struct error *err)
{
    struct cache_daemon *d = NULL;
    if (budget > 0)
        c->cache.budget_bytes = budget;
    assert_int_equal(cache_daemon_new(c, &d, err), 0);
    assert_int_equal(cache_daemon_start(d, err), 0);
    return d;
}

static json_t *find_artifact(json_t *status, const char *name)
{
    size_t i;
    json_t *a;
    json_array_foreach(
        json_object_get(status, "artifacts"), i,
        a) if (!strcmp(json_string_value(json_object_get(a, "name")), name)) return a;
    return NULL;
}

static void test_daemon_dedup_and_retry(void **state)
{
    struct srv s = srv_start("--corrupt-times", "1", NULL);
    char dir[400], extra[2048];
    struct error err = {0};
    fresh_store("daemon", dir, sizeof(dir));
    snprintf(extra, sizeof(extra),
             "  artifacts:\n"
             "    - {name: model-a, url: \"http://127.0.0.1:%d/big.bin\", sha256: %s}\n"
             "    - {name: model-b, url: \"http://127.0.0.1:%d/big.bin\", sha256: %s}\n",
             s.port, big_hex, s.port, big_hex);
    struct config *c = cache_config_ok(dir, extra, &err);
    struct cache_daemon *d = daemon_up(c, 0, &err);
    wait_idle(d);
    json_t *st = cache_daemon_status(d);
    json_t *a = find_artifact(st, "model-a"), *b = find_artifact(st, "model-b");
    assert_string_equal(json_string_value(json_object_get(a, "state")), "ready");
    assert_string_equal(json_string_value(json_object_get(b, "state")), "ready");
    /* the first transfer was corrupted and retried; the second name shared the blob */
    assert_int_equal(log_count("GET /big.bin"), 2);
    json_decref(st);
    char *m = NULL;
    assert_int_equal(cache_daemon_metrics(d, &m), 0);
    assert_non_null(strstr(m, "gpuaas_cache_checksum_failures_total 1"));
    free(m);
    cache_daemon_free(d);
    config_free(c);
    srv_stop(&s);
}

static void test_daemon_prefetch_and_fail(void **state)
{
    struct srv s = srv_start(NULL);
    char dir[400], url[200];
    struct error err = {0};
    fresh_store("prefetch", dir, sizeof(dir));
    struct config *c = cache_config_ok(dir, "", &err);
    struct cache_daemon *d = daemon_up(c, 0, &err);
    url_of(&s, "small.bin", url, sizeof(url));
    assert_int_equal(cache_daemon_prefetch(d, "s", url, small_hex, 0, true, &err), 0);
    assert_int_equal(cache_daemon_prefetch(d, "s", url, big_hex, 0, false, &err), -ERR_EXISTS);
    assert_int_equal(cache_daemon_prefetch(d, "../x", url, small_hex, 0, false, &err),
                     -ERR_INVALID);
    /* a size that would overflow the budget arithmetic */
    assert_int_equal(cache_daemon_prefetch(d, "huge", url, small_hex, LLONG_MAX, false, &err),
                     -ERR_INVALID);
    assert_string_equal(err.field, "size");
    url_of(&s, "missing.bin", url, sizeof(url));
    assert_int_equal(cache_daemon_prefetch(d, "gone", url, big_hex, 0, false, &err), 0);
    wait_idle(d);
    json_t *st = cache_daemon_status(d);
    assert_string_equal(json_string_value(json_object_get(find_artifact(st, "s"), "state")),
                        "ready");
    json_t *g = find_artifact(st, "gone");
    assert_string_equal(json_string_value(json_object_get(g, "state")), "failed");
    assert_int_equal(json_integer_value(json_object_get(g, "attempts")), 3);
    assert_non_null(strstr(json_string_value(json_object_get(g, "reason")), "404"));
    json_decref(st);
    cache_daemon_free(d);
    config_free(c);
    srv_stop(&s);
}

static void test_pinned_set_must_fit(void **state)
{
    char dir[400], extra[1024];
    struct error err = {0};
    fresh_store("pinned", dir, sizeof(dir));
    snprintf(extra, sizeof(extra),
             "  artifacts:\n    - {name: huge, url: \"http://127.0.0.1:1/x\", sha256: %s, size: "
             "2000000000, pinned: true}\n",
             big_hex);
    /* refused by configuration validation, at the artifact's line */
    struct config *c = cache_config(dir, extra, &err);
    assert_null(c);
    if (!strstr(err.message, "cache.yaml:9: cache.artifacts[0]: the pinned artifacts need"))
        fail_msg("%s", err.message);
    /* and by the daemon, for a budget lowered after validation */
    snprintf(extra, sizeof(extra),
             "  artifacts:\n    - {name: huge, url: \"http://127.0.0.1:1/x\", sha256: %s, size: "
             "2000, pinned: true}\n    - {name: more, url: \"http://127.0.0.1:1/y\", sha256: %s, "
             "pinned: true}\n",
             big_hex, small_hex);
    c = cache_config(dir, extra, &err);
    assert_non_null(c);
    c->cache.budget_bytes = 1000;
    struct cache_daemon *d = NULL;
    assert_int_equal(cache_daemon_new(c, &d, &err), -ERR_CONFLICT);
    assert_non_null(
        strstr(err.message, "pinned artifacts need 2000 bytes (those without a size count as 0)"));
    config_free(c);
}

static void test_bad_config_entries(void **state)
{
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {"cache:\n  artifacts:\n    - {name: a, url: \"ftp://x/y\", sha256: HEX}\n",
         "cache.yaml:3: cache.artifacts[0]: url must start"},
        {"cache:\n  artifacts:\n    - {name: a, url: \"http://x/y\", sha256: ABC}\n",
         "cache.yaml:3: cache.artifacts[0]: sha256 must be 64"},
        {"cache:\n  artifacts:\n    - {name: a/../b, url: \"http://x/y\", sha256: HEX}\n",
         "cache.yaml:3: cache.artifacts[0]: name"},
        {"cache:\n  artifacts:\n    - name: a\n      sha256: HEX\n      url: \"ftp://x/y\"\n",
         "cache.yaml:5: cache.artifacts[0]: url must start"},
        {"cache:\n  images:\n    - \"--help\"\n",
         "cache.yaml:3: cache.images[0]: not an image reference"},
        {"cache:\n  artifacts:\n    - {name: a, url: \"http://x/y\", sha256: HEX, colour: red}\n",
         "cache.yaml:3: cache.artifacts[0].colour: unknown key"},
        {"cache:\n  artifacts:\n    - {name: a, url: \"http://x/y\", sha256: HEX}\n    - {name: a, "
         "url: \"http://x/z\", sha256: HEX}\n",
         "cache.yaml:4: cache.artifacts[1]: artifact name \"a\" appears twice"},
        {"cache:\n  images:\n    - \"busybox; rm -rf /\"\n",
         "cache.yaml:3: cache.images[0]: not an image reference"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[1024];
        size_t o = 0;
        for (const char *t = cases[i].yaml; *t && o < sizeof(text) - 70; t++) {
            if (!strncmp(t, "HEX", 3)) {
                memcpy(text + o, big_hex, 64);
                o += 64;
                t += 2;
            } else {
                text[o++] = *t;
            }
        }
        text[o] = 0;
        struct config *c = NULL;
        struct error err = {0};
        assert_true(config_load_string(text, strlen(text), "cache.yaml", &c, &err) < 0);
        if (!strstr(err.message, cases[i].want))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.message, cases[i].want);
    }
}

static void test_kill9_and_restart(void **state)
{
    /* a slow server: the fetch is killed mid-transfer, the rerun resumes and verifies */
    struct srv s = srv_start("--rate", "2000000", NULL);
    char dir[400], url[200], bin[512], part[700];
    fresh_store("kill9", dir, sizeof(dir));
    url_of(&s, "big.bin", url, sizeof(url));
    snprintf(bin, sizeof(bin), "%s/gpuaas", build_dir());
    snprintf(part, sizeof(part), "%s/tmp/%s.partial", dir, big_hex);
    pid_t p = fork();
    if (p == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        execl(bin, bin, "cache", "fetch", "--store", dir, "--sha256", big_hex, "--ranges", "1", url,
              (char *)NULL);
        _exit(127);
    }
    struct stat sb = {0};
    WAIT_UNTIL(stat(part, &sb) == 0 && sb.st_size >= 500000, 60);
    kill(p, SIGKILL);
    waitpid(p, NULL, 0);
    assert_int_equal(stat(part, &sb), 0);
    assert_true(sb.st_size > 0 && sb.st_size < BIG);
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "'%s' cache fetch --store '%s' --sha256 %s --ranges 1 '%s' >/dev/null", bin, dir,
             big_hex, url);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(log_count("GET /big.bin bytes="), 1);
    struct cstore *st;
    struct error err;
    struct cstore_entry e;
    assert_int_equal(cstore_open(dir, &st, &err), 0);
    assert_int_equal(cstore_lookup(st, "big.bin", NULL, &e), 0);
    assert_int_equal(e.size, BIG);
    cstore_close(st);
    srv_stop(&s);
}

/* A process that holds `path` the way a session does: open (mode 0), or memory-mapped with
 * the descriptor closed (mode 1). Returns once it holds it. */
static pid_t spawn_holder(const char *path, int mode)
{
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t p = fork();
    if (p == 0) {
        close(pfd[0]);
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            _exit(1);
        if (mode == 1) {
            void *m = mmap(NULL, 1, PROT_READ, MAP_SHARED, fd, 0);
            if (m == MAP_FAILED)
                _exit(1);
            close(fd);
        }
        if (write(pfd[1], "x", 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    close(pfd[1]);
    if (n_servers < 32)
        servers[n_servers++] = p; /* ended at teardown even when the test fails */
    char b;
    assert_int_equal(read(pfd[0], &b, 1), 1);
    close(pfd[0]);
    return p;
}

static void end_holder(pid_t p)
{
    kill(p, SIGKILL);
    waitpid(p, NULL, 0);
}

static int present(struct cstore *st, const char *name)
{
    struct cstore_entry e;
    return cstore_lookup(st, name, NULL, &e) == 0;
}

/* Another process holding a blob open (through another path to the same file, as a session
 * sees /models/blobs/...) or mapping it keeps it; once it exits the blob can go. */
static void test_in_use_other_process(void **state)
{
    char dir[400], blob[600], other[600];
    struct cstore *st;
    struct error err = {0};
    fresh_store("inuse", dir, sizeof(dir));
    assert_int_equal(cstore_open(dir, &st, &err), 0);
    put(st, "a", 'a', 1000, false, 1);
    put(st, "b", 'b', 1000, false, 2);
    put(st, "c", 'c', 1000, false, 3);
    struct cstore_entry e;
    assert_int_equal(cstore_lookup(st, "a", NULL, &e), 0);
    cstore_blob_path(st, e.sha256, blob, sizeof(blob));
    snprintf(other, sizeof(other), "%s/session-view-a", work);
    unlink(other);
    assert_int_equal(link(blob, other), 0);
    pid_t holds_a = spawn_holder(other, 0);
    assert_int_equal(cstore_lookup(st, "b", NULL, &e), 0);
    cstore_blob_path(st, e.sha256, blob, sizeof(blob));
    pid_t maps_b = spawn_holder(blob, 1);
    unlink(other); /* the holder's file stays open */
    n_evicted = 0;
    /* 1000 more in 3000: the oldest two are in use, "c" goes */
    if (cstore_make_room(st, 1000, 3000, note, NULL, &err) < 0)
        fail_msg("%s", err.message);
    assert_int_equal(n_evicted, 1);
    assert_string_equal(evicted[0], "c");
    assert_true(present(st, "a") && present(st, "b"));
    /* 2000 more: only in-use files are left; nothing is evicted */
    assert_int_equal(cstore_make_room(st, 2000, 3000, note, NULL, &err), -ERR_UNAVAILABLE);
    assert_non_null(strstr(err.message, "2000 in use"));
    assert_int_equal(n_evicted, 1);
    assert_true(present(st, "a") && present(st, "b"));
    end_holder(holds_a);
    if (cstore_make_room(st, 2000, 3000, note, NULL, &err) < 0)
        fail_msg("%s", err.message);
    assert_int_equal(n_evicted, 2);
    assert_string_equal(evicted[1], "a");
    assert_true(present(st, "b"));
    assert_int_equal(cstore_make_room(st, 3000, 3000, note, NULL, &err), -ERR_UNAVAILABLE);
    end_holder(maps_b);
    if (cstore_make_room(st, 3000, 3000, note, NULL, &err) < 0)
        fail_msg("%s", err.message);
    assert_false(present(st, "b"));
    assert_int_not_equal(access(blob, F_OK), 0);
    assert_int_equal(cstore_used(st), 0);
    cstore_close(st);
}

static int64_t count_metric(struct cache_daemon *d, const char *line)
{
    char *m = NULL;
    assert_int_equal(cache_daemon_metrics(d, &m), 0);
    const char *p = strstr(m, line);
    long long v = p ? atoll(p + strlen(line)) : -1;
    free(m);
    return v;
}

static const char *state_of(json_t *st, const char *name)
{
    json_t *a = find_artifact(st, name);
    return a ? json_string_value(json_object_get(a, "state")) : "(absent)";
}

static const char *reason_of(json_t *st, const char *name)
{
    json_t *a = find_artifact(st, name);
    const char *r = a ? json_string_value(json_object_get(a, "reason")) : NULL;
    return r ? r : "";
}

/* The daemon evicts only what no session holds: a session reading "a" through its own path
 * keeps it; the download that needs its room fails with a reason, and succeeds once the
 * session is gone. */
static void test_daemon_in_use_not_evicted(void **state)
{
    struct srv s = srv_start(NULL);
    char dir[400], url[200], blob[600], other[600];
    struct error err = {0};
    fresh_store("daemon-inuse", dir, sizeof(dir));
    struct config *c = cache_config_ok(dir, "", &err);
    struct cache_daemon *d = daemon_up(c, BIG + SMALL / 2, &err);
    url_of(&s, "small.bin", url, sizeof(url));
    assert_int_equal(cache_daemon_prefetch(d, "a", url, small_hex, SMALL, false, &err), 0);
    wait_idle(d);
    snprintf(blob, sizeof(blob), "%s/blobs/sha256/%s", dir, small_hex);
    snprintf(other, sizeof(other), "%s/session-view", work);
    unlink(other);
    assert_int_equal(link(blob, other), 0);
    pid_t session = spawn_holder(other, 0);
    unlink(other);
    url_of(&s, "big.bin", url, sizeof(url));
    assert_int_equal(cache_daemon_prefetch(d, "b", url, big_hex, BIG, false, &err), 0);
    wait_idle(d);
    json_t *st = cache_daemon_status(d);
    assert_string_equal(state_of(st, "a"), "ready");
    assert_string_equal(state_of(st, "b"), "failed");
    if (!strstr(reason_of(st, "b"), "in use"))
        fail_msg("reason: %s", reason_of(st, "b"));
    json_decref(st);
    assert_int_equal(access(blob, F_OK), 0);
    end_holder(session);
    assert_int_equal(cache_daemon_prefetch(d, "b", url, big_hex, BIG, false, &err), 0);
    wait_idle(d);
    st = cache_daemon_status(d);
    assert_string_equal(state_of(st, "a"), "evicted");
    assert_string_equal(state_of(st, "b"), "ready");
    json_decref(st);
    assert_int_equal(count_metric(d, "\ngpuaas_cache_evictions_total "), 1);
    cache_daemon_free(d);
    config_free(c);
    srv_stop(&s);
}

/* A session's use of a file: another process opens path, reads it to the end and exits. */
static void read_as_session(const char *path)
{
    pid_t p = fork();
    if (p == 0) {
        int fd = open(path, O_RDONLY);
        char buf[65536];
        if (fd < 0)
            _exit(1);
        while (read(fd, buf, sizeof(buf)) > 0)
            ;
        _exit(close(fd) == 0 ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(p, &status, 0), p);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Eviction is least recently *used*: a session reading the older artifact (through another
 * path to the same file) makes it the newest, so the untouched one goes first; the use is
 * kept in the index across a restart. */
static void test_eviction_follows_use(void **state)
{
    char dir[400], blob[600], other[600];
    struct cstore *st;
    struct error err = {0};
    fresh_store("lru", dir, sizeof(dir));
    assert_int_equal(cstore_open(dir, &st, &err), 0);
    put(st, "older", 'a', 1000, false, 10);
    put(st, "newer", 'b', 1000, false, 20);
    struct cstore_entry e;
    assert_int_equal(cstore_lookup(st, "older", NULL, &e), 0);
    cstore_blob_path(st, e.sha256, blob, sizeof(blob));
    snprintf(other, sizeof(other), "%s/session-view-older", work);
    unlink(other);
    assert_int_equal(link(blob, other), 0);
    int64_t before = time_now();
    read_as_session(other);
    unlink(other);
    n_evicted = 0;
    if (cstore_make_room(st, 1000, 2000, note, NULL, &err) < 0)
        fail_msg("%s", err.message);
    assert_int_equal(n_evicted, 1);
    assert_string_equal(evicted[0], "newer"); /* by publication it would be "older" */
    assert_int_equal(cstore_lookup(st, "older", NULL, &e), 0);
    assert_true(e.last_used >= before);
    long long uses = 0, lost = 0;
    cstore_use_counts(st, &uses, &lost);
    assert_int_equal(uses, 2); /* the session's open and close; eviction's own are not */
    assert_int_equal(lost, 0);
    cstore_close(st);
    assert_int_equal(cstore_open(dir, &st, &err), 0);
    assert_int_equal(cstore_lookup(st, "older", NULL, &e), 0);
    assert_true(e.last_used >= before);
    cstore_close(st);
}

/* The same through the daemon, within one second: "a" then "b" published, a session reads
 * "a" by its name (as /models/<name>), and the download of "c" that needs room evicts "b". */
static void test_daemon_evicts_least_recently_used(void **state)
{
    struct srv s = srv_start(NULL);
    char dir[400], url[200], path[600];
    struct error err = {0};
    fresh_store("daemon-lru", dir, sizeof(dir));
    struct config *c = cache_config_ok(dir, "", &err);
    struct cache_daemon *d = daemon_up(c, 2 * BIG + SMALL / 2, &err);
    url_of(&s, "big.bin", url, sizeof(url));
    assert_int_equal(cache_daemon_prefetch(d, "a", url, big_hex, BIG, false, &err), 0);
    wait_idle(d);
    url_of(&s, "big2.bin", url, sizeof(url));
    assert_int_equal(cache_daemon_prefetch(d, "b", url, big2_hex, BIG, false, &err), 0);
    wait_idle(d);
    snprintf(path, sizeof(path), "%s/names/a", dir);
    read_as_session(path);
    url_of(&s, "small.bin", url, sizeof(url));
    assert_int_equal(cache_daemon_prefetch(d, "c", url, small_hex, SMALL, false, &err), 0);
    wait_idle(d);
    json_t *st = cache_daemon_status(d);
    assert_string_equal(state_of(st, "a"), "ready");
    assert_string_equal(state_of(st, "b"), "evicted");
    assert_string_equal(state_of(st, "c"), "ready");
    json_decref(st);
    assert_true(count_metric(d, "\ngpuaas_cache_uses_total ") >= 2);
    assert_int_equal(count_metric(d, "\ngpuaas_cache_use_events_lost_total "), 0);
    cache_daemon_free(d);
    config_free(c);
    srv_stop(&s);
}

static long long store_used_on_disk(const char *dir)
{
    char p[600];
    snprintf(p, sizeof(p), "%s/blobs/sha256", dir);
    long long sum = 0;
    DIR *dd = opendir(p);
    struct dirent *de;
    while (dd && (de = readdir(dd))) {
        struct stat sb;
        char f[900];
        snprintf(f, sizeof(f), "%s/%s", p, de->d_name);
        if (de->d_name[0] != '.' && stat(f, &sb) == 0)
            sum += sb.st_size;
    }
    if (dd)
        closedir(dd);
    return sum;
}

/* Two artifacts that do not fit together, one with a size and one without (file://),
 * downloaded at the same time: the store never exceeds the budget; the one that finds no
 * room fails with a reason and, asked again, evicts the other. */
static void test_budget_holds_in_flight(void **state)
{
    struct srv s = srv_start("--rate", "6000000", NULL);
    char dir[400], extra[2048];
    struct error err = {0};
    fresh_store("budget", dir, sizeof(dir));
    snprintf(extra, sizeof(extra),
             "  artifacts:\n"
             "    - {name: sized, url: \"http://127.0.0.1:%d/big.bin\", sha256: %s, size: %d}\n"
             "    - {name: unsized, url: \"file://%s/big2.bin\", sha256: %s}\n",
             s.port, big_hex, BIG, files, big2_hex);
    struct config *c = cache_config_ok(dir, extra, &err);
    struct cache_daemon *d = daemon_up(c, BIG + SMALL, &err);
    long long most = 0;
    for (int i = 0; i < 300 && !cache_daemon_idle(d); i++) {
        long long u = store_used_on_disk(dir);
        most = u > most ? u : most;
        usleep(10000);
    }
    wait_idle(d);
    most = store_used_on_disk(dir) > most ? store_used_on_disk(dir) : most;
    assert_true(most <= BIG + SMALL);
    json_t *st = cache_daemon_status(d);
    const char *a = state_of(st, "sized"), *b = state_of(st, "unsized");
    if (!strcmp(a, "evicted") || !strcmp(b, "evicted")) {
        /* a worker started so late that the other had finished: it evicted that one */
        assert_string_equal(!strcmp(a, "evicted") ? b : a, "ready");
        json_decref(st);
        assert_int_equal(count_metric(d, "\ngpuaas_cache_evictions_total "), 1);
        cache_daemon_free(d);
        config_free(c);
        srv_stop(&s);
        return;
    }
    const char *loser = !strcmp(a, "failed") ? "sized" : "unsized";
    if (!((!strcmp(a, "ready") && !strcmp(b, "failed")) ||
          (!strcmp(a, "failed") && !strcmp(b, "ready"))))
        fail_msg("sized %s, unsized %s", a, b);
    if (!strstr(reason_of(st, loser), "no room in the cache budget"))
        fail_msg("reason: %s", reason_of(st, loser));
    json_decref(st);
    /* asked again, the loser evicts the winner */
    char u[600];
    if (!strcmp(loser, "sized"))
        snprintf(u, sizeof(u), "http://127.0.0.1:%d/big.bin", s.port);
    else
        snprintf(u, sizeof(u), "file://%s/big2.bin", files);
    assert_int_equal(cache_daemon_prefetch(
                         d, loser, u, !strcmp(loser, "sized") ? big_hex : big2_hex, 0, false, &err),
                     0);
    wait_idle(d);
    st = cache_daemon_status(d);
    assert_string_equal(state_of(st, loser), "ready");
    assert_string_equal(state_of(st, !strcmp(loser, "sized") ? "unsized" : "sized"), "evicted");
    json_decref(st);
    assert_true(store_used_on_disk(dir) <= BIG + SMALL);
    assert_int_equal(count_metric(d, "\ngpuaas_cache_evictions_total "), 1);
    cache_daemon_free(d);
    config_free(c);
    srv_stop(&s);
}

/* No size anywhere (no configured size, no Content-Length): the room is made after the
 * download, before publishing; with a pinned file in the way the artifact fails and its
 * partial file is removed. */
static void test_budget_unknown_size(void **state)
{
    struct srv s = srv_start("--no-length", NULL);
    char dir[400], extra[2048], part[600];
    struct error err = {0};
    fresh_store("budget-unknown", dir, sizeof(dir));
    snprintf(extra, sizeof(extra),
             "  artifacts:\n"
             "    - {name: keep, url: \"file://%s/big.bin\", sha256: %s, size: %d, pinned: true}\n",
             files, big_hex, BIG);
    struct config *c = cache_config_ok(dir, extra, &err);
    struct cache_daemon *d = daemon_up(c, BIG + SMALL, &err);
    wait_idle(d);
    char url[200];
    url_of(&s, "big2.bin", url, sizeof(url));
    assert_int_equal(cache_daemon_prefetch(d, "later", url, big2_hex, 0, false, &err), 0);
    wait_idle(d);
    json_t *st = cache_daemon_status(d);
    assert_string_equal(state_of(st, "keep"), "ready");
    assert_string_equal(state_of(st, "later"), "failed");
    if (!strstr(reason_of(st, "later"),
                "no room in the cache budget to publish the downloaded file"))
        fail_msg("reason: %s", reason_of(st, "later"));
    json_decref(st);
    assert_int_equal(log_count("GET /big2.bin"), 1); /* failed for good, not retried */
    assert_int_equal(store_used_on_disk(dir), BIG);
    snprintf(part, sizeof(part), "%s/tmp/%s.partial", dir, big2_hex);
    assert_int_not_equal(access(part, F_OK), 0);
    /* a small one without a size fits */
    url_of(&s, "small.bin", url, sizeof(url));
    assert_int_equal(cache_daemon_prefetch(d, "small", url, small_hex, 0, false, &err), 0);
    wait_idle(d);
    st = cache_daemon_status(d);
    assert_string_equal(state_of(st, "small"), "ready");
    json_decref(st);
    cache_daemon_free(d);
    config_free(c);
    srv_stop(&s);
}

/* POST /prefetch survives a restart: listed again, and a download cut short resumes. */
static void test_prefetch_survives_restart(void **state)
{
    struct srv s = srv_start("--rate", "2000000", NULL);
    char dir[400], url[200], part[600];
    struct error err = {0};
    fresh_store("prefetch-restart", dir, sizeof(dir));
    struct config *c = cache_config_ok(dir, "", &err);
    struct cache_daemon *d = daemon_up(c, 0, &err);
    url_of(&s, "big.bin", url, sizeof(url));
    assert_int_equal(
        cache_daemon_prefetch(d, "org/model/weights.bin", url, big_hex, BIG, true, &err), 0);
    snprintf(part, sizeof(part), "%s/tmp/%s.partial", dir, big_hex);
    struct stat sb = {0};
    WAIT_UNTIL(stat(part, &sb) == 0 && sb.st_size >= 500000, 60);
    cache_daemon_free(d); /* stops mid-transfer */
    assert_int_equal(stat(part, &sb), 0);
    assert_true(sb.st_size > 0 && sb.st_size < BIG);
    assert_int_equal(cache_daemon_new(c, &d, &err), 0);
    json_t *st = cache_daemon_status(d);
    json_t *a = find_artifact(st, "org/model/weights.bin");
    assert_non_null(a);
    assert_string_equal(json_string_value(json_object_get(a, "state")), "queued");
    assert_true(json_is_true(json_object_get(a, "pinned")));
    assert_int_equal(json_integer_value(json_object_get(a, "size")), BIG);
    json_decref(st);
    assert_int_equal(access(part, F_OK), 0); /* fsck kept the partial */
    assert_int_equal(cache_daemon_start(d, &err), 0);
    WAIT_UNTIL(cache_daemon_idle(d), 120);
    st = cache_daemon_status(d);
    assert_string_equal(state_of(st, "org/model/weights.bin"), "ready");
    json_decref(st);
    assert_int_equal(log_count("GET /big.bin bytes="), 1); /* resumed, not started over */
    cache_daemon_free(d);
    /* a damaged list is ignored, not fatal */
    char p[600];
    snprintf(p, sizeof(p), "%s/prefetch.json", dir);
    FILE *f = fopen(p, "w");
    fputs("{\"version\": 1, \"artifacts\": [{\"name\": \"../x\", \"url\": \"http://x/\", "
          "\"sha256\": \"00\"}]}",
          f);
    fclose(f);
    assert_int_equal(cache_daemon_new(c, &d, &err), 0);
    st = cache_daemon_status(d);
    assert_int_equal(json_array_size(json_object_get(st, "artifacts")), 0);
    json_decref(st);
    cache_daemon_free(d);
    config_free(c);
    srv_stop(&s);
}

static void read_name(const char *dir, const char *name, char *buf, size_t len)
{
    char p[800];
    snprintf(p, sizeof(p), "%s/names/%s", dir, name);
    FILE *f = fopen(p, "rb");
    if (!f)
        fail_msg("%s: cannot open", p);
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = 0;
    fclose(f);
}

/* A model made of several files: names/<model>/<file> links resolve (also when names/ and
 * blobs/ are seen side by side elsewhere, as /models/names and /models/blobs), eviction
 * and fsck remove the directories they leave empty, fsck drops stale nested links. */
static void test_nested_names(void **state)
{
    char dir[400], p[800], buf[64];
    struct cstore *st;
    struct error err = {0};
    fresh_store("nested", dir, sizeof(dir));
    assert_int_equal(cstore_open(dir, &st, &err), 0);
    put(st, "llama/tokenizer/tokenizer.json", 't', 10, false, 1);
    put(st, "llama/config.json", 'c', 10, false, 2);
    put(st, "llama/model-00001-of-00002.safetensors", 'm', 20, true, 3);
    put(st, "top", 'x', 10, false, 4);
    /* read in this order, which is now also the order of last use */
    read_name(dir, "llama/tokenizer/tokenizer.json", buf, sizeof(buf));
    assert_string_equal(buf, "tttttttttt");
    read_name(dir, "llama/config.json", buf, sizeof(buf));
    assert_string_equal(buf, "cccccccccc");
    read_name(dir, "top", buf, sizeof(buf));
    assert_string_equal(buf, "xxxxxxxxxx");
    char target[600];
    snprintf(p, sizeof(p), "%s/names/llama/tokenizer/tokenizer.json", dir);
    ssize_t n = readlink(p, target, sizeof(target) - 1);
    assert_true(n > 0);
    target[n] = 0;
    assert_int_equal(strncmp(target, "../../../blobs/sha256/", 22), 0);
    /* a name that is a directory of another cannot be published */
    char hex[65];
    snprintf(p, sizeof(p), "%s/tmp/x", dir);
    FILE *f = fopen(p, "wb");
    fputs("zz", f);
    fclose(f);
    assert_int_equal(sha256_file(p, hex, &err), 0);
    char dst[700];
    cstore_partial_path(st, hex, dst, sizeof(dst));
    rename(p, dst);
    assert_true(cstore_publish(st, hex, "llama", 2, false, 5, &err) < 0);
    assert_true(cstore_publish(st, hex, "top/x", 2, false, 5, &err) < 0);
    assert_false(present(st, "llama"));
    /* evicting the tokenizer (the least recently used) removes llama/tokenizer/ */
    n_evicted = 0;
    assert_int_equal(cstore_make_room(st, 10, 50, note, NULL, &err), 0);
    assert_int_equal(n_evicted, 1);
    assert_string_equal(evicted[0], "llama/tokenizer/tokenizer.json");
    snprintf(p, sizeof(p), "%s/names/llama/tokenizer", dir);
    assert_int_not_equal(access(p, F_OK), 0);
    snprintf(p, sizeof(p), "%s/names/llama", dir);
    assert_int_equal(access(p, F_OK), 0);
    assert_int_equal(cstore_remove(st, "llama/model-00001-of-00002.safetensors"), 0);
    /* fsck: a stale nested link and an empty directory go, a missing link comes back */
    snprintf(p, sizeof(p), "%s/names/old", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/names/old/gone", dir);
    assert_int_equal(symlink("../../blobs/sha256/nothing", p), 0);
    char e1[800];
    snprintf(e1, sizeof(e1), "%s/names/empty", dir);
    assert_int_equal(mkdir(e1, 0755), 0);
    snprintf(p, sizeof(p), "%s/names/empty/dir", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    const char *alive = "llama/config.json";
    assert_true(present(st, alive));
    snprintf(p, sizeof(p), "%s/names/%s", dir, alive);
    unlink(p);
    struct cstore_fsck_report rep;
    assert_int_equal(cstore_fsck(st, NULL, 0, false, &rep, &err), 0);
    assert_int_equal(rep.removed_links, 1);
    assert_int_equal(rep.fixed_links, 1);
    snprintf(p, sizeof(p), "%s/names/old", dir);
    assert_int_not_equal(access(p, F_OK), 0);
    assert_int_not_equal(access(e1, F_OK), 0);
    read_name(dir, alive, buf, sizeof(buf));
    assert_true(strlen(buf) == 10);
    cstore_close(st);
}

/* The shipped image has no crictl: the failure says what pre-pull needs and where to read. */
static void test_image_pull_failure_explained(void **state)
{
    char dir[400];
    struct error err = {0};
    fresh_store("images", dir, sizeof(dir));
    struct config *c = cache_config_ok(
        dir, "  image_pull_command: gpuaas-test-no-such-command pull\n  images: [busybox:1.36]\n",
        &err);
    struct cache_daemon *d = daemon_up(c, 0, &err);
    wait_idle(d);
    json_t *st = cache_daemon_status(d);
    json_t *im = json_array_get(json_object_get(st, "images"), 0);
    assert_string_equal(json_string_value(json_object_get(im, "state")), "failed");
    const char *why = json_string_value(json_object_get(im, "reason"));
    if (!why || !strstr(why, "cannot run gpuaas-test-no-such-command") ||
        !strstr(why, "docs/operations.md#node-cache"))
        fail_msg("reason: %s", why ? why : "(none)");
    json_decref(st);
    cache_daemon_free(d);
    config_free(c);
}

static size_t to_memstream(char *b, size_t sz, size_t n, void *arg)
{
    return fwrite(b, sz, n, (FILE *)arg);
}

/* One HTTP request to the daemon; returns the status (0 when unreachable), body in *ret. */
static long http_call(const char *method, const char *url, const char *body, const char *token,
                      json_t **ret)
{
    char *buf = NULL, auth[300];
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, to_memstream);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, mem);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        h = curl_slist_append(h, "Content-Type: application/json");
    }
    if (token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    fclose(mem);
    if (ret)
        *ret = json_loadb(buf, len, 0, NULL);
    free(buf);
    return status;
}

/* The port the daemon wrote to port_file, once it is there: 0 while it is not. */
static int read_port_file(const char *port_file)
{
    int port = 0;
    FILE *f = fopen(port_file, "r");
    if (f) {
        if (fscanf(f, "%d", &port) != 1)
            port = 0;
        fclose(f);
    }
    return port;
}

/* Starts `gpuaas cache` on 127.0.0.1 and a port the kernel picks (no other process can take it
 * between a choice and the bind): the daemon writes it to --port-file once it listens, and
 * listen becomes "127.0.0.1:PORT". Fails when the daemon exits first. */
static pid_t start_daemon(const char *cfg, char *listen, size_t len)
{
    char bin[512], port_file[600];
    snprintf(bin, sizeof(bin), "%s/gpuaas", build_dir());
    snprintf(port_file, sizeof(port_file), "%s.port", cfg);
    unlink(port_file);
    pid_t p = fork();
    if (p == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execl(bin, bin, "cache", "--config", cfg, "--listen", "127.0.0.1:0", "--port-file",
              port_file, (char *)NULL);
        _exit(127);
    }
    if (n_servers < 32)
        servers[n_servers++] = p;
    int port = 0, status;
    bool exited = false;
    /* the bound only decides how long a broken start takes to fail */
    WAIT_UNTIL(
        (port = read_port_file(port_file)) > 0 || (exited = waitpid(p, &status, WNOHANG) == p), 60);
    if (port <= 0)
        fail_msg("the cache daemon %s before it wrote %s", exited ? "exited" : "did not listen",
                 port_file);
    snprintf(listen, len, "127.0.0.1:%d", port);
    return p;
}

/* The real daemon: POST /prefetch, kill -9 mid-transfer, start again: /status lists the
 * artifact and the download resumes where it stopped. */
static void test_daemon_kill9_keeps_prefetch(void **state)
{
    struct srv s = srv_start("--rate", "2000000", NULL);
    char dir[400], cfg[600], tok[600], listen[64], url[200], part[700], body[1024];
    fresh_store("daemon-kill9", dir, sizeof(dir));
    snprintf(cfg, sizeof(cfg), "%s/daemon-kill9.yaml", work);
    snprintf(tok, sizeof(tok), "%s/daemon-kill9.token", work);
    FILE *f = fopen(tok, "w");
    fputs("s3cret-token\n", f);
    fclose(f);
    f = fopen(cfg, "w");
    fprintf(f, "cache:\n  store_dir: %s\n  token_file: %s\n  ranges: 1\n  retry_delay_seconds: 0\n",
            dir, tok);
    fclose(f);
    pid_t d = start_daemon(cfg, listen, sizeof(listen));
    url_of(&s, "big.bin", url, sizeof(url));
    snprintf(body, sizeof(body),
             "{\"name\": \"m/weights.bin\", \"url\": \"%s\", \"sha256\": \"%s\", \"size\": %d}",
             url, big_hex, BIG);
    char api[200];
    snprintf(api, sizeof(api), "http://%s/prefetch", listen);
    long st = http_call("POST", api, body, "s3cret-token", NULL);
    if (st / 100 != 2)
        fail_msg("POST /prefetch: %ld", st);
    snprintf(part, sizeof(part), "%s/tmp/%s.partial", dir, big_hex);
    struct stat sb = {0};
    WAIT_UNTIL(stat(part, &sb) == 0 && sb.st_size >= 500000, 60);
    kill(d, SIGKILL);
    waitpid(d, NULL, 0);
    assert_int_equal(stat(part, &sb), 0);
    assert_true(sb.st_size > 0 && sb.st_size < BIG);
    d = start_daemon(cfg, listen, sizeof(listen)); /* on a new port */
    snprintf(api, sizeof(api), "http://%s/status", listen);
    json_t *doc = NULL;
    const char *now = "(absent)";
    for (int64_t end = time_mono_ms() + 120000; time_mono_ms() < end;) {
        json_decref(doc);
        doc = NULL;
        assert_int_equal(http_call("GET", api, NULL, NULL, &doc), 200);
        now = state_of(doc, "m/weights.bin");
        if (!strcmp(now, "ready") || !strcmp(now, "failed"))
            break;
        usleep(20000);
    }
    if (strcmp(now, "ready"))
        fail_msg("after the restart: %s %s", now, reason_of(doc, "m/weights.bin"));
    json_decref(doc);
    assert_int_equal(log_count("GET /big.bin bytes="), 1); /* resumed */
    kill(d, SIGTERM);
    waitpid(d, NULL, 0);
    srv_stop(&s);
}

/* `config check` reads the files the cache settings name. */
static void test_config_check_token_file(void **state)
{
    char cfg[600], cmd[1400], out[700], line[512] = "";
    snprintf(cfg, sizeof(cfg), "%s/check.yaml", work);
    snprintf(out, sizeof(out), "%s/check.out", work);
    FILE *f = fopen(cfg, "w");
    fputs("cache:\n  token_file: /nonexistent/token\n", f);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "'%s/gpuaas' config check --config '%s' >'%s' 2>&1", build_dir(),
             cfg, out);
    int rc = system(cmd);
    assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 1);
    f = fopen(out, "r");
    assert_non_null(f);
    if (!fgets(line, sizeof(line), f))
        line[0] = 0;
    fclose(f);
    if (!strstr(line, "check.yaml: cache.token_file: /nonexistent/token: cannot read"))
        fail_msg("%s", line);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_after_disconnect),
        cmocka_unit_test(test_checksum_mismatch_rejected),
        cmocka_unit_test(test_parallel_ranges_identical),
        cmocka_unit_test(test_parallel_ranges_resume),
        cmocka_unit_test(test_parallel_segments),
        cmocka_unit_test(test_parallel_segments_resume_and_corrupt),
        cmocka_unit_test(test_eviction_order_and_pinning),
        cmocka_unit_test(test_fsck),
        cmocka_unit_test(test_daemon_dedup_and_retry),
        cmocka_unit_test(test_daemon_prefetch_and_fail),
        cmocka_unit_test(test_pinned_set_must_fit),
        cmocka_unit_test(test_bad_config_entries),
        cmocka_unit_test(test_kill9_and_restart),
        cmocka_unit_test(test_in_use_other_process),
        cmocka_unit_test(test_daemon_in_use_not_evicted),
        cmocka_unit_test(test_eviction_follows_use),
        cmocka_unit_test(test_daemon_evicts_least_recently_used),
        cmocka_unit_test(test_budget_holds_in_flight),
        cmocka_unit_test(test_budget_unknown_size),
        cmocka_unit_test(test_prefetch_survives_restart),
        cmocka_unit_test(test_nested_names),
        cmocka_unit_test(test_image_pull_failure_explained),
        cmocka_unit_test(test_daemon_kill9_keeps_prefetch),
        cmocka_unit_test(test_config_check_token_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
