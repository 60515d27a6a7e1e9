/* Node cache: downloads from a real local HTTP server with Range support and injected faults.
 * Resume after a disconnect, checksum mismatch rejected and retried, parallel ranges equal
 * to the source, eviction order and pinning, in-use protection, deduplicated concurrent
 * requests, kill -9 in the middle and restart, fsck, and bad configuration entries. */
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
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char work[256], files[300], srvlog[300];
static char big_hex[65], small_hex[65];
#define BIG (6 << 20)
#define SMALL (300 << 10)

static const char *build_dir(void)
{
    const char *b = getenv("GPUAAS_BUILD");
    return b ? b : "build";
}

static void write_random(const char *path, size_t n, char hex[65])
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    unsigned x = 12345;
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

static pid_t servers[32]; /* killed at teardown even when a test failed half-way */
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
    write_random(p, BIG, big_hex);
    snprintf(p, sizeof(p), "%s/small.bin", files);
    write_random(p, SMALL, small_hex);
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
    const char *in_use[] = {mid.sha256};
    n_evicted = 0;
    /* need 1500 more in a 4500 budget: evict 1000 at least, LRU unpinned not in use = "new" */
    assert_int_equal(cstore_make_room(st, 1500, 4500, in_use, 1, note, NULL, &err), 0);
    assert_int_equal(n_evicted, 1);
    assert_string_equal(evicted[0], "new");
    /* need 2500: "old" goes; then nothing evictable is left */
    assert_int_equal(cstore_make_room(st, 2500, 4500, in_use, 1, note, NULL, &err), 0);
    assert_string_equal(evicted[1], "old");
    assert_int_equal(cstore_make_room(st, 5000, 4500, in_use, 1, note, NULL, &err), -ERR_CONFLICT);
    assert_non_null(strstr(err.message, "pinned or in use"));
    struct cstore_entry e;
    assert_int_equal(cstore_lookup(st, "pinned-oldest", NULL, &e), 0);
    assert_int_equal(cstore_lookup(st, "mid", NULL, &e), 0);
    close(fd);
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
    for (int i = 0; i < 300 && !cache_daemon_idle(d); i++)
        usleep(50000);
    assert_true(cache_daemon_idle(d));
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
    struct config *c = cache_config(dir, extra, &err);
    if (!c)
        fail_msg("%s", err.message);
    struct cache_daemon *d;
    assert_int_equal(cache_daemon_new(c, &d, &err), 0);
    assert_int_equal(cache_daemon_start(d, &err), 0);
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
    struct config *c = cache_config(dir, "", &err);
    struct cache_daemon *d;
    assert_int_equal(cache_daemon_new(c, &d, &err), 0);
    assert_int_equal(cache_daemon_start(d, &err), 0);
    url_of(&s, "small.bin", url, sizeof(url));
    assert_int_equal(cache_daemon_prefetch(d, "s", url, small_hex, 0, true, &err), 0);
    assert_int_equal(cache_daemon_prefetch(d, "s", url, big_hex, 0, false, &err), -ERR_EXISTS);
    assert_int_equal(cache_daemon_prefetch(d, "../x", url, small_hex, 0, false, &err),
                     -ERR_INVALID);
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
    struct config *c = cache_config(dir, extra, &err);
    assert_non_null(c);
    struct cache_daemon *d = NULL;
    assert_int_equal(cache_daemon_new(c, &d, &err), -ERR_CONFLICT);
    assert_non_null(strstr(err.message, "pinned artifacts need"));
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
        {"cache:\n  artifacts:\n    - {name: a/b, url: \"http://x/y\", sha256: HEX}\n",
         "cache.yaml:3: cache.artifacts[0]: name"},
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
    for (int i = 0; i < 100 && (stat(part, &sb) < 0 || sb.st_size < 500000); i++)
        usleep(20000);
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
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
