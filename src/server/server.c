/* The HTTP server: MHD glue, routing, authentication, responses, logs, metrics (see
 * server.h). */
#include "server/server.h"

#include "common/log.h"
#include "common/strbuf.h"
#include "common/timeutil.h"
#include "server/auth.h"
#include "server/webroot.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <malloc.h>
#include <microhttpd.h>
#include <sodium.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <unistd.h>

/* Store connections shared by the connection threads. Every booking takes the same
 * advisory locks (cpu, memory and storage are in every window), so admissions serialize in
 * the database anyway: more connections only lengthen the lock queue (measured: 4 beats 8
 * with 16 clients on 2 cores). */
#define SRV_DB_CONNS 4
#define SRV_MAX_TRUSTED 16
#define SRV_MAX_SERIES 512
#define SRV_N_BUCKETS 11
#define SRV_MAX_PEERS 1024

static const double bucket_le[SRV_N_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                0.5,   1,    2.5,   5,    10};

/* One (route, method, status): its count and latency histogram. */
struct series {
    const char *route; /* static string: a route pattern or a fixed label */
    char method[8];
    int status;
    uint64_t count;
    uint64_t buckets[SRV_N_BUCKETS];
    double sum;
};

struct srv {
    const struct config *cfg;
    struct pool pool;
    struct MHD_Daemon *d;
    int port;
    /* server.token_listen: a second listener where the trusted proxy headers are never
     * honoured and no address is a trusted proxy (docs/security.md, "Token listener") */
    struct MHD_Daemon *d_token;
    int token_port;

    pthread_mutex_t st_lock;
    pthread_cond_t st_cond;
    struct store *conns[SRV_DB_CONNS];
    bool busy[SRV_DB_CONNS];

    char trusted[SRV_MAX_TRUSTED][64];
    int n_trusted;

    struct auth_limiter *limiter;
    bool have_metrics_token;
    uint8_t metrics_token_hash[crypto_generichash_BYTES];

    /* connections per client address (accept policy), trusted proxies exempt */
    pthread_mutex_t c_lock;
    struct peer_count {
        char addr[64];
        int n;
    } peers[SRV_MAX_PEERS];

    pthread_mutex_t m_lock;
    struct series series[SRV_MAX_SERIES];
    size_t n_series;
};

/* Per-connection upload state. */
struct conn_ctx {
    struct sb_body body; /* capped at server.body_limit_bytes; too_large once over */
    bool answered;
    int64_t t0;
};

/* ---- responses ---- */

static int status_of(int code)
{
    switch (code) {
    case ERR_INVALID:
        return 400;
    case ERR_UNAUTH:
        return 401;
    case ERR_FORBIDDEN:
        return 403;
    case ERR_NOT_FOUND:
        return 404;
    case ERR_CONFLICT:
    case ERR_STATE:
    case ERR_EXISTS:
        return 409;
    case ERR_TOO_LARGE:
        return 413;
    case ERR_RATE:
        return 429;
    case ERR_UNAVAILABLE:
        return 503;
    default:
        return 500;
    }
}

void srv_reply(struct srv_req *r, int status, json_t *json)
{
    json_decref(r->json);
    free(r->text);
    r->text = NULL;
    r->status = status;
    r->json = json;
}

void srv_reply_text(struct srv_req *r, int status, const char *content_type, char *text)
{
    json_decref(r->json);
    r->json = NULL;
    free(r->text);
    r->status = status;
    r->text = text;
    r->content_type = content_type;
}

static json_t *error_body(const char *code, const char *field, const char *message)
{
    json_t *e = json_object();
    json_object_set_new(e, "code", json_string(code));
    json_object_set_new(e, "message", json_string(message));
    if (field && *field)
        json_object_set_new(e, "field", json_string(field));
    json_t *o = json_object();
    json_object_set_new(o, "error", e);
    return o;
}

static void fail_raw(struct srv_req *r, int status, const char *code, const char *field,
                     const char *message)
{
    srv_reply(r, status, error_body(code, field, message));
}

void srv_fail(struct srv_req *r, int code, const char *field, const char *fmt, ...)
{
    struct error e;
    va_list ap;
    va_start(ap, fmt);
    error_setv(&e, code, field, fmt, ap);
    va_end(ap);
    srv_fail_err(r, &e);
}

void srv_fail_err(struct srv_req *r, const struct error *e)
{
    int status = status_of(e->code);
    if (status >= 500)
        fail_raw(r, status, status == 503 ? "unavailable" : "internal", NULL,
                 status == 503 ? "A dependency is unavailable; try again." : "Internal error.");
    else
        fail_raw(r, status, error_code_name(e->code), e->field, e->message);
}

/* ---- query ---- */

const char *srv_query(struct srv_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *srv_cookie(struct srv_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, name);
}

struct query_check {
    const char *const *names;
    const char *bad;
};

static enum MHD_Result check_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    struct query_check *q = cls;
    for (const char *const *n = q->names; *n; n++)
        if (!strcmp(*n, key))
            return MHD_YES;
    q->bad = key;
    return MHD_NO;
}

bool srv_query_only(struct srv_req *r, const char *const *names)
{
    struct query_check q = {names, NULL};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, check_arg, &q);
    if (!q.bad)
        return true;
    char name[64];
    size_t k = 0;
    for (const char *c = q.bad; *c && k < sizeof(name) - 1; c++)
        name[k++] = (*c > 0x20 && *c < 0x7f) ? *c : '?';
    name[k] = 0;
    srv_fail(r, ERR_INVALID, name, "unknown query parameter \"%s\"", name);
    return false;
}

struct auth_limiter *srv_limiter(struct srv *s)
{
    return s->limiter;
}

