/* HTTP(S)/file downloads with resume, parallel ranges and sha256 verification. */
#include "cache/cache_fetch.h"

#include "cache/cache_hash.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATHLEN 4096
#define MAX_RANGES 32
#define SIDECAR_EVERY (64LL << 20) /* bytes between durable progress records */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void common_opts(CURL *c, const char *url, const struct fetch_opts *o)
{
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT,
                     o->connect_timeout_s > 0 ? o->connect_timeout_s : 30L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME,
                     o->low_speed_time_s > 0 ? o->low_speed_time_s : 60L);
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 512L * 1024);
    if (o->proxy && *o->proxy)
        curl_easy_setopt(c, CURLOPT_PROXY, o->proxy);
}

/* ---- probing ---- */

struct probe {
    long long size;
    int ranges_ok;
};

static size_t probe_header(char *b, size_t sz, size_t n, void *arg)
{
    struct probe *p = arg;
    size_t len = sz * n;
    if (len > 14 && !strncasecmp(b, "accept-ranges:", 14) && memmem(b, len, "bytes", 5))
        p->ranges_ok = 1;
    return len;
}

static void probe(const char *url, const struct fetch_opts *o, struct probe *p)
{
    CURL *c = curl_easy_init();
    p->size = 0;
    p->ranges_ok = 0;
    if (!c)
        return;
    common_opts(c, url, o);
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, probe_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, p);
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_off_t len = -1;
        curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
        p->size = len > 0 ? len : 0;
    }
    curl_easy_cleanup(c);
}

static int cancelled(const struct fetch_opts *o)
{
    return o->cancel && atomic_load(o->cancel);
}

static int xferinfo(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    return cancelled(arg) ? 1 : 0;
}

/* ---- one stream ----
 *
 * DESIGN: two threads so that the network, the disk and the hash overlap. libcurl's thread
 * copies what arrives into a bounded ring of large buffers; a writer thread writes each full
 * buffer to the partial file, hashes it, and starts the kernel's writeback of every window
 * it completes (sync_file_range), waiting for the window before the previous one and
 * dropping it from the page cache, so that the dirty data stays bounded and the fsync before
 * publishing only has the tail left to write. The hand-over costs one mutex round per buffer,
 * not per network read. */

#define RING_SLOTS 8
#define SLOT_BYTES (1 << 20)
#define WRITEBACK_WINDOW (32LL << 20)

struct stream {
    int fd;
    struct chash *h;
    const struct fetch_opts *o;
    /* the ring: slots [tail, head) are full and wait for the writer; the producer fills slot
     * head % RING_SLOTS (fill bytes so far) once the ring has room for it */
    unsigned char *mem;
    size_t len[RING_SLOTS];
    unsigned long head, tail;
    size_t fill;
    bool eof;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    _Atomic int io_error;
    /* writer thread only */
    long long off;                  /* file offset of the next write */
    long long written;              /* bytes written by this transfer */
    long long wb_start;             /* writeback not started from here on */
    long long wb_prev_s, wb_prev_n; /* the window started before the last one */
};

static void writeback(struct stream *s)
{
    long long n = s->off - s->wb_start;
    if (n < WRITEBACK_WINDOW)
        return;
    sync_file_range(s->fd, s->wb_start, n, SYNC_FILE_RANGE_WRITE);
    if (s->wb_prev_n) {
        sync_file_range(s->fd, s->wb_prev_s, s->wb_prev_n,
                        SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                            SYNC_FILE_RANGE_WAIT_AFTER);
        posix_fadvise(s->fd, s->wb_prev_s, s->wb_prev_n, POSIX_FADV_DONTNEED);
    }
    s->wb_prev_s = s->wb_start;
    s->wb_prev_n = n;
    s->wb_start = s->off;
}

static int write_all(int fd, const unsigned char *b, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, b + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return errno ? errno : EIO;
        off += (size_t)w;
    }
    return 0;
}

