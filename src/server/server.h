/* The HTTP server: libmicrohttpd with a thread per connection, a
 * routing table (method + path pattern -> handler), request-body limits, per-route
 * authentication, JSON responses and errors as in API.md, the static web UI, structured
 * request logs and Prometheus metrics.
 *
 * DESIGN: every request runs to completion on its connection's MHD thread. Before the
 * handler runs, the server borrows one store connection from a small shared pool (waiting
 * while all are busy) and resolves the caller. Handlers fill the
 * response through srv_reply()/srv_fail(); the server sends it, logs one line and counts it.
 * New endpoints are one row in api_routes[] (api.c). */
#ifndef GPUAAS_SERVER_SERVER_H
#define GPUAAS_SERVER_SERVER_H

#include "common/error.h"
#include "core/config.h"
#include "core/pool.h"
#include "store/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct srv;

/* SRV_METRICS: the metrics bearer token (server.metrics_token_file) or an admin. */
enum srv_auth { SRV_PUBLIC, SRV_USER, SRV_ADMIN, SRV_METRICS };

#define SRV_MAX_IDS 2

/* One request as a handler sees it. Everything is owned by the server and lives until the
 * response has been sent. */
struct srv_req {
    struct srv *srv;
    const struct config *cfg;
    const struct pool *pool;
    const char *method;
    const char *path;
    const char *body; /* not NUL-terminated; body_len bytes */
    size_t body_len;
    int64_t ids[SRV_MAX_IDS]; /* {id} path parameters in order */
    char client[64];          /* client IP address (from X-Forwarded-For behind a trusted proxy) */
    char peer[64];            /* the address that opened the connection */
    bool token_listener;      /* came in on server.token_listen: bearer tokens only */
    int64_t token_id;         /* the bearer token used, 0 for the trusted header */
    int64_t token_expires_at; /* its expiry (0 for the trusted header) */
    bool token_is_login;      /* the token came from a password login, not POST /tokens */
    struct store *st;         /* borrowed connection, NULL for routes without the store */
    struct user user;         /* the caller (SRV_USER/SRV_ADMIN routes) */
    int64_t now;

    /* response, filled by srv_reply/srv_fail/srv_reply_text */
    int status;
    json_t *json;
    char *text;
    const char *content_type;
    long retry_after;
    char location[512];   /* "" or the Location header of a redirect */
    char set_cookie[256]; /* "" or one Set-Cookie header */
    void *conn;           /* struct MHD_Connection */
};

typedef void (*srv_handler)(struct srv_req *r);

struct srv_route {
    const char *method;
    const char *pattern; /* "/api/v1/reservations/{id}/cancel" */
    srv_handler handler;
    enum srv_auth auth;
    bool store;          /* needs a store connection */
    const char *summary; /* the operation summary in openapi.json (test_openapi checks) */
};

/* The routing table (api.c). */
extern const struct srv_route api_routes[];
extern const size_t api_n_routes;

/* Starts serving per cfg (listen, web_root, limits, trusted header) with a pool of store
 * connections to cfg->database.url. cfg must outlive the server. 0 or -ERR_* with err. */
int srv_start(const struct config *cfg, const struct pool *pool, struct srv **ret,
              struct error *err);
/* Stops accepting, waits up to drain_ms for in-flight requests, then shuts down and frees. */
void srv_stop(struct srv *s, int drain_ms);
/* The port actually bound (useful with port 0). */
int srv_port(const struct srv *s);
/* The port server.token_listen bound, 0 when it is not configured. */
int srv_token_port(const struct srv *s);

/* Response helpers: take ownership of json / text. */
void srv_reply(struct srv_req *r, int status, json_t *json);
void srv_reply_text(struct srv_req *r, int status, const char *content_type, char *text);
/* Error body {"error":{"code","message"[,"field"]}} with the status for code (ERR_*). */
void srv_fail(struct srv_req *r, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void srv_fail_err(struct srv_req *r, const struct error *e);
/* Query parameter value or NULL. */
const char *srv_query(struct srv_req *r, const char *name);
/* Value of cookie `name` sent with the request, or NULL. */
const char *srv_cookie(struct srv_req *r, const char *name);
/* Checks every query parameter is one of names[] (NULL-terminated); fails r otherwise. */
bool srv_query_only(struct srv_req *r, const char *const *names);
/* Appends one audit entry for the caller and notifies listeners. */
void srv_audit(struct srv_req *r, const char *action, const char *target, const char *detail);
/* Failed-login limiter of the server. */
struct auth_limiter *srv_limiter(struct srv *s);
/* Prometheus text of the server's counters plus bookings by state (uses r->st). */
char *srv_metrics_text(struct srv_req *r);

#endif