void srv_audit(struct srv_req *r, const char *action, const char *target, const char *detail)
{
    struct audit_entry e;
    memset(&e, 0, sizeof(e));
    e.at = r->now;
    snprintf(e.actor, sizeof(e.actor), "%s", r->user.username[0] ? r->user.username : "anonymous");
    snprintf(e.action, sizeof(e.action), "%s", action);
    snprintf(e.target, sizeof(e.target), "%s", target);
    snprintf(e.detail, sizeof(e.detail), "%s", detail ? detail : "");
    if (store_audit_add(r->st, &e) < 0)
        log_error("audit write failed", "action=%s target=%s", action, target);
    (void)store_notify(r->st);
}

/* ---- store pool ---- */

static int borrow_store(struct srv *s, struct store **ret)
{
    pthread_mutex_lock(&s->st_lock);
    for (;;) {
        for (int i = 0; i < SRV_DB_CONNS; i++)
            if (!s->busy[i]) {
                s->busy[i] = true;
                *ret = s->conns[i];
                pthread_mutex_unlock(&s->st_lock);
                return i;
            }
        pthread_cond_wait(&s->st_cond, &s->st_lock);
    }
}

static void return_store(struct srv *s, int i)
{
    pthread_mutex_lock(&s->st_lock);
    s->busy[i] = false;
    pthread_cond_signal(&s->st_cond);
    pthread_mutex_unlock(&s->st_lock);
}

/* ---- metrics ---- */

static void count_request(struct srv *s, const char *route, const char *method, int status,
                          double seconds)
{
    pthread_mutex_lock(&s->m_lock);
    size_t i;
    for (i = 0; i < s->n_series; i++)
        if (s->series[i].route == route && s->series[i].status == status &&
            !strcmp(s->series[i].method, method))
            break;
    if (i == s->n_series && s->n_series < SRV_MAX_SERIES) {
        memset(&s->series[i], 0, sizeof(s->series[i]));
        s->series[i].route = route;
        snprintf(s->series[i].method, sizeof(s->series[i].method), "%s", method);
        s->series[i].status = status;
        s->n_series++;
    }
    if (i < s->n_series) {
        struct series *x = &s->series[i];
        x->count++;
        for (int b = 0; b < SRV_N_BUCKETS; b++)
            if (seconds <= bucket_le[b])
                x->buckets[b]++;
        x->sum += seconds;
    }
    pthread_mutex_unlock(&s->m_lock);
}

/* The reconciler's DCGM scrape counters (kv "dcgm"), when it published any. */
static void dcgm_metrics(struct srv_req *r, struct strbuf *b)
{
    char *text = NULL;
    int64_t updated = 0;
    if (!r->st || store_kv_get(r->st, "dcgm", &text, &updated) < 0)
        return;
    json_t *o = json_loads(text, 0, NULL);
    free(text);
    json_int_t scrapes = json_integer_value(json_object_get(o, "scrapes"));
    json_int_t failures = json_integer_value(json_object_get(o, "failures"));
    json_int_t ok_at = json_integer_value(json_object_get(o, "last_success_at"));
    json_decref(o);
    sb_addf(b,
            "# HELP gpuaas_dcgm_scrapes_total DCGM exporter scrapes by the reconciler "
            "(since it started).\n# TYPE gpuaas_dcgm_scrapes_total counter\n"
            "gpuaas_dcgm_scrapes_total %" PRId64 "\n"
            "# HELP gpuaas_dcgm_scrape_failures_total Failed DCGM exporter scrapes.\n"
            "# TYPE gpuaas_dcgm_scrape_failures_total counter\n"
            "gpuaas_dcgm_scrape_failures_total %" PRId64 "\n"
            "# HELP gpuaas_dcgm_last_success_timestamp_seconds Time of the last successful "
            "DCGM scrape (0 = none).\n"
            "# TYPE gpuaas_dcgm_last_success_timestamp_seconds gauge\n"
            "gpuaas_dcgm_last_success_timestamp_seconds %" PRId64 "\n",
            (int64_t)scrapes, (int64_t)failures, (int64_t)ok_at);
}

/* What the nodes advertise against the configured pool (kv "advertised", core/advertised.h),
 * per GPU resource of the pool (a bounded set: the configuration's). */
static void pool_metrics(struct srv_req *r, struct strbuf *b)
{
    char *text = NULL;
    int64_t updated = 0;
    if (store_kv_get(r->st, "advertised", &text, &updated) < 0)
        return;
    json_t *o = json_loads(text, 0, NULL);
    free(text);
    json_t *res = json_object_get(o, "resources");
    size_t i;
    json_t *x;
    sb_adds(b, "# HELP gpuaas_pool_configured_units GPUs or MIG slices the configuration declares, "
               "by resource.\n# TYPE gpuaas_pool_configured_units gauge\n");
    json_array_foreach(res, i, x)
    {
        const char *name = json_string_value(json_object_get(x, "name"));
        if (name)
            sb_addf(b, "gpuaas_pool_configured_units{resource=\"%s\"} %" JSON_INTEGER_FORMAT "\n",
                    name, json_integer_value(json_object_get(x, "configured")));
    }
    sb_adds(b, "# HELP gpuaas_pool_advertised_units GPUs or MIG slices the nodes advertise, by "
               "resource (the reconciler's last observation).\n"
               "# TYPE gpuaas_pool_advertised_units gauge\n");
    json_array_foreach(res, i, x)
    {
        const char *name = json_string_value(json_object_get(x, "name"));
        if (name)
            sb_addf(b, "gpuaas_pool_advertised_units{resource=\"%s\"} %" JSON_INTEGER_FORMAT "\n",
                    name, json_integer_value(json_object_get(x, "advertised")));
    }
    sb_addf(b,
            "# HELP gpuaas_pool_observed_timestamp_seconds When the reconciler last observed "
            "the nodes.\n# TYPE gpuaas_pool_observed_timestamp_seconds gauge\n"
            "gpuaas_pool_observed_timestamp_seconds %" JSON_INTEGER_FORMAT "\n",
            json_integer_value(json_object_get(o, "observed_at")));
    json_decref(o);
}

