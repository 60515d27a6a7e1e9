/* HTTP(S)/file downloads with resume, parallel ranges and sha256 verification. */
#include "cache/cache_fetch.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
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
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, o->connect_timeout_s > 0 ? o->connect_timeout_s : 30L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, o->low_speed_time_s > 0 ? o->low_speed_time_s : 60L);
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

/* ---- one stream ---- */

struct stream {
    int fd;
    crypto_hash_sha256_state h;
    long long written;
    int io_error;
    const struct fetch_opts *o;
};

static size_t stream_write(char *b, size_t sz, size_t n, void *arg)
{
    struct stream *s = arg;
    size_t len = sz * n, off = 0;
    while (off < len) {
        ssize_t w = write(s->fd, b + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            s->io_error = errno ? errno : EIO;
            return 0;
        }
        off += (size_t)w;
    }
    crypto_hash_sha256_update(&s->h, (unsigned char *)b, len);
    s->written += (long long)len;
    if (s->o->progress)
        atomic_fetch_add(&s->o->progress->done, (long long)len);
    return len;
}

static int hash_prefix(int fd, crypto_hash_sha256_state *h, long long len)
{
    static __thread unsigned char buf[1 << 20];
    long long off = 0;
    while (off < len) {
        size_t want = (size_t)(len - off < (long long)sizeof(buf) ? len - off : (long long)sizeof(buf));
        ssize_t n = pread(fd, buf, want, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        crypto_hash_sha256_update(h, buf, (unsigned long long)n);
        off += n;
    }
    return 0;
}

static int fetch_stream(const char *url, const char *part, const struct fetch_opts *o,
                        char hex[65], long long *ret_size, struct error *err)
{
    struct stream s = {.o = o};
    s.fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (s.fd < 0)
        return error_set(err, ERR_IO, "", "%s: %s", part, strerror(errno));
    crypto_hash_sha256_init(&s.h);
    struct stat sb;
    fstat(s.fd, &sb);
    long long have = sb.st_size;
    if (hash_prefix(s.fd, &s.h, have) < 0 || lseek(s.fd, have, SEEK_SET) < 0) {
        close(s.fd);
        unlink(part);
        return error_set(err, ERR_IO, "", "%s: cannot read the partial file", part);
    }
    if (o->progress)
        atomic_store(&o->progress->done, have);
    CURL *c = curl_easy_init();
    common_opts(c, url, o);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, stream_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, xferinfo);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)o);
    if (have > 0)
        curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)have);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    int r = 0;
    if (rc == CURLE_RANGE_ERROR || (rc == CURLE_HTTP_RETURNED_ERROR && status == 416)) {
        /* The server cannot resume here: start over next attempt. */
        ftruncate(s.fd, 0);
        r = error_set(err, ERR_UNAVAILABLE, "", "%s: the server refused to resume; restarting", url);
    } else if (have > 0 && rc == CURLE_OK && status == 200) {
        /* Range ignored: the body was the whole file appended after the prefix. */
        ftruncate(s.fd, 0);
        r = error_set(err, ERR_UNAVAILABLE, "", "%s: the server ignored the range request; restarting", url);
    } else if (rc != CURLE_OK) {
        r = error_set(err, s.io_error ? ERR_IO : ERR_UNAVAILABLE, "", "%s: %s%s%s", url,
                      s.io_error ? strerror(s.io_error) : curl_easy_strerror(rc),
                      status >= 400 ? ", HTTP status " : "", "");
        if (status >= 400)
            snprintf(err->message + strlen(err->message), sizeof(err->message) - strlen(err->message),
                     "%ld", status);
    } else if (fsync(s.fd) < 0) {
        r = error_set(err, ERR_IO, "", "%s: %s", part, strerror(errno));
    }
    if (r == 0) {
        unsigned char out[32];
        crypto_hash_sha256_final(&s.h, out);
        sodium_bin2hex(hex, 65, out, 32);
        *ret_size = have + s.written;
    }
    close(s.fd);
    return r;
}