static void *stream_writer(void *arg)
{
    struct stream *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (s->tail == s->head && !s->eof)
            pthread_cond_wait(&s->cv, &s->mu);
        if (s->tail == s->head)
            break;
        unsigned i = (unsigned)(s->tail % RING_SLOTS);
        size_t len = s->len[i];
        pthread_mutex_unlock(&s->mu);
        const unsigned char *b = s->mem + (size_t)i * SLOT_BYTES;
        int e = atomic_load(&s->io_error) ? 0 : write_all(s->fd, b, len);
        if (e) {
            atomic_store(&s->io_error, e);
        } else if (!atomic_load(&s->io_error)) {
            if (chash_update(s->h, b, len))
                atomic_store(&s->io_error, EIO);
            s->off += (long long)len;
            s->written += (long long)len;
            if (s->o->progress)
                atomic_fetch_add(&s->o->progress->done, (long long)len);
            writeback(s);
        }
        pthread_mutex_lock(&s->mu);
        s->tail++;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* Hands the slot being filled to the writer. */
static void ring_push(struct stream *s)
{
    pthread_mutex_lock(&s->mu);
    s->len[s->head % RING_SLOTS] = s->fill;
    s->head++;
    s->fill = 0;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Waits until the ring has room for the slot to fill; false when the writer failed. */
static bool ring_wait_room(struct stream *s)
{
    pthread_mutex_lock(&s->mu);
    while (s->head - s->tail >= RING_SLOTS && !atomic_load(&s->io_error))
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    return !atomic_load(&s->io_error);
}

static size_t stream_write(char *b, size_t sz, size_t n, void *arg)
{
    struct stream *s = arg;
    size_t len = sz * n, off = 0;
    while (off < len) {
        if (s->fill == 0 && !ring_wait_room(s))
            return 0;
        size_t k = SLOT_BYTES - s->fill;
        if (k > len - off)
            k = len - off;
        memcpy(s->mem + (size_t)(s->head % RING_SLOTS) * SLOT_BYTES + s->fill, b + off, k);
        s->fill += k;
        off += k;
        if (s->fill == SLOT_BYTES)
            ring_push(s);
    }
    return atomic_load(&s->io_error) ? 0 : len;
}

static int hash_prefix(int fd, struct chash *h, long long len)
{
    static __thread unsigned char buf[1 << 20];
    long long off = 0;
    while (off < len) {
        size_t want =
            (size_t)(len - off < (long long)sizeof(buf) ? len - off : (long long)sizeof(buf));
        ssize_t n = pread(fd, buf, want, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || chash_update(h, buf, (size_t)n))
            return -1;
        off += n;
    }
    return 0;
}

static int fetch_stream(const char *url, const char *part, const struct fetch_opts *o, char hex[65],
                        long long *ret_size, struct error *err)
{
    struct stream s = {.o = o};
    int r = 0;
    bool threads = false;
    s.fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (s.fd < 0)
        return error_set(err, ERR_IO, "", "%s: %s", part, strerror(errno));
    s.h = chash_new();
    s.mem = malloc((size_t)RING_SLOTS * SLOT_BYTES);
    if (!s.h || !s.mem) {
        r = error_set(err, ERR_NOMEM, "", "%s: out of memory", part);
        goto out;
    }
    struct stat sb;
    long long have = fstat(s.fd, &sb) == 0 ? sb.st_size : -1;
    if (have < 0 || hash_prefix(s.fd, s.h, have) < 0 || lseek(s.fd, have, SEEK_SET) < 0) {
        unlink(part);
        r = error_set(err, ERR_IO, "", "%s: cannot read the partial file", part);
        goto out;
    }
    posix_fadvise(s.fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    s.off = s.wb_start = have;
    if (o->progress)
        atomic_store(&o->progress->done, have);
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv, NULL);
    pthread_t writer;
    threads = true;
    if (pthread_create(&writer, NULL, stream_writer, &s)) {
        r = error_set(err, ERR_INTERNAL, "", "%s: cannot start the writer thread", part);
        goto out;
    }
    CURL *c = curl_easy_init();
    CURLcode rc = CURLE_OUT_OF_MEMORY;
    long status = 0;
    if (c) {
        common_opts(c, url, o);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, stream_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, xferinfo);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)o);
        if (have > 0)
            curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)have);
        rc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(c);
    }
    /* whatever arrived goes to the file, so that a retry resumes after it */
    if (s.fill)
        ring_push(&s);
    pthread_mutex_lock(&s.mu);
    s.eof = true;
    pthread_cond_broadcast(&s.cv);
    pthread_mutex_unlock(&s.mu);
    pthread_join(writer, NULL);
    int io_error = atomic_load(&s.io_error);
    if (rc == CURLE_RANGE_ERROR || (rc == CURLE_HTTP_RETURNED_ERROR && status == 416)) {
        /* The server cannot resume here: start over next attempt. */
        if (ftruncate(s.fd, 0) < 0)
            unlink(part);
        r = error_set(err, ERR_UNAVAILABLE, "", "%s: the server refused to resume; restarting",
                      url);
    } else if (have > 0 && rc == CURLE_OK && status == 200) {
        /* Range ignored: the body was the whole file appended after the prefix. */
        if (ftruncate(s.fd, 0) < 0)
            unlink(part);
        r = error_set(err, ERR_UNAVAILABLE, "",
                      "%s: the server ignored the range request; restarting", url);
    } else if (rc != CURLE_OK || io_error) {
        r = error_set(err, io_error ? ERR_IO : ERR_UNAVAILABLE, "", "%s: %s", url,
                      io_error ? strerror(io_error) : curl_easy_strerror(rc));
        if (status >= 400)
            snprintf(err->message + strlen(err->message),
                     sizeof(err->message) - strlen(err->message), ", HTTP status %ld", status);
    } else if (fsync(s.fd) < 0) {
        r = error_set(err, ERR_IO, "", "%s: %s", part, strerror(errno));
    } else if (chash_final_hex(s.h, hex)) {
        r = error_set(err, ERR_INTERNAL, "", "%s: SHA-256 failed", part);
    } else {
        *ret_size = have + s.written;
    }