/* GPU units held by ACTIVE bookings now, per GPU resource of the pool (every one, zeros
 * included): against gpuaas_pool_configured_units the booked share, against the reconciler's
 * gpuaas_reconciler_gpu_busy_unit_seconds_total what of it is used. One query of the ACTIVE
 * bookings, no more of them than the pool has units. */
static void booked_metrics(struct srv_req *r, struct strbuf *b)
{
    struct res_filter f = {.state = RS_ACTIVE, .limit = 100000};
    struct reservation *rs = NULL;
    size_t n = 0;
    if (store_reservation_list(r->st, &f, &rs, &n) < 0)
        return;
    sb_adds(b, "# HELP gpuaas_units_booked GPUs or MIG slices held by ACTIVE bookings, by "
               "resource.\n# TYPE gpuaas_units_booked gauge\n");
    for (int i = 0; i < r->pool->n; i++) {
        const struct pool_resource *pr = &r->pool->res[i];
        if (pr->kind != POOL_GPU && pr->kind != POOL_MIG)
            continue;
        long units = 0;
        for (size_t j = 0; j < n; j++)
            if (!strcmp(rs[j].gpu_type, pr->name))
                units += rs[j].gpu_count;
        sb_addf(b, "gpuaas_units_booked{resource=\"%s\"} %ld\n", pr->name, units);
    }
    free(rs);
}

char *srv_metrics_text(struct srv_req *r)
{
    struct srv *s = r->srv;
    struct strbuf b = STRBUF_INIT;
    pthread_mutex_lock(&s->m_lock);
    sb_addf(&b, "# HELP http_requests_total HTTP requests by route, method and status.\n"
                "# TYPE http_requests_total counter\n");
    for (size_t i = 0; i < s->n_series; i++)
        sb_addf(&b, "http_requests_total{route=\"%s\",method=\"%s\",status=\"%d\"} %" PRIu64 "\n",
                s->series[i].route, s->series[i].method, s->series[i].status, s->series[i].count);
    sb_addf(&b, "# HELP http_request_duration_seconds Request latency by route, method and "
                "status.\n"
                "# TYPE http_request_duration_seconds histogram\n");
    for (size_t i = 0; i < s->n_series; i++) {
        const struct series *h = &s->series[i];
        char labels[160];
        snprintf(labels, sizeof(labels), "route=\"%s\",method=\"%s\",status=\"%d\"", h->route,
                 h->method, h->status);
        for (int k = 0; k < SRV_N_BUCKETS; k++)
            sb_addf(&b, "http_request_duration_seconds_bucket{%s,le=\"%g\"} %" PRIu64 "\n", labels,
                    bucket_le[k], h->buckets[k]);
        sb_addf(&b,
                "http_request_duration_seconds_bucket{%s,le=\"+Inf\"} %" PRIu64
                "\nhttp_request_duration_seconds_sum{%s} %.6f\n"
                "http_request_duration_seconds_count{%s} %" PRIu64 "\n",
                labels, h->count, labels, h->sum, labels, h->count);
    }
    pthread_mutex_unlock(&s->m_lock);
    sb_addf(&b, "# HELP gpuaas_bookings Bookings by state.\n# TYPE gpuaas_bookings gauge\n");
    /* one grouped count, not every booking row of every state */
    int64_t counts[RS__COUNT];
    bool db_up = r->st && store_reservation_count_by_state(r->st, counts) == 0;
    if (db_up)
        for (int st = 0; st < RS__COUNT; st++)
            sb_addf(&b, "gpuaas_bookings{state=\"%s\"} %" PRId64 "\n",
                    res_state_name((enum res_state)st), counts[st]);
    /* measured by the count above, on every scrape: /metrics answers while the database is down */
    sb_addf(&b,
            "# HELP gpuaas_database_up 1 when this scrape's query of the database succeeded.\n"
            "# TYPE gpuaas_database_up gauge\ngpuaas_database_up %d\n",
            db_up ? 1 : 0);
    if (db_up) {
        dcgm_metrics(r, &b);
        pool_metrics(r, &b);
        booked_metrics(r, &b);
    }
    return sb_detach(&b, NULL); /* NULL when memory ran out on the way */
}

/* ---- authentication ---- */

static bool trusted_source(const struct srv *s, const char *client)
{
    for (int i = 0; i < s->n_trusted; i++)
        if (!strcmp(s->trusted[i], client))
            return true;
    return false;
}

/* True when the comma-separated list holds group (exact match, spaces trimmed). */
static bool list_has(const char *list, const char *group)
{
    size_t g = strlen(group);
    for (const char *p = list; p && *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ",");
        size_t m = n;
        while (m > 0 && p[m - 1] == ' ')
            m--;
        if (m == g && !strncmp(p, group, g))
            return true;
        p += n;
    }
    return false;
}

/* The caller named by the authenticating proxy. Only an account linked to single sign-on
 * (users.sso) can be entered this way, so a proxy identity never takes over a local account
 * such as the bootstrap admin; with auth.sso_auto_create_group set, a member of that group
 * (server.trusted_groups_header) gets a linked "user" account on the first visit.
 * 0 or -ERR_UNAUTH. */