/* ---- parallel ranges ---- */

struct range {
    long long start, end; /* [start, end) */
    long long done;       /* bytes of this range on disk */
    long long durable;    /* progress recorded in the sidecar */
};

struct ranged {
    int fd;
    const char *part;
    char sidecar[PATHLEN];
    struct range r[MAX_RANGES];
    int n;
    pthread_mutex_t mu;
    int io_error;
    const struct fetch_opts *o;
};

struct range_ctx {
    struct ranged *rd;
    int i;
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

static size_t range_write(char *b, size_t sz, size_t n, void *arg)
{
    struct range_ctx *ctx = arg;
    struct ranged *rd = ctx->rd;
    struct range *r = &rd->r[ctx->i];
    size_t len = sz * n, off = 0;
    if (r->start + r->done + (long long)len > r->end)
        return 0; /* the server sent more than asked: refuse */
    while (off < len) {
        ssize_t w = pwrite(rd->fd, b + off, len - off, r->start + r->done + (long long)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rd->io_error = errno ? errno : EIO;
            return 0;
        }
        off += (size_t)w;
    }
    r->done += (long long)len;
    if (rd->o->progress)
        atomic_fetch_add(&rd->o->progress->done, (long long)len);
    if (r->done - r->durable >= SIDECAR_EVERY) {
        fdatasync(rd->fd);
        pthread_mutex_lock(&rd->mu);
        r->durable = r->done;
        save_sidecar_locked(rd);
        pthread_mutex_unlock(&rd->mu);
    }
    return len;
}

static int load_sidecar(struct ranged *rd, long long size, int want)
{
    FILE *f = fopen(rd->sidecar, "r");
    rd->n = 0;
    if (f) {
        long long s, e, d;
        long long expect = 0;
        while (rd->n < MAX_RANGES && fscanf(f, "%lld %lld %lld", &s, &e, &d) == 3) {
            if (s != expect || e <= s || d < 0 || d > e - s)
                break;
            rd->r[rd->n++] = (struct range){s, e, d, d};
            expect = e;
        }
        fclose(f);
        if (expect == size && rd->n > 0)
            return 1;
    }
    /* fresh plan */
    rd->n = want;
    long long chunk = size / want;
    for (int i = 0; i < want; i++) {
        long long s = i * chunk, e = i == want - 1 ? size : (i + 1) * chunk;
        rd->r[i] = (struct range){s, e, 0, 0};
    }
    return 0;
}

static int fetch_ranges(const char *url, const char *part, long long size, const struct fetch_opts *o,
                        struct error *err)
{
    struct ranged rd = {.part = part, .o = o};
    snprintf(rd.sidecar, sizeof(rd.sidecar), "%s.ranges", part);
    int want = o->ranges > MAX_RANGES ? MAX_RANGES : o->ranges;
    int resumed = load_sidecar(&rd, size, want);
    rd.fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC | (resumed ? 0 : O_TRUNC), 0644);
    if (rd.fd < 0)
        return error_set(err, ERR_IO, "", "%s: %s", part, strerror(errno));
    if (ftruncate(rd.fd, size) < 0) {
        close(rd.fd);
        return error_set(err, ERR_IO, "", "%s: cannot size to %lld bytes: %s", part, size, strerror(errno));
    }
    pthread_mutex_init(&rd.mu, NULL);
    pthread_mutex_lock(&rd.mu);
    save_sidecar_locked(&rd);
    pthread_mutex_unlock(&rd.mu);
    long long already = 0;
    for (int i = 0; i < rd.n; i++)
        already += rd.r[i].done;
    if (o->progress) {
        atomic_store(&o->progress->done, already);
        atomic_store(&o->progress->ranges, rd.n);
    }

