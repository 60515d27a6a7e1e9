/* GPU telemetry: scrapes the DCGM exporter (reconciler.dcgm_url) every
 * reconciler.dcgm_interval_seconds, maps the samples to ACTIVE sessions by namespace and adds
 * their measured and busy time to the store (core/activity.c does the arithmetic).
 *
 * DESIGN: the HTTP request runs in a thread of its own (one at a time, with a hard time
 * limit, reconciler.dcgm_timeout_seconds, and a body limit), so a slow or hostile endpoint
 * never delays provisioning and cannot make us allocate without bound. The thread only
 * fetches; the reconciler's own thread parses the answer and writes the store, between
 * passes, so the store connection is never shared and only the leader records anything.
 * `gpuaas reconciler --once` scrapes inline. A failed scrape is logged, counted and
 * published (kv "dcgm", exported by the server's /metrics); it never stops the reconciler.
 * The URL may carry credentials: it is logged without its user information and query. */
#include "common/log.h"
#include "common/strbuf.h"
#include "common/timeutil.h"
#include "core/activity.h"
#include "reconciler/rec_internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DCGM_MAX_BODY (16L << 20)
#define DCGM_MAX_SESSIONS 4096
#define DCGM_MAX_TOKEN 8192

/* The scrape thread and the one answer it hands over. Everything below `mu` is guarded by
 * it; `curl` belongs to the thread. */
struct dcgm_worker {
    const struct config *cfg;
    CURL *curl;
    atomic_bool abort; /* read by libcurl's progress callback */
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, requested, ready;
    unsigned gen;        /* bumped by rec_dcgm_drop: a fetch begun before is discarded */
    struct sb_body body; /* the answer, when ready */
    int64_t fetch_mono;  /* when the fetch that gave it began: monotonic ms */
    int64_t fetch_at;    /* and real-clock seconds */
    bool ok;
    char reason[256];
};

/* scheme://host[:port]/path of url, as libcurl parses it: no user information, no query or
 * fragment. "(unparsable URL)" when libcurl cannot parse it. */
static void redact_url(const char *url, char *out, size_t size)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        curl_url_get(u, CURLUPART_PORT, &port, 0);
        curl_url_get(u, CURLUPART_PATH, &path, 0);
        snprintf(out, size, "%s://%s%s%s%s", scheme, host, port ? ":" : "", port ? port : "",
                 path ? path : "");
    } else {
        snprintf(out, size, "(unparsable URL)");
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_url_cleanup(u);
}

static bool enabled(const struct rec *rc)
{
    return rc->cfg->reconciler.dcgm_url && rc->cfg->reconciler.dcgm_url[0];
}

int64_t rec_dcgm_due_ms(const struct rec *rc)
{
    if (!enabled(rc))
        return -1;
    if (!rc->dcgm_last_mono)
        return 0;
    int64_t due =
        rc->dcgm_last_mono + rc->cfg->reconciler.dcgm_interval_seconds * 1000 - time_mono_ms();
    return due > 0 ? due : 0;
}

/* Reads the bearer token file into tok (trailing white space removed). 0, or -1 with why. */
static int read_token(const char *path, char *tok, size_t size, char *reason, size_t rsize)
{
    char *text = NULL;
    size_t n = 0;
    int r = read_file(path, size - 1, &text, &n, NULL);
    if (r == -ERR_TOO_LARGE) {
        snprintf(reason, rsize, "reconciler.dcgm_token_file is larger than %zu bytes", size - 1);
        return -1;
    }
    if (r < 0) {
        snprintf(reason, rsize, "cannot open reconciler.dcgm_token_file");
        return -1;
    }
    memcpy(tok, text, n + 1);
    explicit_bzero(text, n);
    free(text);
    while (n > 0 &&
           (tok[n - 1] == '\n' || tok[n - 1] == '\r' || tok[n - 1] == ' ' || tok[n - 1] == '\t'))
        n--;
    tok[n] = 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)tok[i] <= ' ' || tok[i] == 0x7f) {
            snprintf(reason, rsize, "reconciler.dcgm_token_file holds more than one token");
            return -1;
        }
    if (!n) {
        snprintf(reason, rsize, "reconciler.dcgm_token_file is empty");
        return -1;
    }
    return 0;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    const atomic_bool *abort_ = ud;
    return abort_ && atomic_load(abort_) ? 1 : 0;
}