static int authenticate_proxy_user(struct srv_req *r, const char *name)
{
    const struct config *c = r->cfg;
    if (strlen(name) >= sizeof(r->user.username))
        return -ERR_UNAUTH;
    for (const char *p = name; *p; p++)
        if ((unsigned char)*p < 0x21 || *p == 0x7f)
            return -ERR_UNAUTH;
    int rc = store_user_get_by_name(r->st, name, &r->user);
    if (rc == -ERR_NOT_FOUND && c->auth.sso_auto_create_group && *c->auth.sso_auto_create_group) {
        const char *gh = c->server.trusted_groups_header;
        const char *groups =
            gh && *gh ? MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, gh) : NULL;
        if (!groups || !list_has(groups, c->auth.sso_auto_create_group))
            return -ERR_UNAUTH;
        struct user u;
        memset(&u, 0, sizeof(u));
        snprintf(u.username, sizeof(u.username), "%s", name);
        snprintf(u.role, sizeof(u.role), "user");
        u.sso = true;
        u.created_at = r->now;
        /* no password login for an account created by the proxy: a random, unknown hash */
        char pw[64];
        auth_random_password(pw, sizeof(pw));
        if (auth_hash_password(pw, u.password_hash, sizeof(u.password_hash)) < 0)
            return -ERR_UNAUTH;
        sodium_memzero(pw, sizeof(pw));
        struct error e = {0};
        if (store_user_create(r->st, &u, NULL, &e) < 0 && e.code != ERR_EXISTS)
            return -ERR_UNAUTH;
        if (store_user_get_by_name(r->st, name, &r->user) < 0)
            return -ERR_UNAUTH;
        srv_audit(r, "user.sso_create", "user/self", c->auth.sso_auto_create_group);
        rc = 0;
    }
    if (rc < 0 || r->user.disabled || !r->user.sso) {
        memset(&r->user, 0, sizeof(r->user));
        return -ERR_UNAUTH;
    }
    return 0;
}

/* Resolves the caller into r->user (and r->token_id for a bearer token). 0 or -ERR_UNAUTH. */
static int authenticate(struct srv_req *r)
{
    struct srv *s = r->srv;
    const char *hdr = s->cfg->server.trusted_header;
    const char *a = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
    /* A bearer token wins over the proxy's header. On the token listener the header is never
     * read: no proxy stands in front of it that could vouch for it. */
    if (!r->token_listener && hdr && *hdr && trusted_source(s, r->peer) &&
        !(a && !strncasecmp(a, "Bearer ", 7))) {
        const char *name = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, hdr);
        if (name && *name)
            return authenticate_proxy_user(r, name);
    }
    if (!a || strncasecmp(a, "Bearer ", 7) != 0)
        return -ERR_UNAUTH;
    const char *tok = a + 7;
    while (*tok == ' ')
        tok++;
    int64_t id;
    uint8_t hash[AUTH_HASH_LEN];
    struct token t;
    if (auth_parse_token(tok, &id, hash) < 0 ||
        store_token_get_with_user(r->st, id, &t, &r->user) < 0 || !auth_hash_equal(hash, t.hash) ||
        t.expires_at <= r->now || r->user.disabled) {
        memset(&r->user, 0, sizeof(r->user));
        return -ERR_UNAUTH;
    }
    r->token_id = t.id;
    r->token_expires_at = t.expires_at;
    r->token_is_login = !strcmp(t.name, "login");
    return 0;
}

/* /metrics: the configured scrape token, else an admin. */
static int authenticate_metrics(struct srv_req *r)
{
    struct srv *s = r->srv;
    const char *a = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
    if (s->have_metrics_token && a && !strncasecmp(a, "Bearer ", 7)) {
        uint8_t h[crypto_generichash_BYTES];
        const char *tok = a + 7;
        crypto_generichash(h, sizeof(h), (const unsigned char *)tok, strlen(tok), NULL, 0);
        if (sodium_memcmp(h, s->metrics_token_hash, sizeof(h)) == 0) {
            snprintf(r->user.username, sizeof(r->user.username), "system:metrics");
            return 0;
        }
    }
    int rc = authenticate(r);
    if (rc == 0 && strcmp(r->user.role, "admin"))
        return -ERR_FORBIDDEN;
    return rc;
}

/* ---- routing ---- */

/* Matches path against pattern; {id} segments must be positive decimal integers. */
static bool match(const char *pattern, const char *path, int64_t *ids, int *n_ids)
{
    const char *p = pattern, *u = path;
    int n = 0;
    while (*p && *u) {
        if (!strncmp(p, "{id}", 4)) {
            int64_t v = 0;
            int digits = 0;
            while (*u >= '0' && *u <= '9' && digits < 18) {
                v = v * 10 + (*u - '0');
                u++;
                digits++;
            }
            if (digits == 0 || v <= 0 || n >= SRV_MAX_IDS || (*u && *u != '/'))
                return false;
            ids[n++] = v;
            p += 4;
            continue;
        }
        if (*p != *u)
            return false;
        p++;
        u++;
    }
    *n_ids = n;
    return !*p && !*u;
}

static bool has_json_type(struct MHD_Connection *c)
{
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    if (!ct)
        return false;
    size_t n = strlen("application/json");
    return !strncasecmp(ct, "application/json", n) && (ct[n] == 0 || ct[n] == ';' || ct[n] == ' ');
}

static void add_common_headers(const struct srv *s, struct MHD_Response *resp)
{
    if (s->cfg->server.hsts_seconds > 0) {
        char v[64];
        snprintf(v, sizeof(v), "max-age=%ld", s->cfg->server.hsts_seconds);
        MHD_add_response_header(resp, "Strict-Transport-Security", v);
    }
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'self'; script-src 'self'; style-src 'self'; "
                            "img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; "
                            "base-uri 'self'; form-action 'self'");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
}