    CURLM *m = curl_multi_init();
    CURL *h[MAX_RANGES] = {0};
    struct range_ctx ctx[MAX_RANGES];
    for (int i = 0; i < rd.n; i++) {
        if (rd.r[i].done >= rd.r[i].end - rd.r[i].start)
            continue;
        char spec[64];
        snprintf(spec, sizeof(spec), "%lld-%lld", rd.r[i].start + rd.r[i].done, rd.r[i].end - 1);
        ctx[i] = (struct range_ctx){&rd, i};
        h[i] = curl_easy_init();
        common_opts(h[i], url, o);
        curl_easy_setopt(h[i], CURLOPT_RANGE, spec);
        curl_easy_setopt(h[i], CURLOPT_WRITEFUNCTION, range_write);
        curl_easy_setopt(h[i], CURLOPT_WRITEDATA, &ctx[i]);
        curl_easy_setopt(h[i], CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h[i], CURLOPT_XFERINFOFUNCTION, xferinfo);
        curl_easy_setopt(h[i], CURLOPT_XFERINFODATA, (void *)o);
        curl_easy_setopt(h[i], CURLOPT_PRIVATE, &ctx[i]);
        curl_multi_add_handle(m, h[i]);
    }
    int running = 1, r = 0;
    while (running) {
        if (curl_multi_perform(m, &running) != CURLM_OK)
            break;
        if (running)
            curl_multi_poll(m, NULL, 0, 1000, NULL);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            long status = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
            if (msg->data.result != CURLE_OK && r == 0)
                r = error_set(err, rd.io_error ? ERR_IO : ERR_UNAVAILABLE, "", "%s: %s", url,
                              rd.io_error ? strerror(rd.io_error) : curl_easy_strerror(msg->data.result));
            else if (msg->data.result == CURLE_OK && status != 206 && r == 0)
                r = error_set(err, ERR_UNAVAILABLE, "", "%s: the server answered %ld to a range request",
                              url, status);
        }
    }
    for (int i = 0; i < rd.n; i++)
        if (h[i]) {
            curl_multi_remove_handle(m, h[i]);
            curl_easy_cleanup(h[i]);
        }
    curl_multi_cleanup(m);
    /* record what is on disk so a retry resumes every range */
    fdatasync(rd.fd);
    pthread_mutex_lock(&rd.mu);
    long long total = 0;
    for (int i = 0; i < rd.n; i++) {
        rd.r[i].durable = rd.r[i].done;
        total += rd.r[i].done;
    }
    save_sidecar_locked(&rd);
    pthread_mutex_unlock(&rd.mu);
    pthread_mutex_destroy(&rd.mu);
    if (r == 0 && total != size)
        r = error_set(err, ERR_UNAVAILABLE, "", "%s: transfer ended early (%lld of %lld bytes)", url, total, size);
    if (r == 0 && fsync(rd.fd) < 0)
        r = error_set(err, ERR_IO, "", "%s: %s", part, strerror(errno));
    close(rd.fd);
    if (r == 0)
        unlink(rd.sidecar);
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
    if (!is_file && o->ranges > 1)
        probe(url, o, &p);
    long long total = expected_size ? expected_size : p.size;
    if (o->progress)
        atomic_store(&o->progress->total, total);
    if (expected_size && p.size && p.size != expected_size)
        return error_set(err, ERR_INVALID, "size", "%s: the server offers %lld bytes, the configuration says %lld",
                         url, p.size, expected_size);
    if (!is_file && o->ranges > 1 && p.ranges_ok && total >= o->range_min && total > 0) {
        if ((r = fetch_ranges(url, part, total, o, err)) < 0)
            return r;
        size = total;
        if ((r = sha256_file(part, got, err)) < 0)
            return r;
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
        return error_set(err, ERR_INVALID, "size", "%s: got %lld bytes, expected %lld; discarded", url,
                         size, expected_size);
    }
    if (strcmp(got, hex)) {
        unlink(part);
        unlink(sidecar);
        return error_set(err, ERR_INVALID, "sha256", "%s: checksum mismatch (got sha256 %s, expected %s); discarded",
                         url, got, hex);
    }
    return cstore_publish(st, hex, name, size, pinned, now, err);
}