out:
    if (threads) {
        pthread_cond_destroy(&s.cv);
        pthread_mutex_destroy(&s.mu);
    }
    chash_free(s.h);
    free(s.mem);
    close(s.fd);
    return r;
}

/* ---- parallel ranges ----
 *
 * DESIGN: the file is cut into segments (at least SEGMENT_MIN bytes, at most MAX_SEGMENTS of
 * them, at least one per connection). libcurl's multi interface drives N connections in one
 * thread; each connection fetches the next segment in file order when its segment is done,
 * so the downloaded part grows from the start of the file with at most N segments in
 * flight. That thread only writes (pwrite into the page cache) and never waits for the disk.
 * A hasher thread follows the contiguous downloaded prefix, reading it back from the page
 * cache, so that the hash is finished soon after the last byte arrives. A flusher thread
 * makes progress durable: every SIDECAR_EVERY bytes it notes each segment's progress,
 * fdatasyncs the file and then records that progress in the sidecar, which a restart reads
 * to resume every segment. The sidecar holds one "start end done" line per segment. */

#define SEGMENT_MIN (16LL << 20) /* default; fetch_opts.segment overrides */
#define MAX_SEGMENTS 1024
#define HASH_WAKE_EVERY (4LL << 20)

struct range {
    long long start, end;   /* [start, end) */
    _Atomic long long done; /* bytes of this segment written (multi thread; read by others) */
    long long durable;      /* progress recorded in the sidecar (under mu) */
};

struct ranged {
    int fd;
    const char *part;
    char sidecar[PATHLEN];
    struct range *r; /* n segments covering [0, size) */
    int n;
    int next; /* first segment not yet handed to a connection (multi thread) */
    long long size;
    pthread_mutex_t mu; /* durable[], the sidecar file, the helper threads' wake-ups */
    pthread_cond_t flush_cv, hash_cv;
    bool ended;                /* the transfer is over */
    _Atomic bool failed;       /* ... and failed: the hasher stops */
    _Atomic long long written; /* bytes written by this attempt */
    long long flushed;         /* `written` at the last flush (flusher only) */
    int io_error;
    int sync_error; /* errno of the flusher's fdatasync, 0 = fine */
    /* hasher thread */
    struct chash *h;
    long long hashed;
    int hash_error;
    const struct fetch_opts *o;
};

struct range_ctx {
    struct ranged *rd;
    int i; /* the segment this connection fetches */
};