static enum MHD_Result send_req(struct srv_req *r, const char *allow)
{
    char *payload = NULL;
    size_t len = 0;
    const char *type = "application/json";
    if (r->json) {
        payload = json_dumps(r->json, JSON_COMPACT);
        if (!payload) {
            r->status = 500;
            payload = strdup("{\"error\":{\"code\":\"internal\",\"message\":\"Internal error.\"}}");
        }
        len = payload ? strlen(payload) : 0;
    } else if (r->text) {
        payload = r->text;
        r->text = NULL;
        len = strlen(payload);
        type = r->content_type;
    }
    struct MHD_Response *resp =
        payload ? MHD_create_response_from_buffer(len, payload, MHD_RESPMEM_MUST_FREE)
                : MHD_create_response_from_buffer(0, (char *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    add_common_headers(r->srv, resp);
    if (allow)
        MHD_add_response_header(resp, "Allow", allow);
    if (r->location[0])
        MHD_add_response_header(resp, "Location", r->location);
    if (r->set_cookie[0])
        MHD_add_response_header(resp, "Set-Cookie", r->set_cookie);
    if (r->retry_after > 0) {
        char ra[32];
        snprintf(ra, sizeof(ra), "%ld", r->retry_after);
        MHD_add_response_header(resp, "Retry-After", ra);
    }
    enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ok;
}

static enum MHD_Result send_static(struct srv_req *r)
{
    struct web_file f;
    struct MHD_Response *resp;
    const char *root = r->cfg->server.web_root;
    char index[4096];
    bool have_index = false;
    if (root && *root) {
        snprintf(index, sizeof(index), "%s/index.html", root);
        have_index = access(index, R_OK) == 0;
    }
    if (!have_index) {
        if (strcmp(r->path, "/") && strcmp(r->path, "/index.html")) {
            r->status = 404;
            srv_reply(r, 404, error_body("not_found", NULL, "No such page."));
            return send_req(r, NULL);
        }
        resp = MHD_create_response_from_buffer(
            strlen(web_placeholder_html), (char *)web_placeholder_html, MHD_RESPMEM_PERSISTENT);
        if (!resp)
            return MHD_NO;
        MHD_add_response_header(resp, "Content-Type", "text/html; charset=utf-8");
        MHD_add_response_header(resp, "Cache-Control", "no-cache");
    } else {
        if (web_open(root, r->path, &f) < 0) {
            srv_reply(r, 404, error_body("not_found", NULL, "No such file."));
            return send_req(r, NULL);
        }
        resp = MHD_create_response_from_fd64(f.size, f.fd);
        if (!resp) {
            close(f.fd);
            return MHD_NO;
        }
        MHD_add_response_header(resp, "Content-Type", f.content_type);
        MHD_add_response_header(resp, "Cache-Control", f.cache_control);
    }
    add_common_headers(r->srv, resp);
    r->status = 200;
    enum MHD_Result ok = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    return ok;
}

/* The address text of sa ("unknown" for NULL or another family). */
static void sockaddr_text(const struct sockaddr *sa, char *out, size_t outsz)
{
    snprintf(out, outsz, "unknown");
    if (!sa)
        return;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)outsz);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)outsz);
}

static void client_address(struct MHD_Connection *c, char *out, size_t outsz)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    sockaddr_text(ci ? ci->client_addr : NULL, out, outsz);
}

/* The client's address: the connecting peer, or, when the peer is a trusted proxy, the
 * nearest address in X-Forwarded-For that is not itself a trusted proxy (read from the
 * right: the left part is whatever the client claimed). Only well-formed addresses count. */
static void real_client(const struct srv *s, struct MHD_Connection *c, bool token_listener,
                        const char *peer, char *out, size_t outsz)
{
    snprintf(out, outsz, "%s", peer);
    if (token_listener || !trusted_source(s, peer))
        return;
    const char *xff = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-For");
    if (!xff)
        return;
    size_t end = strlen(xff);
    while (end > 0) {
        size_t start = end;
        while (start > 0 && xff[start - 1] != ',')
            start--;
        size_t a = start, b = end;
        while (a < b && xff[a] == ' ')
            a++;
        while (b > a && xff[b - 1] == ' ')
            b--;
        char addr[64];
        unsigned char bin[sizeof(struct in6_addr)];
        if (b - a == 0 || b - a >= sizeof(addr))
            return;
        memcpy(addr, xff + a, b - a);
        addr[b - a] = 0;
        if (inet_pton(AF_INET, addr, bin) != 1 && inet_pton(AF_INET6, addr, bin) != 1)
            return;
        snprintf(out, outsz, "%s", addr);
        if (!trusted_source(s, addr))
            return;
        end = start > 0 ? start - 1 : 0;
    }
}

/* A state-changing request must be one a browser will not send cross-site without a CORS
 * preflight (which we never grant): Content-Type application/json, or an X-Requested-With
 * header, whether or not it has a body. This closes CSRF for cookie-based single sign-on. */
static bool csrf_safe(struct MHD_Connection *c, const char *method)
{
    if (!strcmp(method, "GET") || !strcmp(method, "HEAD") || !strcmp(method, "OPTIONS"))
        return true;
    return has_json_type(c) || MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Requested-With");
}

/* True when c came in on the token listener (server.token_listen). */
static bool on_token_listener(const struct srv *s, struct MHD_Connection *c)
{
    if (!s->d_token)
        return false;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_DAEMON);
    return ci && ci->daemon == s->d_token;
}

/* The token listener's refusals, before routing: a request naming a user or groups in the
 * proxy's headers (nothing in front of this listener sets them, so the client did), a
 * password sign-in (tokens are made behind the single sign-on proxy) and the portal. True
 * when refused (the answer is set in r). */