/* GETs the URL into *b with the handle *curl (created on first use). 0, or -1 with why (no
 * secret in it) written to reason. The transfer stops early when *abort_ becomes true. */
static int fetch(const struct config *cfg, CURL **curl, atomic_bool *abort_, struct sb_body *b,
                 char *reason, size_t rsize)
{
    if (!*curl && !(*curl = curl_easy_init())) {
        snprintf(reason, rsize, "cannot create an HTTP client");
        return -1;
    }
    CURL *c = *curl;
    const char *token_file = cfg->reconciler.dcgm_token_file;
    char token[DCGM_MAX_TOKEN], auth[DCGM_MAX_TOKEN + 32];
    /* Read at every scrape: projected service-account tokens are rotated on disk. */
    if (token_file && token_file[0] && read_token(token_file, token, sizeof(token), reason, rsize))
        return -1;
    long timeout_ms = cfg->reconciler.dcgm_timeout_seconds * 1000;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, cfg->reconciler.dcgm_url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 2000 ? timeout_ms : 2000L);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)DCGM_MAX_BODY);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sb_body_curl_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, abort_);
    if (cfg->reconciler.dcgm_ca_file && cfg->reconciler.dcgm_ca_file[0])
        curl_easy_setopt(c, CURLOPT_CAINFO, cfg->reconciler.dcgm_ca_file);
    struct curl_slist *h = curl_slist_append(NULL, "Accept: text/plain;version=0.0.4");
    if (h && token_file && token_file[0]) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        struct curl_slist *h2 = curl_slist_append(h, auth);
        if (h2)
            h = h2;
        explicit_bzero(auth, sizeof(auth));
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    CURLcode cc = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(h);
    explicit_bzero(token, sizeof(token));
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (b->too_large || cc == CURLE_FILESIZE_EXCEEDED) {
        snprintf(reason, rsize, "answer larger than %ld bytes", DCGM_MAX_BODY);
        return -1;
    }
    if (cc != CURLE_OK) {
        snprintf(reason, rsize, "%s", curl_easy_strerror(cc));
        return -1;
    }
    if (status != 200) {
        snprintf(reason, rsize, "HTTP status %ld", status);
        return -1;
    }
    return 0;
}

/* The ACTIVE sessions with a namespace, as act_session rows. */
static int active_sessions(struct rec *rc, struct act_session **ret, size_t *ret_n)
{
    struct res_filter f = {.state = RS_ACTIVE, .limit = DCGM_MAX_SESSIONS};
    struct reservation *rs = NULL;
    size_t n = 0, k = 0;
    int e = store_reservation_list(rc->st, &f, &rs, &n);
    if (e)
        return e;
    struct act_session *v = calloc(n ? n : 1, sizeof(*v));
    if (!v) {
        free(rs);
        return -ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (!rs[i].session.namespace_[0])
            continue;
        struct act_session *s = &v[k++];
        s->id = rs[i].id;
        snprintf(s->namespace_, sizeof(s->namespace_), "%s", rs[i].session.namespace_);
        snprintf(s->resource, sizeof(s->resource), "%s", rs[i].gpu_type);
        s->units = rs[i].gpu_count;
        s->starts_at = rs[i].starts_at;
        s->ends_at = rs[i].ends_at;
    }
    free(rs);
    *ret = v;
    *ret_n = k;
    return 0;
}

/* kv "dcgm": counters and times for the server's /metrics. */
static void publish(struct rec *rc, int64_t now, const char *reason)
{
    if (reason)
        rc->dcgm_last_failure_at = now;
    else
        rc->dcgm_last_success_at = now;
    json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:s}", "scrapes", (json_int_t)rc->stats.dcgm_scrapes,
                          "failures", (json_int_t)rc->stats.dcgm_failures, "last_success_at",
                          (json_int_t)rc->dcgm_last_success_at, "last_failure_at",
                          (json_int_t)rc->dcgm_last_failure_at, "last_error", reason ? reason : "");
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (s) {
        int e = store_kv_set(rc->st, REC_KV_DCGM, s, now);
        if (e)
            log_warn("cannot publish DCGM scrape counters", "code=%s", error_code_name(-e));
    }
    free(s);
}