static void save_sidecar_locked(struct ranged *rd)
{
    char tmp[PATHLEN];
    snprintf(tmp, sizeof(tmp), "%s.tmp", rd->sidecar);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    for (int i = 0; i < rd->n; i++)
        fprintf(f, "%lld %lld %lld\n", rd->r[i].start, rd->r[i].end, rd->r[i].durable);
    fflush(f);
    fsync(fileno(f));
    fclose(f);
    rename(tmp, rd->sidecar);
}

/* fdatasync, then record the progress noted before it as durable. */
static void flush_ranges(struct ranged *rd)
{
    long long *snap = malloc((size_t)rd->n * sizeof(*snap));
    if (!snap)
        return; /* progress simply stays at the last record */
    for (int i = 0; i < rd->n; i++)
        snap[i] = atomic_load(&rd->r[i].done);
    rd->flushed = atomic_load(&rd->written);
    if (fdatasync(rd->fd) < 0) {
        pthread_mutex_lock(&rd->mu);
        rd->sync_error = errno ? errno : EIO;
        pthread_mutex_unlock(&rd->mu);
        free(snap);
        return;
    }
    pthread_mutex_lock(&rd->mu);
    for (int i = 0; i < rd->n; i++)
        rd->r[i].durable = snap[i];
    save_sidecar_locked(rd);
    pthread_mutex_unlock(&rd->mu);
    free(snap);
}

static void *range_flusher(void *arg)
{
    struct ranged *rd = arg;
    for (;;) {
        pthread_mutex_lock(&rd->mu);
        while (!rd->ended && atomic_load(&rd->written) - rd->flushed < SIDECAR_EVERY)
            pthread_cond_wait(&rd->flush_cv, &rd->mu);
        bool last = rd->ended;
        pthread_mutex_unlock(&rd->mu);
        flush_ranges(rd);
        if (last)
            return NULL;
    }
}

/* End of the contiguous downloaded prefix of the file. */
static long long ranges_prefix(struct ranged *rd)
{
    for (int i = 0; i < rd->n; i++) {
        long long d = atomic_load(&rd->r[i].done);
        if (d < rd->r[i].end - rd->r[i].start)
            return rd->r[i].start + d;
    }
    return rd->size;
}

static void *range_hasher(void *arg)
{
    static __thread unsigned char buf[1 << 20];
    struct ranged *rd = arg;
    for (;;) {
        pthread_mutex_lock(&rd->mu);
        long long upto;
        while ((upto = ranges_prefix(rd)) <= rd->hashed && !rd->ended)
            pthread_cond_wait(&rd->hash_cv, &rd->mu);
        bool last = rd->ended;
        pthread_mutex_unlock(&rd->mu);
        while (rd->hashed < upto && !rd->hash_error && !atomic_load(&rd->failed)) {
            long long want = upto - rd->hashed;
            size_t n = want < (long long)sizeof(buf) ? (size_t)want : sizeof(buf);
            ssize_t got = pread(rd->fd, buf, n, rd->hashed);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0 || chash_update(rd->h, buf, (size_t)got))
                rd->hash_error = 1;
            else
                rd->hashed += got;
        }
        if (rd->hash_error || atomic_load(&rd->failed) || (last && ranges_prefix(rd) <= rd->hashed))
            return NULL;
    }
}

static void wake(struct ranged *rd, pthread_cond_t *cv)
{
    pthread_mutex_lock(&rd->mu);
    pthread_cond_signal(cv);
    pthread_mutex_unlock(&rd->mu);
}

static size_t range_write(char *b, size_t sz, size_t n, void *arg)
{
    struct range_ctx *ctx = arg;
    struct ranged *rd = ctx->rd;
    struct range *r = &rd->r[ctx->i];
    size_t len = sz * n, off = 0;
    long long at = r->start + atomic_load(&r->done);
    if (at + (long long)len > r->end)
        return 0; /* the server sent more than asked: refuse */
    while (off < len) {
        ssize_t w = pwrite(rd->fd, b + off, len - off, at + (long long)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rd->io_error = errno ? errno : EIO;
            return 0;
        }
        off += (size_t)w;
    }
    atomic_fetch_add(&r->done, (long long)len);
    long long total = atomic_fetch_add(&rd->written, (long long)len) + (long long)len;
    if (rd->o->progress)
        atomic_fetch_add(&rd->o->progress->done, (long long)len);
    /* the helper threads are woken every few MiB, not per read */
    long long before = total - (long long)len;
    if (total / SIDECAR_EVERY != before / SIDECAR_EVERY)
        wake(rd, &rd->flush_cv);
    if (total / HASH_WAKE_EVERY != before / HASH_WAKE_EVERY)
        wake(rd, &rd->hash_cv);
    return len;
}