static bool token_listener_refuses(struct srv_req *r, const struct srv_route *hit)
{
    const struct config *c = r->cfg;
    const char *hdrs[2] = {c->server.trusted_header, c->server.trusted_groups_header};
    for (int i = 0; i < 2; i++) {
        if (!hdrs[i] || !*hdrs[i] ||
            !MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, hdrs[i]))
            continue;
        log_warn("token listener: proxy identity header refused", "header=%s client=%s", hdrs[i],
                 r->client);
        srv_fail(r, ERR_INVALID, hdrs[i],
                 "%s is not accepted on this address: only bearer tokens authenticate here.",
                 hdrs[i]);
        return true;
    }
    if (hit && !strcmp(hit->pattern, "/api/v1/auth/login")) {
        srv_fail(r, ERR_FORBIDDEN, NULL,
                 "Password sign-in is not offered on this address; create an API token in the "
                 "portal and send it as a bearer token.");
        return true;
    }
    if (!hit && strncmp(r->path, "/api/", 5) != 0) {
        srv_fail(r, ERR_NOT_FOUND, NULL, "This address serves the API only, not the portal.");
        return true;
    }
    return false;
}

/* Routes one complete request and queues its response. */
static enum MHD_Result dispatch(struct srv *s, struct MHD_Connection *c, struct conn_ctx *x,
                                const char *url, const char *method)
{
    struct srv_req r;
    memset(&r, 0, sizeof(r));
    r.srv = s;
    r.cfg = s->cfg;
    r.pool = &s->pool;
    r.method = method;
    r.path = url;
    r.body = x->body.sb.len ? x->body.sb.buf : NULL;
    r.body_len = x->body.sb.len;
    r.conn = c;
    r.now = time_now();
    r.status = 500;
    r.token_listener = on_token_listener(s, c);
    client_address(c, r.peer, sizeof(r.peer));
    real_client(s, c, r.token_listener, r.peer, r.client, sizeof(r.client));

    const char *route = "unmatched";
    char allow[128] = "";
    const struct srv_route *hit = NULL;
    int slot = -1;
    enum MHD_Result ok;
    bool is_head = !strcmp(method, "HEAD");

    for (size_t i = 0; i < api_n_routes; i++) {
        int n_ids = 0;
        int64_t ids[SRV_MAX_IDS];
        if (!match(api_routes[i].pattern, url, ids, &n_ids))
            continue;
        route = api_routes[i].pattern;
        if (!strcmp(api_routes[i].method, method) ||
            (is_head && !strcmp(api_routes[i].method, "GET"))) {
            hit = &api_routes[i];
            memcpy(r.ids, ids, sizeof(ids));
            break;
        }
        if (strlen(allow) + strlen(api_routes[i].method) + 3 < sizeof(allow)) {
            if (allow[0])
                strcat(allow, ", ");
            strcat(allow, api_routes[i].method);
        }
    }

    if (r.token_listener && token_listener_refuses(&r, hit)) {
        /* answered in r */
    } else if (x->body.too_large) {
        srv_fail(&r, ERR_TOO_LARGE, NULL, "The request body exceeds %ld bytes.",
                 s->cfg->server.body_limit_bytes);
    } else if (!hit && allow[0]) {
        fail_raw(&r, 405, "method_not_allowed", NULL, "This method is not allowed here.");
    } else if (!hit && !strncmp(url, "/api/", 5)) {
        srv_fail(&r, ERR_NOT_FOUND, NULL, "No such endpoint.");
    } else if (!hit) {
        route = "static";
        if (strcmp(method, "GET") && !is_head) {
            snprintf(allow, sizeof(allow), "GET, HEAD");
            fail_raw(&r, 405, "method_not_allowed", NULL, "This method is not allowed here.");
        } else {
            ok = send_static(&r);
            goto done;
        }
    } else if (x->body.sb.len > 0 && !has_json_type(c)) {
        fail_raw(&r, 415, "unsupported_media_type", NULL,
                 "The request body must be application/json.");
    } else if (!csrf_safe(c, method)) {
        fail_raw(&r, 415, "unsupported_media_type", NULL,
                 "Send Content-Type: application/json (or an X-Requested-With header) with "
                 "every request that changes something, even without a body.");
    } else {
        if (hit->store)
            slot = borrow_store(s, &r.st);
        int rc = 0;
        if (hit->auth == SRV_METRICS) {
            rc = authenticate_metrics(&r);
            if (rc == -ERR_FORBIDDEN)
                srv_fail(&r, ERR_FORBIDDEN, NULL,
                         "This needs the admin role or the metrics token.");
            else if (rc < 0)
                srv_fail(&r, ERR_UNAUTH, NULL, "Missing, invalid or expired credentials.");
        } else if (hit->auth != SRV_PUBLIC) {
            rc = authenticate(&r);
            if (rc < 0)
                srv_fail(&r, ERR_UNAUTH, NULL, "Missing, invalid or expired credentials.");
            else if (hit->auth == SRV_ADMIN && strcmp(r.user.role, "admin")) {
                rc = -ERR_FORBIDDEN;
                srv_fail(&r, ERR_FORBIDDEN, NULL, "This needs the admin role.");
            }
        }
        if (rc == 0)
            hit->handler(&r);
        if (slot >= 0)
            return_store(s, slot);
    }
    ok = send_req(&r, r.status == 405 ? allow : NULL);
done:;
    double secs = (double)(time_mono_ms() - x->t0) / 1000.0;
    count_request(s, route, method, r.status, secs);
    log_info("request", "method=%s route=%s status=%d ms=%.1f user=%s client=%s", method, route,
             r.status, secs * 1000.0, r.user.username[0] ? r.user.username : "-", r.client);
    json_decref(r.json);
    free(r.text);
    return ok;
}

/* ---- connections per client ---- */