/* Records one scrape's answer: b is the body of a fetch begun at fetch_mono (monotonic ms)
 * and `now` (test-clock seconds) when ok, else `why` says why it failed. */
static void record(struct rec *rc, int64_t now, const struct sb_body *b, int64_t fetch_mono,
                   bool ok, const char *why)
{
    struct prom_samples samples = {0};
    struct act_session *sess = NULL;
    struct act_delta *deltas = NULL;
    size_t n_sess = 0;
    char reason[256] = "", where[512];
    int64_t credit = act_credit_ms(rc->dcgm_last_ok_mono, fetch_mono,
                                   rc->cfg->reconciler.dcgm_interval_seconds * 1000);
    rc->stats.dcgm_scrapes++;
    redact_url(rc->cfg->reconciler.dcgm_url, where, sizeof(where));
    if (!ok) {
        snprintf(reason, sizeof(reason), "%s", why);
        goto failed;
    }
    if (prom_parse(b->sb.buf, b->sb.len, &samples) < 0) {
        snprintf(reason, sizeof(reason), "out of memory parsing the answer");
        goto failed;
    }
    rc->dcgm_last_ok_mono = fetch_mono;
    int e = active_sessions(rc, &sess, &n_sess);
    if (e) {
        log_error("cannot list ACTIVE sessions for GPU activity", "code=%s", error_code_name(-e));
        goto out;
    }
    deltas = calloc(n_sess ? n_sess : 1, sizeof(*deltas));
    int nd = deltas ? act_measure(&samples, sess, n_sess, now, credit, deltas) : -ERR_NOMEM;
    if (nd < 0) {
        log_error("cannot compute GPU activity", "code=%s", error_code_name(-nd));
        goto out;
    }
    int stored = 0;
    for (int i = 0; i < nd; i++) {
        const struct act_delta *d = &deltas[i];
        if (d->measured_ms <= 0)
            continue;
        e = store_activity_add(rc->st, d->id, d->resource, now, d->measured_ms, d->busy_ms,
                               d->fb_used_mib);
        if (e) {
            log_error("cannot record GPU activity", "reservation=%" PRId64 " code=%s", d->id,
                      error_code_name(-e));
        } else {
            stored++;
            int units = 1;
            for (size_t j = 0; j < n_sess; j++)
                if (sess[j].id == d->id)
                    units = sess[j].units;
            rec_note_gpu_use(rc, d->resource, (double)d->measured_ms * units / 1000.0,
                             (double)d->busy_ms * units / 1000.0);
        }
        log_debug("GPU activity",
                  "reservation=%" PRId64 " devices=%d busy=%.3f fb_used_mib=%" PRId64
                  " measured_ms=%" PRId64,
                  d->id, d->devices, d->busy_fraction, d->fb_used_mib, d->measured_ms);
    }
    log_debug("DCGM scrape", "url=%s samples=%d skipped=%d dropped=%d sessions=%zu measured=%d",
              where, samples.n, samples.skipped, samples.dropped, n_sess, stored);
    publish(rc, now, NULL);
    goto out;
failed:
    rc->stats.dcgm_failures++;
    log_warn("DCGM scrape failed", "url=%s error=\"%s\" failures=%lu", where, reason,
             rc->stats.dcgm_failures);
    publish(rc, now, reason);
out:
    free(deltas);
    free(sess);
    prom_samples_free(&samples);
}

static void *worker_main(void *arg)
{
    struct dcgm_worker *w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        if (!w->requested) {
            pthread_cond_wait(&w->cv, &w->mu);
            continue;
        }
        w->requested = false;
        unsigned gen = w->gen;
        pthread_mutex_unlock(&w->mu);
        struct sb_body b = SB_BODY_INIT(DCGM_MAX_BODY);
        char reason[256] = "";
        int64_t mono = time_mono_ms(), at = time_now();
        bool ok = fetch(w->cfg, &w->curl, &w->abort, &b, reason, sizeof(reason)) == 0;
        pthread_mutex_lock(&w->mu);
        if (gen != w->gen) { /* begun before leadership was lost */
            sb_release(&b.sb);
            continue;
        }
        sb_release(&w->body.sb); /* an answer nobody took: the newer one replaces it */
        w->body = b;
        w->fetch_mono = mono;
        w->fetch_at = at;
        w->ok = ok;
        snprintf(w->reason, sizeof(w->reason), "%s", reason);
        w->ready = true;
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static struct dcgm_worker *worker_start(struct rec *rc)
{
    struct dcgm_worker *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->cfg = rc->cfg;
    w->body = (struct sb_body)SB_BODY_INIT(DCGM_MAX_BODY);
    atomic_init(&w->abort, false);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT); /* not thread-safe: here, before the thread */
    int e = pthread_create(&w->thread, NULL, worker_main, w);
    if (e) {
        errno = e;
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        free(w);
        return NULL;
    }
    w->started = true;
    return w;
}