static void range_set(struct range *r, long long s, long long e, long long d)
{
    r->start = s;
    r->end = e;
    atomic_store(&r->done, d);
    r->durable = d;
}

/* Reads the sidecar of an earlier attempt (segments covering [0, size)), or plans fresh
 * segments for `conns` connections. Returns 1 when resumed, 0 for a fresh plan, -1 ENOMEM. */
static int load_sidecar(struct ranged *rd, long long size, int conns)
{
    long long seg = rd->o->segment > 0 ? rd->o->segment : SEGMENT_MIN;
    if (size / seg < conns)
        seg = (size + conns - 1) / conns;
    if ((size + seg - 1) / seg > MAX_SEGMENTS)
        seg = (size + MAX_SEGMENTS - 1) / MAX_SEGMENTS;
    rd->r = calloc(MAX_SEGMENTS, sizeof(*rd->r));
    rd->n = 0;
    rd->size = size;
    if (!rd->r)
        return -1;
    FILE *f = fopen(rd->sidecar, "r");
    if (f) {
        long long s, e, d;
        long long expect = 0;
        while (rd->n < MAX_SEGMENTS && fscanf(f, "%lld %lld %lld", &s, &e, &d) == 3) {
            if (s != expect || e <= s || d < 0 || d > e - s)
                break;
            range_set(&rd->r[rd->n++], s, e, d);
            expect = e;
        }
        fclose(f);
        if (expect == size && rd->n > 0)
            return 1;
    }
    rd->n = 0;
    for (long long s = 0; s < size; s += seg)
        range_set(&rd->r[rd->n++], s, s + seg < size ? s + seg : size, 0);
    return 0;
}

/* The next segment with bytes left, in file order, or -1. */
static int next_segment(struct ranged *rd)
{
    while (rd->next < rd->n) {
        int i = rd->next++;
        if (atomic_load(&rd->r[i].done) < rd->r[i].end - rd->r[i].start)
            return i;
    }
    return -1;
}

static void range_request(CURL *h, struct range_ctx *ctx)
{
    struct range *r = &ctx->rd->r[ctx->i];
    char spec[64];
    snprintf(spec, sizeof(spec), "%lld-%lld", r->start + atomic_load(&r->done), r->end - 1);
    curl_easy_setopt(h, CURLOPT_RANGE, spec);
}