/* The slot counting addr's connections; with create, a free slot is taken. NULL when the
 * table is full (then the address is not limited: the global max_connections still is). */
static struct peer_count *peer_slot(struct srv *s, const char *addr, bool create)
{
    struct peer_count *free_slot = NULL;
    for (int i = 0; i < SRV_MAX_PEERS; i++) {
        if (s->peers[i].n > 0 && !strcmp(s->peers[i].addr, addr))
            return &s->peers[i];
        if (!free_slot && s->peers[i].n == 0)
            free_slot = &s->peers[i];
    }
    if (create && free_slot)
        snprintf(free_slot->addr, sizeof(free_slot->addr), "%s", addr);
    return create ? free_slot : NULL;
}

/* Accept policy: refuse a connection from an address that already holds
 * server.max_connections_per_client, unless it is a trusted proxy (the router). */
static enum MHD_Result accept_policy(struct srv *s, const struct sockaddr *addr, bool exempt)
{
    char a[64];
    sockaddr_text(addr, a, sizeof(a));
    if (exempt && trusted_source(s, a))
        return MHD_YES;
    pthread_mutex_lock(&s->c_lock);
    struct peer_count *p = peer_slot(s, a, false);
    bool ok = !p || p->n < s->cfg->server.max_connections_per_client;
    pthread_mutex_unlock(&s->c_lock);
    if (!ok)
        log_warn("connection refused: too many from one client", "client=%s limit=%ld", a,
                 s->cfg->server.max_connections_per_client);
    return ok ? MHD_YES : MHD_NO;
}

static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    return accept_policy(cls, addr, true);
}

/* The token listener: no address is a trusted proxy there, the router included. */
static enum MHD_Result on_accept_token(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    return accept_policy(cls, addr, false);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct srv *s = cls;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char a[64];
    sockaddr_text(ci ? ci->client_addr : NULL, a, sizeof(a));
    if (!on_token_listener(s, c) && trusted_source(s, a))
        return;
    pthread_mutex_lock(&s->c_lock);
    struct peer_count *p = peer_slot(s, a, code == MHD_CONNECTION_NOTIFY_STARTED);
    if (p && code == MHD_CONNECTION_NOTIFY_STARTED)
        p->n++;
    else if (p && code == MHD_CONNECTION_NOTIFY_CLOSED && p->n > 0)
        p->n--;
    pthread_mutex_unlock(&s->c_lock);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    struct srv *s = cls;
    struct conn_ctx *x = *con_cls;
    size_t limit = (size_t)s->cfg->server.body_limit_bytes;

    if (!x) {
        x = calloc(1, sizeof(*x));
        if (!x)
            return MHD_NO;
        x->body = (struct sb_body)SB_BODY_INIT(limit);
        x->t0 = time_mono_ms();
        *con_cls = x;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > limit) {
            x->body.too_large = true;
            x->answered = true;
            return dispatch(s, c, x, url, method); /* answer before reading the body */
        }
        return MHD_YES;
    }
    if (*upload_size) {
        /* The idle timeout restarts with every byte; a body that trickles in is cut off once
         * the whole upload has taken longer than server.request_timeout_seconds. */
        if (time_mono_ms() - x->t0 > s->cfg->server.request_timeout_seconds * 1000L) {
            log_warn("request body too slow; connection closed", "url=%s", url);
            return MHD_NO;
        }
        if (!x->body.too_large && !x->answered &&
            sb_body_add(&x->body, upload_data, *upload_size) == -ERR_NOMEM)
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    if (x->answered)
        return MHD_YES;
    x->answered = true;
    return dispatch(s, c, x, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct conn_ctx *x = *con_cls;
    if (x) {
        sb_release(&x->body.sb);
        free(x);
        *con_cls = NULL;
    }
}

/* ---- lifecycle ---- */

static int parse_listen(const char *key, const char *listen, struct sockaddr_in *sa,
                        struct error *err)
{
    char host[64];
    const char *colon = listen ? strrchr(listen, ':') : NULL;
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    if (!colon || (size_t)(colon - listen) >= sizeof(host))
        return error_set(err, ERR_INVALID, key, "%s must be ADDR:PORT, got \"%s\"", key,
                         listen ? listen : "");
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535 || colon[1] == 0)
        return error_set(err, ERR_INVALID, key, "%s: bad port in \"%s\"", key, listen);
    sa->sin_port = htons((uint16_t)port);
    if (!*host || !strcmp(host, "*"))
        sa->sin_addr.s_addr = htonl(INADDR_ANY);
    else if (!strcmp(host, "localhost"))
        sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
        return error_set(err, ERR_INVALID, key, "%s: bad IPv4 address in \"%s\"", key, listen);
    return 0;
}

static void parse_trusted(struct srv *s, const char *list)
{
    const char *p = list ? list : "";
    while (*p && s->n_trusted < SRV_MAX_TRUSTED) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ", ");
        if (n > 0 && n < sizeof(s->trusted[0])) {
            memcpy(s->trusted[s->n_trusted], p, n);
            s->trusted[s->n_trusted][n] = 0;
            s->n_trusted++;
        }
        p += n;
    }
}

/* Reads the /metrics bearer token (first line of path, at least 16 characters) and keeps
 * only its hash. */
static int load_metrics_token(struct srv *s, const char *path, struct error *err)
{
    char buf[512];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return error_set(err, ERR_IO, "server.metrics_token_file", "cannot open %s", path);
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0)
        return error_set(err, ERR_IO, "server.metrics_token_file", "cannot read %s", path);
    buf[n] = 0;
    buf[strcspn(buf, "\r\n")] = 0;
    size_t len = strlen(buf);
    int rc = 0;
    if (len < 16)
        rc = error_set(err, ERR_INVALID, "server.metrics_token_file",
                       "%s: the token must be at least 16 characters", path);
    else {
        crypto_generichash(s->metrics_token_hash, sizeof(s->metrics_token_hash),
                           (const unsigned char *)buf, len, NULL, 0);
        s->have_metrics_token = true;
    }
    sodium_memzero(buf, sizeof(buf));
    return rc;
}