void rec_dcgm_free(struct rec *rc)
{
    struct dcgm_worker *w = rc->dcgm;
    if (!w)
        return;
    atomic_store(&w->abort, true);
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (w->started)
        pthread_join(w->thread, NULL);
    if (w->curl)
        curl_easy_cleanup(w->curl);
    sb_release(&w->body.sb);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
    rc->dcgm = NULL;
}

void rec_dcgm_drop(struct rec *rc)
{
    struct dcgm_worker *w = rc->dcgm;
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    if (w->ready) {
        sb_release(&w->body.sb);
        w->body = (struct sb_body)SB_BODY_INIT(DCGM_MAX_BODY);
        w->ready = false;
    }
    w->requested = false;
    w->gen++;
    pthread_mutex_unlock(&w->mu);
}

bool rec_dcgm_ready(struct rec *rc)
{
    struct dcgm_worker *w = rc->dcgm;
    if (!w)
        return false;
    pthread_mutex_lock(&w->mu);
    bool r = w->ready;
    pthread_mutex_unlock(&w->mu);
    return r;
}

void rec_dcgm_pass(struct rec *rc, int64_t now)
{
    if (!enabled(rc))
        return;
    struct dcgm_worker *w = rc->dcgm;
    if (w) {
        struct sb_body b = SB_BODY_INIT(DCGM_MAX_BODY);
        int64_t mono = 0, at = 0;
        bool ok = false, ready;
        char why[sizeof(w->reason)];
        pthread_mutex_lock(&w->mu);
        ready = w->ready;
        if (ready) {
            b = w->body;
            w->body = (struct sb_body)SB_BODY_INIT(DCGM_MAX_BODY);
            mono = w->fetch_mono;
            at = w->fetch_at + rc->offset;
            ok = w->ok;
            memcpy(why, w->reason, sizeof(why));
            w->ready = false;
        }
        pthread_mutex_unlock(&w->mu);
        /* Answers pending when leadership was lost are dropped then (rec_dcgm_drop); an
         * answer this old (a scrape stuck past its limits) no longer describes the interval
         * it would be credited to: drop it too. */
        if (ready && time_mono_ms() - mono > 2 * rc->cfg->reconciler.dcgm_interval_seconds * 1000 +
                                                 rc->cfg->reconciler.dcgm_timeout_seconds * 1000)
            log_debug("DCGM answer too old, dropped", "age_ms=%" PRId64, time_mono_ms() - mono);
        else if (ready)
            record(rc, at, &b, mono, ok, why);
        sb_release(&b.sb);
    }
    if (rec_dcgm_due_ms(rc) > 0)
        return;
    int64_t mono = time_mono_ms();
    rc->dcgm_last_mono = mono;
    if (!rc->dcgm_async) {
        struct sb_body b = SB_BODY_INIT(DCGM_MAX_BODY);
        char reason[256] = "";
        CURL *c = NULL;
        curl_global_init(CURL_GLOBAL_DEFAULT);
        bool ok = fetch(rc->cfg, &c, NULL, &b, reason, sizeof(reason)) == 0;
        if (c)
            curl_easy_cleanup(c);
        record(rc, now, &b, mono, ok, reason);
        sb_release(&b.sb);
        return;
    }
    if (!w && !(w = rc->dcgm = worker_start(rc))) {
        log_error("cannot start the DCGM scrape thread", "errno=%d", errno);
        return;
    }
    pthread_mutex_lock(&w->mu);
    w->requested = true; /* a fetch still running picks this up when it ends */
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}
