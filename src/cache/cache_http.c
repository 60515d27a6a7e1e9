/* HTTP endpoint of the cache daemon (libmicrohttpd). */
#include "cache/cache_http.h"
#include "common/log.h"
#include "common/portfile.h"
#include "common/strbuf.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BODY_LIMIT 16384
/* Connections in all and from one address: the port is reachable from the node's pods, and
 * one client must not be able to take every connection (kubelet probes, Prometheus and the
 * reconciler's prefetches come from other addresses). */
#define CACHE_HTTP_MAX_CONNECTIONS 64
#define CACHE_HTTP_MAX_PER_CLIENT 8

struct cache_http {
    struct MHD_Daemon *mhd;
    struct cache_daemon *d;
    int port; /* the bound port */
    char token[256];
};

struct req {
    struct sb_body body; /* capped at BODY_LIMIT */
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
                             char *body)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, json_t *doc)
{
    char *s = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (!s)
        s = strdup("{}");
    return reply(c, status, "application/json", s);
}

static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *code,
                                   const char *field, const char *msg)
{
    json_t *e = json_pack("{s:s, s:s}", "code", code, "message", msg);
    if (field && *field)
        json_object_set_new(e, "field", json_string(field));
    return reply_json(c, status, json_pack("{s:o}", "error", e));
}

static int authorized(const struct cache_http *h, struct MHD_Connection *c)
{
    const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!h->token[0] || !a || strncmp(a, "Bearer ", 7))
        return 0;
    a += 7;
    size_t n = strlen(h->token);
    return strlen(a) == n && sodium_memcmp(a, h->token, n) == 0;
}

static enum MHD_Result prefetch(struct cache_http *h, struct MHD_Connection *c, struct req *rq)
{
    if (!authorized(h, c))
        return reply_error(c, h->token[0] ? 401 : 403,
                           h->token[0] ? "unauthenticated" : "forbidden", NULL,
                           h->token[0] ? "a valid admin bearer token is required"
                                       : "prefetch is disabled: no admin token is configured");
    json_error_t je;
    json_t *b = json_loadb(rq->body.sb.buf, rq->body.sb.len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(b)) {
        json_decref(b);
        return reply_error(c, 400, "invalid", NULL, "the body must be a JSON object");
    }
    const char *k;
    json_t *v;
    json_object_foreach(b, k, v)
    {
        if (strcmp(k, "name") && strcmp(k, "url") && strcmp(k, "sha256") && strcmp(k, "size") &&
            strcmp(k, "pinned")) {
            json_decref(b);
            return reply_error(c, 400, "invalid", k, "unknown field");
        }
    }
    json_t *size = json_object_get(b, "size"), *pinned = json_object_get(b, "pinned");
    if ((size && !json_is_integer(size)) || (pinned && !json_is_boolean(pinned))) {
        json_decref(b);
        return reply_error(c, 400, "invalid", size && !json_is_integer(size) ? "size" : "pinned",
                           "wrong type");
    }
    struct error err = {0};
    char name[CONFIG_ARTIFACT_NAME_MAX];
    snprintf(name, sizeof(name), "%s",
             json_is_string(json_object_get(b, "name"))
                 ? json_string_value(json_object_get(b, "name"))
                 : "");
    int r = cache_daemon_prefetch(h->d, json_string_value(json_object_get(b, "name")),
                                  json_string_value(json_object_get(b, "url")),
                                  json_string_value(json_object_get(b, "sha256")),
                                  size ? json_integer_value(size) : 0, json_is_true(pinned), &err);
    json_decref(b);
    if (r == -ERR_EXISTS)
        return reply_error(c, 409, "conflict", err.field, err.message);
    if (r == -ERR_INVALID || r == -ERR_TOO_LARGE)
        return reply_error(c, 400, "invalid", err.field, err.message);
    if (r < 0) /* the list of prefetched artifacts could not be made durable */
        return reply_error(c, 500, "internal", err.field, err.message);
    log_info("cache prefetch queued", "name=\"%s\"", name);
    return reply_json(c, 202, json_pack("{s:s}", "state", "queued"));
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *size, void **con_cls)
{
    struct cache_http *h = cls;
    struct req *rq = *con_cls;
    if (!rq) {
        if (!(rq = calloc(1, sizeof(*rq))))
            return MHD_NO;
        rq->body = (struct sb_body)SB_BODY_INIT(BODY_LIMIT);
        *con_cls = rq;
        return MHD_YES;
    }
    if (*size) {
        if (sb_body_add(&rq->body, data, *size) == -ERR_NOMEM)
            return MHD_NO;
        *size = 0;
        return MHD_YES;
    }
    int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    if (!strcmp(url, "/healthz"))
        return get ? reply(c, 200, "text/plain", strdup("ok\n"))
                   : reply_error(c, 405, "method_not_allowed", NULL, "use GET");
    if (!strcmp(url, "/status"))
        return get ? reply_json(c, 200, cache_daemon_status(h->d))
                   : reply_error(c, 405, "method_not_allowed", NULL, "use GET");
    if (!strcmp(url, "/metrics")) {
        char *m = NULL;
        if (!get)
            return reply_error(c, 405, "method_not_allowed", NULL, "use GET");
        if (cache_daemon_metrics(h->d, &m) < 0)
            return reply_error(c, 500, "internal", NULL, "out of memory");
        return reply(c, 200, "text/plain; version=0.0.4", m);
    }
    if (!strcmp(url, "/prefetch")) {
        if (strcmp(method, "POST"))
            return reply_error(c, 405, "method_not_allowed", NULL, "use POST");
        if (rq->body.too_large)
            return reply_error(c, 413, "too_large", NULL, "the body is larger than 16 KiB");
        return prefetch(h, c, rq);
    }
    return reply_error(c, 404, "not_found", NULL, "no such path");
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode t)
{
    struct req *rq = *con_cls;
    if (rq) {
        sb_release(&rq->body.sb);
        free(rq);
    }
    *con_cls = NULL;
}

int cache_http_start(struct cache_daemon *d, const char *listen, const char *token,
                     struct cache_http **ret, struct error *err)
{
    char host[128];
    int port;
    int rc = listen_split(listen, host, sizeof(host), &port, "cache.listen", err);
    if (rc < 0)
        return rc;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return error_set(err, ERR_INVALID, "cache.listen",
                         "cache.listen: \"%s\" is not an IPv4 address and port", listen);
    struct cache_http *h = calloc(1, sizeof(*h));
    if (!h)
        return error_set(err, ERR_NOMEM, "", "out of memory");
    h->d = d;
    snprintf(h->token, sizeof(h->token), "%s", token ? token : "");
    h->mhd = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, handle, h,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)CACHE_HTTP_MAX_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)CACHE_HTTP_MAX_PER_CLIENT, MHD_OPTION_END);
    if (!h->mhd) {
        free(h);
        return error_set(err, ERR_IO, "cache.listen", "cannot listen on %s", listen);
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di ? di->port : port;
    *ret = h;
    return 0;
}

int cache_http_port(const struct cache_http *h)
{
    return h->port;
}

void cache_http_stop(struct cache_http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->mhd);
    free(h);
}