/* Runs the transfers; returns 0 or -ERR_* with err set. */
static int run_ranges(const char *url, struct ranged *rd, int conns, struct error *err)
{
    const struct fetch_opts *o = rd->o;
    CURLM *m = curl_multi_init();
    CURL *h[MAX_RANGES] = {0};
    struct range_ctx ctx[MAX_RANGES];
    int active = 0, r = 0;
    if (!m)
        return error_set(err, ERR_NOMEM, "", "%s: out of memory", url);
    for (int c = 0; c < conns; c++) {
        int i = next_segment(rd);
        if (i < 0)
            break;
        ctx[c] = (struct range_ctx){rd, i};
        h[c] = curl_easy_init();
        if (!h[c]) {
            r = error_set(err, ERR_NOMEM, "", "%s: out of memory", url);
            break;
        }
        common_opts(h[c], url, o);
        range_request(h[c], &ctx[c]);
        curl_easy_setopt(h[c], CURLOPT_WRITEFUNCTION, range_write);
        curl_easy_setopt(h[c], CURLOPT_WRITEDATA, &ctx[c]);
        curl_easy_setopt(h[c], CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h[c], CURLOPT_XFERINFOFUNCTION, xferinfo);
        curl_easy_setopt(h[c], CURLOPT_XFERINFODATA, (void *)o);
        curl_easy_setopt(h[c], CURLOPT_PRIVATE, &ctx[c]);
        curl_multi_add_handle(m, h[c]);
        active++;
    }
    while (active > 0) {
        int running = 0;
        if (curl_multi_perform(m, &running) != CURLM_OK)
            break;
        if (running)
            curl_multi_poll(m, NULL, 0, 1000, NULL);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            CURL *e = msg->easy_handle;
            CURLcode res = msg->data.result;
            struct range_ctx *cx = NULL;
            long status = 0;
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
            curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&cx);
            curl_multi_remove_handle(m, e);
            active--;
            struct range *seg = &rd->r[cx->i];
            if (res != CURLE_OK && r == 0)
                r = error_set(err, rd->io_error ? ERR_IO : ERR_UNAVAILABLE, "", "%s: %s", url,
                              rd->io_error ? strerror(rd->io_error) : curl_easy_strerror(res));
            else if (res == CURLE_OK && status != 206 && r == 0)
                r = error_set(err, ERR_UNAVAILABLE, "",
                              "%s: the server answered %ld to a range request", url, status);
            else if (res == CURLE_OK && atomic_load(&seg->done) < seg->end - seg->start && r == 0)
                r = error_set(err, ERR_UNAVAILABLE, "",
                              "%s: a range ended early (%lld of %lld bytes)", url,
                              atomic_load(&seg->done), seg->end - seg->start);
            if (r)
                continue; /* no new segment after a failure: the retry resumes */
            int i = next_segment(rd);
            if (i < 0)
                continue;
            cx->i = i; /* the same connection, kept alive, fetches the next segment */
            range_request(e, cx);
            curl_multi_add_handle(m, e);
            active++;
        }
    }
    for (int c = 0; c < conns; c++)
        if (h[c]) {
            curl_multi_remove_handle(m, h[c]);
            curl_easy_cleanup(h[c]);
        }
    curl_multi_cleanup(m);
    return r;
}

/* Fetches [0, size) in parallel ranges into `part`; on success the file is on disk and hex
 * is its sha256. */
static int fetch_ranges(const char *url, const char *part, long long size,
                        const struct fetch_opts *o, char hex[65], struct error *err)
{
    struct ranged rd = {.part = part, .o = o, .fd = -1};
    int r = 0;
    snprintf(rd.sidecar, sizeof(rd.sidecar), "%s.ranges", part);
    int conns = o->ranges > MAX_RANGES ? MAX_RANGES : o->ranges;
    int resumed = load_sidecar(&rd, size, conns);
    rd.h = chash_new();
    if (resumed < 0 || !rd.h) {
        r = error_set(err, ERR_NOMEM, "", "%s: out of memory", part);
        goto out;
    }
    rd.fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC | (resumed ? 0 : O_TRUNC), 0644);
    if (rd.fd < 0) {
        r = error_set(err, ERR_IO, "", "%s: %s", part, strerror(errno));
        goto out;
    }
    if (ftruncate(rd.fd, size) < 0) {
        r = error_set(err, ERR_IO, "", "%s: cannot size to %lld bytes: %s", part, size,
                      strerror(errno));
        goto out;
    }
    pthread_mutex_init(&rd.mu, NULL);
    pthread_cond_init(&rd.flush_cv, NULL);
    pthread_cond_init(&rd.hash_cv, NULL);
    pthread_mutex_lock(&rd.mu);
    save_sidecar_locked(&rd);
    pthread_mutex_unlock(&rd.mu);
    long long already = 0;
    for (int i = 0; i < rd.n; i++)
        already += atomic_load(&rd.r[i].done);
    if (o->progress) {
        atomic_store(&o->progress->done, already);
        atomic_store(&o->progress->ranges, conns);
    }
    pthread_t flusher, hasher;
    bool flushing = pthread_create(&flusher, NULL, range_flusher, &rd) == 0;
    bool hashing = pthread_create(&hasher, NULL, range_hasher, &rd) == 0;

    r = run_ranges(url, &rd, conns, err);

    long long total = 0;
    for (int i = 0; i < rd.n; i++)
        total += atomic_load(&rd.r[i].done);
    if (r == 0 && total != size)
        r = error_set(err, ERR_UNAVAILABLE, "", "%s: transfer ended early (%lld of %lld bytes)",
                      url, total, size);
    /* the flusher's last fdatasync records what is on disk so that a retry resumes every
     * segment; meanwhile the hasher finishes from the page cache */
    pthread_mutex_lock(&rd.mu);
    rd.ended = true;
    atomic_store(&rd.failed, r != 0);
    pthread_cond_broadcast(&rd.flush_cv);
    pthread_cond_broadcast(&rd.hash_cv);
    pthread_mutex_unlock(&rd.mu);
    if (!flushing)
        flush_ranges(&rd);
    if (!hashing)
        range_hasher(&rd);
    if (flushing)
        pthread_join(flusher, NULL);
    if (hashing)
        pthread_join(hasher, NULL);
    if (r == 0 && rd.sync_error)
        r = error_set(err, ERR_IO, "", "%s: %s", part, strerror(rd.sync_error));
    if (r == 0 && (rd.hash_error || rd.hashed != size || chash_final_hex(rd.h, hex)))
        r = error_set(err, ERR_IO, "", "%s: cannot hash the downloaded file", part);
    if (r == 0 && fsync(rd.fd) < 0)
        r = error_set(err, ERR_IO, "", "%s: %s", part, strerror(errno));
    pthread_cond_destroy(&rd.hash_cv);
    pthread_cond_destroy(&rd.flush_cv);
    pthread_mutex_destroy(&rd.mu);
    if (r == 0)
        unlink(rd.sidecar);