static void free_srv(struct srv *s)
{
    if (!s)
        return;
    for (int i = 0; i < SRV_DB_CONNS; i++)
        store_close(s->conns[i]);
    if (s->limiter) {
        auth_limiter_destroy(s->limiter);
        free(s->limiter);
    }
    pthread_mutex_destroy(&s->st_lock);
    pthread_cond_destroy(&s->st_cond);
    pthread_mutex_destroy(&s->m_lock);
    pthread_mutex_destroy(&s->c_lock);
    sodium_memzero(s->metrics_token_hash, sizeof(s->metrics_token_hash));
    free(s);
}

/* The second daemon, on server.token_listen: the same routes and limits, its own accept
 * policy (no trusted proxy). */
static int start_token_listener(struct srv *s, struct error *err)
{
    const struct config *cfg = s->cfg;
    struct sockaddr_in sa;
    int rc = parse_listen("server.token_listen", cfg->server.token_listen, &sa, err);
    if (rc < 0)
        return rc;
    s->d_token = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ITC |
            MHD_USE_ERROR_LOG,
        ntohs(sa.sin_port), on_accept_token, s, on_request, s, MHD_OPTION_NOTIFY_CONNECTION,
        on_connection, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->server.request_timeout_seconds,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->server.max_connections,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
    if (!s->d_token)
        return error_set(err, ERR_IO, "server.token_listen", "cannot listen on %s",
                         cfg->server.token_listen);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d_token, MHD_DAEMON_INFO_BIND_PORT);
    s->token_port = di ? di->port : ntohs(sa.sin_port);
    return 0;
}

int srv_start(const struct config *cfg, const struct pool *pool, struct srv **ret,
              struct error *err)
{
    struct sockaddr_in sa;
    int rc = parse_listen("server.listen", cfg->server.listen, &sa, err);
    if (rc < 0)
        return rc;
    struct srv *s = calloc(1, sizeof(*s));
    if (!s)
        return error_set(err, ERR_NOMEM, NULL, "out of memory");
    s->cfg = cfg;
    s->pool = *pool;
    pthread_mutex_init(&s->st_lock, NULL);
    pthread_cond_init(&s->st_cond, NULL);
    pthread_mutex_init(&s->m_lock, NULL);
    pthread_mutex_init(&s->c_lock, NULL);
    parse_trusted(s, cfg->server.trusted_sources);
    if (cfg->server.metrics_token_file && *cfg->server.metrics_token_file) {
        rc = load_metrics_token(s, cfg->server.metrics_token_file, err);
        if (rc < 0)
            goto out;
    }
    s->limiter = malloc(sizeof(*s->limiter));
    if (!s->limiter) {
        rc = error_set(err, ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    auth_limiter_init(s->limiter, cfg->auth.login_max_failures, cfg->auth.login_window_seconds);
    /* Capacity and admission queries allocate a few MB per request (result rows, spans,
     * sweep events) on the worker threads' malloc arenas. Keep freed memory mapped instead
     * of returning it to the kernel after each request: otherwise every request pays for
     * the page faults of refilling it (most of its CPU time with 10,000 bookings). */
    mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 128 * 1024 * 1024);
    for (int i = 0; i < SRV_DB_CONNS; i++) {
        rc = store_open(cfg->database.url, &s->conns[i], err);
        if (rc < 0)
            goto out;
    }
    /* One thread per connection (bounded by server.max_connections and the request
     * timeout): a request waits only for a free store connection, never behind another
     * connection's request on a shared worker thread (lower tail latency than a pool of 4
     * workers multiplexing keep-alive connections). */
    s->d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                                MHD_USE_ITC | MHD_USE_ERROR_LOG,
                            ntohs(sa.sin_port), on_accept, s, on_request, s,
                            MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned)cfg->server.request_timeout_seconds,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->server.max_connections,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
    if (!s->d) {
        rc = error_set(err, ERR_IO, "server.listen", "cannot listen on %s", cfg->server.listen);
        goto out;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : ntohs(sa.sin_port);
    if (*cfg->server.token_listen) {
        rc = start_token_listener(s, err);
        if (rc < 0) {
            MHD_stop_daemon(s->d);
            goto out;
        }
    }
    *ret = s;
    return 0;
out:
    free_srv(s);
    return rc;
}

int srv_port(const struct srv *s)
{
    return s->port;
}

int srv_token_port(const struct srv *s)
{
    return s->token_port;
}

/* Connections still open on d (0 for no daemon). */
static unsigned open_connections(struct MHD_Daemon *d)
{
    if (!d)
        return 0;
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    return di ? di->num_connections : 0;
}

void srv_stop(struct srv *s, int drain_ms)
{
    if (!s)
        return;
    MHD_socket fd = MHD_quiesce_daemon(s->d);
    MHD_socket tfd = s->d_token ? MHD_quiesce_daemon(s->d_token) : MHD_INVALID_SOCKET;
    int64_t deadline = time_mono_ms() + drain_ms;
    while (time_mono_ms() < deadline) {
        if (open_connections(s->d) + open_connections(s->d_token) == 0)
            break;
        usleep(20 * 1000);
    }
    MHD_stop_daemon(s->d);
    if (s->d_token)
        MHD_stop_daemon(s->d_token);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    if (tfd != MHD_INVALID_SOCKET)
        close(tfd);
    free_srv(s);
}
