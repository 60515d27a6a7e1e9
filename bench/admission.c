/* bench_admission: drives a running gpuaas server over HTTP and measures booking admission
 * and the capacity query.
 *
 * Phase 1 (admission): N client threads, each with one keep-alive libcurl handle, book R
 * short windows each on the GPU resources (count 1, cpu/memory 1, storage BENCH_STORAGE_GIB),
 * some adjacent
 * and many overlapping, so that part of them are refused with 409. Reports admitted
 * bookings/s over the phase's wall time, p50/p99 latency of every request, and the 409s.
 * Phase 2 (verification): lists every booking as admin and sweeps their end points per
 * resource: the sum at every instant must stay within the pool's physical units (zero
 * double-bookings), and the count must match what the clients saw admitted.
 * Phase 3 (capacity): fills the database up to --total bookings (5-minute windows packed
 * into one week), then times GET /api/v1/capacity for that week at 1-hour steps.
 * The last line is machine-readable: RESULT key=value ... */
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CLIENTS 256
#define SLOT_SECONDS 900 /* admission windows start on 15-minute boundaries */
#define FILL_SLOT 300    /* capacity fill: 5-minute windows */

struct opts {
    const char *server, *username, *password;
    int clients, requests, capacity_queries;
    long total;
    long slots; /* admission: number of 15-minute start slots */
};

struct resource {
    char name[64];
    long physical;
};

struct shared {
    const struct opts *o;
    char auth[512];
    int64_t base;      /* admission phase region start */
    int64_t fill_base; /* capacity fill week start */
    struct resource gpus[8];
    int ngpus;
    /* fill phase: next slot index handed out */
    pthread_mutex_t mu;
    long fill_next, fill_limit;
};

struct worker {
    struct shared *sh;
    int id;
    unsigned seed;
    double *lat_ms;
    size_t nlat, caplat;
    long admitted, conflicts, other;
};

struct buf {
    char *d;
    size_t n;
};