out:
    if (rd.fd >= 0)
        close(rd.fd);
    chash_free(rd.h);
    free(rd.r);
    return r;
}

int cache_fetch(struct cstore *st, const char *url, const char *hex, const char *name,
                long long expected_size, bool pinned, const struct fetch_opts *o, int64_t now,
                struct error *err)
{
    char part[PATHLEN], sidecar[PATHLEN], got[65];
    struct cstore_entry have;
    pthread_once(&curl_once, curl_init_once);
    /* Already here under some name: link this name too, no transfer. */
    if (cstore_lookup(st, NULL, hex, &have) == 0)
        return cstore_publish(st, hex, name, have.size, pinned || have.pinned, now, err);
    cstore_partial_path(st, hex, part, sizeof(part));
    snprintf(sidecar, sizeof(sidecar), "%s.ranges", part);
    long long size = 0;
    int r;
    struct probe p = {0};
    bool is_file = !strncmp(url, "file://", 7);
    if ((!is_file && o->ranges > 1) || (!expected_size && o->reserve))
        probe(url, o, &p);
    if (is_file)
        p.ranges_ok = 0;
    long long total = expected_size ? expected_size : p.size;
    if (o->progress)
        atomic_store(&o->progress->total, total);
    if (expected_size && p.size && p.size != expected_size)
        return error_set(err, ERR_INVALID, "size",
                         "%s: the server offers %lld bytes, the configuration says %lld", url,
                         p.size, expected_size);
    if (o->reserve && total > 0 && (r = o->reserve(o->reserve_arg, total, false, err)) < 0)
        return r;
    if (!is_file && o->ranges > 1 && p.ranges_ok && total >= o->range_min && total > 0) {
        if ((r = fetch_ranges(url, part, total, o, got, err)) < 0)
            return r;
        size = total;
    } else {
        if (access(sidecar, F_OK) == 0) { /* a ranged attempt now streamed starts over */
            unlink(sidecar);
            unlink(part);
        }
        if ((r = fetch_stream(url, part, o, got, &size, err)) < 0)
            return r;
    }
    if (expected_size && size != expected_size) {
        unlink(part);
        return error_set(err, ERR_INVALID, "size", "%s: got %lld bytes, expected %lld; discarded",
                         url, size, expected_size);
    }
    if (strcmp(got, hex)) {
        unlink(part);
        unlink(sidecar);
        return error_set(err, ERR_INVALID, "sha256",
                         "%s: checksum mismatch (got sha256 %s, expected %s); discarded", url, got,
                         hex);
    }
    if (o->reserve && (r = o->reserve(o->reserve_arg, size, true, err)) < 0) {
        unlink(part);
        return r;
    }
    return cstore_publish(st, hex, name, size, pinned, now, err);
}