static size_t on_data(char *p, size_t s, size_t n, void *u)
{
    struct buf *b = u;
    size_t len = s * n;
    char *d = realloc(b->d, b->n + len + 1);
    if (!d)
        return 0;
    memcpy(d + b->n, p, len);
    b->d = d;
    b->n += len;
    d[b->n] = '\0';
    return len;
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void fmt_time(int64_t t, char *buf, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int64_t parse_time(const char *s)
{
    struct tm tm = {0};
    if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
        return 0;
    return (int64_t)timegm(&tm);
}

/* One request on handle h; returns the HTTP status (0 on transport error), body in *out. */
static long request(CURL *h, const struct shared *sh, const char *method, const char *path,
                    const char *body, struct buf *out)
{
    char url[1024];
    snprintf(url, sizeof(url), "%s%s", sh->o->server, path);
    struct curl_slist *hdr = NULL;
    hdr = curl_slist_append(hdr, "Content-Type: application/json");
    if (sh->auth[0])
        hdr = curl_slist_append(hdr, sh->auth);
    out->n = 0;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    long status = 0;
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdr);
    return status;
}

static void record(struct worker *w, double ms)
{
    if (w->nlat == w->caplat) {
        w->caplat = w->caplat ? w->caplat * 2 : 1024;
        w->lat_ms = realloc(w->lat_ms, w->caplat * sizeof(double));
        if (!w->lat_ms) {
            fprintf(stderr, "bench_admission: out of memory\n");
            exit(1);
        }
    }
    w->lat_ms[w->nlat++] = ms;
}

/* The least storage a booking may ask for with config/gpuaas.example.yaml: the home (20 GiB)
 * and model-cache (300 GiB) volumes every session mounts; the server refuses less. */
#define BENCH_STORAGE_GIB 320

static long book(CURL *h, struct worker *w, const char *type, int64_t s, int64_t e, struct buf *out)
{
    char body[512], sb[32], eb[32];
    fmt_time(s, sb, sizeof(sb));
    fmt_time(e, eb, sizeof(eb));
    snprintf(body, sizeof(body),
             "{\"gpu_type\":\"%s\",\"gpu_count\":1,\"mode\":\"inference\",\"starts_at\":\"%s\","
             "\"ends_at\":\"%s\",\"cpu\":1,\"memory_gib\":1,\"storage_gib\":%d,\"purpose\":"
             "\"bench\"}",
             type, sb, eb, BENCH_STORAGE_GIB);
    double t0 = mono_ms();
    long st = request(h, w->sh, "POST", "/api/v1/reservations", body, out);
    record(w, mono_ms() - t0);
    if (st == 201)
        w->admitted++;
    else if (st == 409)
        w->conflicts++;
    else {
        if (w->other < 3)
            fprintf(stderr, "bench_admission: unexpected HTTP %ld: %.200s\n", st,
                    out->d ? out->d : "");
        w->other++;
    }
    return st;
}

static void *admission_worker(void *arg)
{
    struct worker *w = arg;
    struct shared *sh = w->sh;
    CURL *h = curl_easy_init();
    struct buf out = {0};
    for (int i = 0; i < sh->o->requests; i++) {
        /* 4 of 5 requests on the first GPU type (usually MIG, more units), lengths of one or
         * two slots: neighbours touch, longer ones overlap. */
        int g = sh->ngpus > 1 && rand_r(&w->seed) % 5 == 0 ? 1 : 0;
        long slot = rand_r(&w->seed) % sh->o->slots;
        int len = 1 + rand_r(&w->seed) % 2;
        int64_t s = sh->base + slot * SLOT_SECONDS;
        book(h, w, sh->gpus[g].name, s, s + (int64_t)len * SLOT_SECONDS, &out);
    }
    free(out.d);
    curl_easy_cleanup(h);
    return NULL;
}

/* Fill: every 5-minute slot of the fill week takes each GPU type's physical units, one
 * booking each, until fill_limit bookings are handed out. */
static void *fill_worker(void *arg)
{
    struct worker *w = arg;
    struct shared *sh = w->sh;
    long per_slot = 0;
    for (int g = 0; g < sh->ngpus; g++)
        per_slot += sh->gpus[g].physical;
    CURL *h = curl_easy_init();
    struct buf out = {0};
    for (;;) {
        pthread_mutex_lock(&sh->mu);
        long k = sh->fill_next < sh->fill_limit ? sh->fill_next++ : -1;
        pthread_mutex_unlock(&sh->mu);
        if (k < 0)
            break;
        long slot = k / per_slot, r = k % per_slot;
        int g = 0;
        while (r >= sh->gpus[g].physical)
            r -= sh->gpus[g++].physical;
        int64_t s = sh->fill_base + slot * FILL_SLOT;
        book(h, w, sh->gpus[g].name, s, s + FILL_SLOT, &out);
    }
    free(out.d);
    curl_easy_cleanup(h);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(double *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i];
}

/* Runs fn on n workers; returns wall milliseconds and merges their counts into *sum. */
static double run_workers(struct shared *sh, int n, void *(*fn)(void *), struct worker *sum)
{
    struct worker w[MAX_CLIENTS];
    pthread_t th[MAX_CLIENTS];
    memset(w, 0, sizeof(w));
    double t0 = mono_ms();
    for (int i = 0; i < n; i++) {
        w[i].sh = sh;
        w[i].id = i;
        w[i].seed = 12345u + (unsigned)i * 7919u;
        pthread_create(&th[i], NULL, fn, &w[i]);
    }
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    double wall = mono_ms() - t0;
    memset(sum, 0, sizeof(*sum));
    for (int i = 0; i < n; i++) {
        sum->admitted += w[i].admitted;
        sum->conflicts += w[i].conflicts;
        sum->other += w[i].other;
        for (size_t j = 0; j < w[i].nlat; j++)
            record(sum, w[i].lat_ms[j]);
        free(w[i].lat_ms);
    }
    qsort(sum->lat_ms, sum->nlat, sizeof(double), cmp_double);
    return wall;
}

struct point {
    int64_t t;
    int res; /* index: gpus..., then cpu, memory, storage */
    long delta;
};

static int cmp_point(const void *a, const void *b)
{
    const struct point *x = a, *y = b;
    if (x->res != y->res)
        return x->res - y->res;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return (x->delta > y->delta) - (x->delta < y->delta); /* ends before starts */
}

struct booking {
    long long id;
    int64_t s, e;
    int g;
    long amt[4]; /* gpu_count, cpu, memory_gib, storage_gib */
};

struct booking_list {
    struct booking *v;
    size_t n, cap;
};

/* Appends the bookings of one state overlapping [from, to) to bl. The server answers at most
 * LIST_LIMIT items, so a full page is split in two halves. 0, or -1 on failure. */
#define LIST_LIMIT 1000
static int fetch(struct shared *sh, CURL *h, const char *state, int64_t from, int64_t to,
                 struct booking_list *bl)
{
    char path[256], fb[32], tb[32];
    fmt_time(from, fb, sizeof(fb));
    fmt_time(to, tb, sizeof(tb));
    snprintf(path, sizeof(path), "/api/v1/reservations?state=%s&from=%s&to=%s&limit=%d", state, fb,
             tb, LIST_LIMIT);
    struct buf out = {0};
    long st = request(h, sh, "GET", path, NULL, &out);
    json_t *j = st == 200 ? json_loads(out.d, 0, NULL) : NULL;
    free(out.d);
    if (!j) {
        fprintf(stderr, "bench_admission: listing reservations failed (HTTP %ld)\n", st);
        return -1;
    }
    json_t *items = json_object_get(j, "items");
    if (json_array_size(items) >= LIST_LIMIT && to - from > 60) {
        json_decref(j);
        int64_t mid = from + (to - from) / 2;
        return fetch(sh, h, state, from, mid, bl) < 0 ? -1 : fetch(sh, h, state, mid, to, bl);
    }
    size_t i;
    json_t *r;
    json_array_foreach(items, i, r)
    {
        const char *type = json_string_value(json_object_get(r, "gpu_type"));
        int g = -1;
        for (int k = 0; k < sh->ngpus; k++)
            if (type && !strcmp(type, sh->gpus[k].name))
                g = k;
        if (g < 0)
            continue;
        if (bl->n == bl->cap) {
            bl->cap = bl->cap ? bl->cap * 2 : 4096;
            bl->v = realloc(bl->v, bl->cap * sizeof(*bl->v));
            if (!bl->v)
                exit(1);
        }
        struct booking *b = &bl->v[bl->n++];
        b->id = (long long)json_integer_value(json_object_get(r, "id"));
        b->s = parse_time(json_string_value(json_object_get(r, "starts_at")));
        b->e = parse_time(json_string_value(json_object_get(r, "ends_at")));
        b->g = g;
        b->amt[0] = (long)json_integer_value(json_object_get(r, "gpu_count"));
        b->amt[1] = (long)json_integer_value(json_object_get(r, "cpu"));
        b->amt[2] = (long)json_integer_value(json_object_get(r, "memory_gib"));
        b->amt[3] = (long)json_integer_value(json_object_get(r, "storage_gib"));
    }
    json_decref(j);
    return 0;
}

static int cmp_booking(const void *a, const void *b)
{
    const struct booking *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

/* Lists every booking in [from, to) that holds capacity (APPROVED, ACTIVE; split into pages
 * of at most LIST_LIMIT, duplicates at page edges removed) and sweeps their end points per
 * resource. Returns the number of instants where a resource is over its physical units, -1
 * when listing failed; *ret_n the distinct bookings seen. */
static long verify(struct shared *sh, CURL *h, const long *limits, int nres, int64_t from,
                   int64_t to, long *ret_n)
{
    struct booking_list bl = {0};
    if (fetch(sh, h, "APPROVED", from, to, &bl) < 0 || fetch(sh, h, "ACTIVE", from, to, &bl) < 0) {
        free(bl.v);
        return -1;
    }
    qsort(bl.v, bl.n, sizeof(*bl.v), cmp_booking);
    size_t m = 0;
    for (size_t i = 0; i < bl.n; i++)
        if (m == 0 || bl.v[i].id != bl.v[m - 1].id)
            bl.v[m++] = bl.v[i];
    struct point *pts = malloc((m * 8 + 1) * sizeof(*pts));
    if (!pts)
        exit(1);
    size_t npts = 0;
    for (size_t i = 0; i < m; i++) {
        const struct booking *b = &bl.v[i];
        int idx[4] = {b->g, sh->ngpus, sh->ngpus + 1, sh->ngpus + 2};
        for (int k = 0; k < 4; k++) {
            pts[npts++] = (struct point){b->s, idx[k], b->amt[k]};
            pts[npts++] = (struct point){b->e, idx[k], -b->amt[k]};
        }
    }
    qsort(pts, npts, sizeof(*pts), cmp_point);
    long over = 0, level = 0;
    for (size_t i = 0; i < npts; i++) {
        if (i == 0 || pts[i].res != pts[i - 1].res)
            level = 0;
        level += pts[i].delta;
        if (pts[i].res < nres && level > limits[pts[i].res])
            over++;
    }
    free(pts);
    free(bl.v);
    *ret_n = (long)m;
    return over;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_admission --server URL --username U --password P [--clients N]\n"
            "       [--requests R] [--slots S] [--total BOOKINGS] [--capacity-queries Q]\n"
            "Drives a running gpuaas server: concurrent admission, a double-booking check,\n"
            "and GET /api/v1/capacity for one week at 1-hour steps with --total bookings.\n");
}

int main(int argc, char **argv)
{
    struct opts o = {.server = "http://127.0.0.1:8080",
                     .username = "admin",
                     .password = NULL,
                     .clients = 16,
                     .requests = 200,
                     .capacity_queries = 300,
                     .total = 10000,
                     .slots = 1600};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name) (!strcmp(a, name) && v && (i++, 1))
        if (OPT("--server"))
            o.server = v;
        else if (OPT("--username"))
            o.username = v;
        else if (OPT("--password"))
            o.password = v;
        else if (OPT("--clients"))
            o.clients = atoi(v);
        else if (OPT("--requests"))
            o.requests = atoi(v);
        else if (OPT("--slots"))
            o.slots = atol(v);
        else if (OPT("--total"))
            o.total = atol(v);
        else if (OPT("--capacity-queries"))
            o.capacity_queries = atoi(v);
        else {
            usage();
            return 2;
        }
#undef OPT
    }
    if (!o.password || o.clients < 1 || o.clients > MAX_CLIENTS || o.requests < 1 || o.slots < 1 ||
        o.total < 0 || o.capacity_queries < 1) {
        usage();
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    static struct shared sh;
    sh.o = &o;
    pthread_mutex_init(&sh.mu, NULL);
    CURL *h = curl_easy_init();
    struct buf out = {0};

    /* Login. */
    json_t *lb = json_pack("{s:s,s:s}", "username", o.username, "password", o.password);
    char *lbs = json_dumps(lb, JSON_COMPACT);
    json_decref(lb);
    long st = request(h, &sh, "POST", "/api/v1/auth/login", lbs, &out);
    free(lbs);
    json_t *j = st == 200 ? json_loads(out.d, 0, NULL) : NULL;
    const char *tok = json_string_value(json_object_get(j, "token"));
    if (!tok) {
        fprintf(stderr, "bench_admission: login failed (HTTP %ld)\n", st);
        return 1;
    }
    snprintf(sh.auth, sizeof(sh.auth), "Authorization: Bearer %s", tok);
    json_decref(j);

    /* Pool: the GPU resources and cpu/memory/storage limits. */
    long limits[11] = {0};
    st = request(h, &sh, "GET", "/api/v1/pool", NULL, &out);
    j = st == 200 ? json_loads(out.d, 0, NULL) : NULL;
    size_t i;
    json_t *r;
    long other_limits[3] = {0};
    json_array_foreach(json_object_get(j, "resources"), i, r)
    {
        const char *kind = json_string_value(json_object_get(r, "kind"));
        const char *name = json_string_value(json_object_get(r, "name"));
        long phys = (long)json_integer_value(json_object_get(r, "physical"));
        if (!kind || !name)
            continue;
        if ((!strcmp(kind, "gpu") || !strcmp(kind, "mig")) && sh.ngpus < 8) {
            snprintf(sh.gpus[sh.ngpus].name, sizeof(sh.gpus[0].name), "%s", name);
            sh.gpus[sh.ngpus++].physical = phys;
        } else if (!strcmp(kind, "cpu"))
            other_limits[0] = phys;
        else if (!strcmp(kind, "memory"))
            other_limits[1] = phys;
        else if (!strcmp(kind, "storage"))
            other_limits[2] = phys;
    }
    json_decref(j);
    if (sh.ngpus == 0) {
        fprintf(stderr, "bench_admission: the pool has no GPU resources (HTTP %ld)\n", st);
        return 1;
    }
    /* The resource with the most units first: it takes 4 of 5 admission requests. */
    for (int a = 1; a < sh.ngpus; a++)
        if (sh.gpus[a].physical > sh.gpus[0].physical) {
            struct resource t = sh.gpus[0];
            sh.gpus[0] = sh.gpus[a];
            sh.gpus[a] = t;
        }
    for (int a = 0; a < sh.ngpus; a++)
        limits[a] = sh.gpus[a].physical;
    for (int a = 0; a < 3; a++)
        limits[sh.ngpus + a] = other_limits[a];
    int nres = sh.ngpus + 3;

    /* Windows in the future, far from anything else: admission from day 2, fill from day
     * 2 + admission span rounded up to the next whole day + 1. */
    int64_t now = (int64_t)time(NULL);
    int64_t day0 = now - now % 86400 + 2 * 86400;
    sh.base = day0;
    int64_t adm_end = sh.base + (o.slots + 2) * SLOT_SECONDS;
    sh.fill_base = adm_end - adm_end % 86400 + 86400;

    struct worker adm;
    double wall = run_workers(&sh, o.clients, admission_worker, &adm);
    double rate = (double)adm.admitted / (wall / 1e3);
    printf("admission: %d clients x %d requests in %.2f s: %ld admitted (%.1f/s), %ld 409, "
           "%ld other; latency p50 %.2f ms p99 %.2f ms\n",
           o.clients, o.requests, wall / 1e3, adm.admitted, rate, adm.conflicts, adm.other,
           pct(adm.lat_ms, adm.nlat, 0.50), pct(adm.lat_ms, adm.nlat, 0.99));

    long seen = 0;
    long over = verify(&sh, h, limits, nres, sh.base, adm_end + SLOT_SECONDS, &seen);
    printf("verify: %ld bookings listed (clients saw %ld admitted), %ld over-capacity instants\n",
           seen, adm.admitted, over);
    int ok = over == 0 && seen == adm.admitted && adm.other == 0;
    if (over < 0)
        over = 0;

    /* Fill to --total bookings, packed in the fill week. */
    long per_slot = 0;
    for (int g = 0; g < sh.ngpus; g++)
        per_slot += sh.gpus[g].physical;
    long want = o.total - adm.admitted;
    long max_fill = per_slot * (7 * 86400 / FILL_SLOT);
    if (want > max_fill)
        want = max_fill;
    sh.fill_limit = want > 0 ? want : 0;
    struct worker fill;
    double fwall = run_workers(&sh, o.clients, fill_worker, &fill);
    printf("fill: %ld admitted, %ld 409, %ld other in %.2f s (%.1f/s)\n", fill.admitted,
           fill.conflicts, fill.other, fwall / 1e3, (double)fill.admitted / (fwall / 1e3));
    long fill_seen = 0;
    long fill_over =
        verify(&sh, h, limits, nres, sh.fill_base, sh.fill_base + 7 * 86400, &fill_seen);
    printf("verify fill week: %ld bookings, %ld over-capacity instants\n", fill_seen, fill_over);
    ok = ok && fill_over == 0 && fill.admitted == sh.fill_limit && fill_seen == fill.admitted;
    if (fill_over < 0)
        fill_over = 0;

    /* Capacity for the fill week at 1-hour steps. */
    char path[256], fb[32], tb[32];
    fmt_time(sh.fill_base, fb, sizeof(fb));
    fmt_time(sh.fill_base + 7 * 86400, tb, sizeof(tb));
    snprintf(path, sizeof(path), "/api/v1/capacity?from=%s&to=%s&step=3600", fb, tb);
    struct worker cap = {0};
    long cap_bad = 0;
    for (int q = 0; q < o.capacity_queries; q++) {
        double t0 = mono_ms();
        st = request(h, &sh, "GET", path, NULL, &out);
        record(&cap, mono_ms() - t0);
        if (st != 200)
            cap_bad++;
    }
    qsort(cap.lat_ms, cap.nlat, sizeof(double), cmp_double);
    /* The week is full on every GPU type: every free value must be 0. */
    j = json_loads(out.d ? out.d : "", 0, NULL);
    long nonzero = 0, steps = 0;
    json_array_foreach(json_object_get(j, "series"), i, r)
    {
        const char *res = json_string_value(json_object_get(r, "resource"));
        int is_gpu = 0;
        for (int g = 0; g < sh.ngpus; g++)
            is_gpu |= res && !strcmp(res, sh.gpus[g].name);
        size_t k;
        json_t *v;
        json_array_foreach(json_object_get(r, "free"), k, v)
        {
            if (!is_gpu)
                continue;
            steps++;
            nonzero += json_integer_value(v) != 0;
        }
    }
    json_decref(j);
    long total_db = adm.admitted + fill.admitted;
    printf("capacity: %d queries of one week at 1-hour steps with %ld bookings: p50 %.2f ms "
           "p99 %.2f ms (%ld failed; %ld/%ld GPU steps not full)\n",
           o.capacity_queries, total_db, pct(cap.lat_ms, cap.nlat, 0.50),
           pct(cap.lat_ms, cap.nlat, 0.99), cap_bad, nonzero, steps);
    if (fill.admitted == max_fill && (nonzero != 0 || steps == 0))
        ok = 0;
    ok = ok && cap_bad == 0;
    printf("RESULT clients=%d admitted=%ld rate=%.1f p50_ms=%.2f p99_ms=%.2f conflicts=%ld "
           "other=%ld double_bookings=%ld bookings=%ld cap_p50_ms=%.2f cap_p99_ms=%.2f ok=%d\n",
           o.clients, adm.admitted, rate, pct(adm.lat_ms, adm.nlat, 0.50),
           pct(adm.lat_ms, adm.nlat, 0.99), adm.conflicts, adm.other, over + fill_over, total_db,
           pct(cap.lat_ms, cap.nlat, 0.50), pct(cap.lat_ms, cap.nlat, 0.99), ok);
    free(adm.lat_ms);
    free(fill.lat_ms);
    free(cap.lat_ms);
    free(out.d);
    curl_easy_cleanup(h);
    curl_global_cleanup();
    return ok ? 0 : 1;
}
