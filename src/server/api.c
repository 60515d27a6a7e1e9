/* REST API handlers and the routing table (API.md). Each handler validates its input, calls
 * the store, audits mutations and fills the response through srv_reply/srv_fail. */
#include "core/activity.h"
#include "core/advertised.h"
#include "core/tokenomics.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "core/calendar.h"
#include "core/session_plan.h"
#include "server/auth.h"
#include "server/gate.h"
#include "server/jdec.h"
#include "server/openapi.h"
#include "server/resreq.h"
#include "server/server.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RANGE_SECONDS (400LL * 86400)
#define MAX_SERIES_STEPS 2000
#define MAX_LIST 1000
#define MAX_WINDOWS 20

/* ---- JSON helpers ---- */

static json_t *jtime(int64_t t)
{
    char buf[RFC3339_LEN + 8];
    return t ? json_string(time_format_rfc3339(t, buf)) : json_null();
}

static json_t *user_json(const struct user *u)
{
    return json_pack("{s:I,s:s,s:s,s:b,s:b,s:o}", "id", (json_int_t)u->id, "username", u->username,
                     "role", u->role, "disabled", u->disabled, "sso", u->sso, "created_at",
                     jtime(u->created_at));
}

/* A booking as the API shows it. session.simulated: the cluster is a simulation
 * (cluster.simulated), so no workspace runs at session.url. */
static json_t *res_json(const struct srv_req *q, const struct reservation *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(r->id));
    json_object_set_new(o, "user", json_string(r->user));
    json_object_set_new(o, "gpu_type", json_string(r->gpu_type));
    json_object_set_new(o, "gpu_count", json_integer(r->gpu_count));
    json_object_set_new(o, "mode", json_string(res_mode_name(r->mode)));
    json_object_set_new(o, "cpu", json_integer(r->cpu));
    json_object_set_new(o, "memory_gib", json_integer(r->memory_gib));
    json_object_set_new(o, "storage_gib", json_integer(r->storage_gib));
    json_object_set_new(o, "purpose", json_string(r->purpose));
    json_object_set_new(o, "starts_at", jtime(r->starts_at));
    json_object_set_new(o, "ends_at", jtime(r->ends_at));
    json_object_set_new(o, "state", json_string(res_state_name(r->state)));
    json_object_set_new(o, "created_at", jtime(r->created_at));
    json_object_set_new(o, "updated_at", jtime(r->updated_at));
    json_object_set_new(o, "session",
                        json_pack("{s:s,s:s,s:s,s:s,s:b}", "namespace", r->session.namespace_,
                                  "url", r->session.url, "phase", r->session.phase, "message",
                                  r->session.message, "simulated", q->cfg->cluster.simulated));
    json_object_set_new(o, "admin_note", json_string(r->admin_note));
    return o;
}

static json_t *items(json_t *arr)
{
    return json_pack("{s:o}", "items", arr);
}

static bool is_admin(const struct srv_req *r)
{
    return !strcmp(r->user.role, "admin");
}

/* ---- query helpers ---- */

/* Parses query time `name`; absent: *ret = def, fails when required. */
static bool q_time(struct srv_req *r, const char *name, bool required, int64_t def, int64_t *ret)
{
    const char *v = srv_query(r, name);
    if (!v || !*v) {
        if (required) {
            srv_fail(r, ERR_INVALID, name, "%s is required (RFC 3339 time)", name);
            return false;
        }
        *ret = def;
        return true;
    }
    if (strlen(v) > 64 || time_parse_rfc3339(v, ret) < 0) {
        srv_fail(r, ERR_INVALID, name, "%s must be an RFC 3339 time", name);
        return false;
    }
    return true;
}

static bool q_int(struct srv_req *r, const char *name, bool required, long long def, long long min,
                  long long max, long long *ret)
{
    const char *v = srv_query(r, name);
    if (!v || !*v) {
        if (required) {
            srv_fail(r, ERR_INVALID, name, "%s is required", name);
            return false;
        }
        *ret = def;
        return true;
    }
    char *end;
    long long x = strtoll(v, &end, 10);
    if (*end || x < min || x > max || strlen(v) > 20) {
        srv_fail(r, ERR_INVALID, name, "%s must be an integer between %lld and %lld", name, min,
                 max);
        return false;
    }
    *ret = x;
    return true;
}

static bool q_range(struct srv_req *r, int64_t *from, int64_t *to)
{
    if (!q_time(r, "from", true, 0, from) || !q_time(r, "to", true, 0, to))
        return false;
    if (*to <= *from) {
        srv_fail(r, ERR_INVALID, "to", "to must be after from");
        return false;
    }
    if (*to - *from > MAX_RANGE_SECONDS) {
        srv_fail(r, ERR_INVALID, "to", "the range may span at most 400 days");
        return false;
    }
    return true;
}

static bool decode(struct srv_req *r, const struct jdec_field *f, size_t n, struct jdec_value *v)
{
    struct error e = {0};
    if (jdec_decode(r->body, r->body_len, f, n, v, &e) < 0) {
        srv_fail_err(r, &e);
        return false;
    }
    return true;
}

/* Routes that take no fields: an empty body or {} (anything else is refused, as everywhere:
 * a client sending fields we would ignore must learn it). */
static bool no_body(struct srv_req *r)
{
    return decode(r, NULL, 0, NULL);
}

static void internal(struct srv_req *r)
{
    srv_fail(r, ERR_INTERNAL, NULL, "internal error");
}

/* ---- pool as bookable now: configured, limited by what the cluster advertises ---- */

/* Applies the reconciler's published observation (kv "advertised", the format of
 * src/core/advertised.h) to p: admission never books more than the cluster advertises.
 * Returns the document (new reference) or NULL when none is published or it is unreadable. */
static json_t *apply_advertised(struct store *st, struct pool *p)
{
    char *text = NULL;
    int64_t updated = 0;
    if (store_kv_get(st, "advertised", &text, &updated) < 0)
        return NULL;
    json_t *doc = json_loads(text, 0, NULL);
    free(text);
    if (!doc || adv_apply(p, doc, NULL) < 0) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

static void live_pool(struct srv_req *r, struct pool *p)
{
    *p = *r->pool;
    json_decref(apply_advertised(r->st, p));
}

/* ---- health, metrics, openapi ---- */

static void h_healthz(struct srv_req *r)
{
    srv_reply(r, 200, json_pack("{s:s}", "status", "ok"));
}

static void h_readyz(struct srv_req *r)
{
    if (store_ping(r->st) < 0)
        srv_fail(r, ERR_UNAVAILABLE, NULL, "database unreachable");
    else
        srv_reply(r, 200,
                  json_pack("{s:s,s:s}", "status", "ready", "database", store_backend(r->st)));
}

static void h_metrics(struct srv_req *r)
{
    char *t = srv_metrics_text(r);
    if (!t)
        internal(r);
    else
        srv_reply_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", t);
}

/* The static description (src/server/openapi.json); tests/unit/test_openapi.c keeps it in
 * step with api_routes. */
static void h_openapi(struct srv_req *r)
{
    json_t *doc = json_loadb(api_openapi_json, api_openapi_json_len, JSON_REJECT_DUPLICATES, NULL);
    if (!doc) {
        internal(r);
        return;
    }
    srv_reply(r, 200, doc);
}

/* ---- auth, me, tokens ---- */

/* Creates a token for user_id; returns its JSON ({id,token,expires_at,name}) or NULL. */
static json_t *issue_token(struct srv_req *r, int64_t user_id, const char *name, long ttl)
{
    struct token t;
    char secret[AUTH_SECRET_TEXT], text[AUTH_TOKEN_TEXT];
    int64_t id;
    memset(&t, 0, sizeof(t));
    t.user_id = user_id;
    snprintf(t.name, sizeof(t.name), "%s", name);
    auth_new_secret(secret, t.hash);
    t.created_at = r->now;
    t.expires_at = r->now + ttl;
    if (store_token_create(r->st, &t, &id, NULL) < 0)
        return NULL;
    auth_format_token(id, secret, text);
    return json_pack("{s:I,s:s,s:s,s:o}", "id", (json_int_t)id, "name", t.name, "token", text,
                     "expires_at", jtime(t.expires_at));
}

static void h_login(struct srv_req *r)
{
    static const struct jdec_field f[] = {{"username", JD_STRING, true, 1, 63},
                                          {"password", JD_STRING, true, 1, 1024}};
    struct jdec_value v[2];
    struct user u;
    char ukey[96], akey[96];
    if (!decode(r, f, 2, v))
        return;
    /* Failures count per client address (the real one behind trusted proxies) and per
     * account from that address: a guesser is slowed down, but nobody can lock an account
     * (or everyone behind the router) out from elsewhere. */
    snprintf(ukey, sizeof(ukey), "acct:%.63s@%.24s", v[0].s, r->client);
    snprintf(akey, sizeof(akey), "addr:%s", r->client);
    long wait = auth_limiter_check(srv_limiter(r->srv), ukey, r->now);
    long wait2 = auth_limiter_check(srv_limiter(r->srv), akey, r->now);
    if (wait2 > wait)
        wait = wait2;
    if (wait > 0) {
        r->retry_after = wait;
        srv_fail(r, ERR_RATE, NULL, "Too many failed logins; retry in %ld seconds.", wait);
        return;
    }
    bool found = store_user_get_by_name(r->st, v[0].s, &u) == 0;
    bool ok = auth_verify_password(found ? u.password_hash : NULL, v[1].s);
    if (!ok || u.disabled) {
        auth_limiter_fail(srv_limiter(r->srv), ukey, r->now);
        auth_limiter_fail(srv_limiter(r->srv), akey, r->now);
        srv_fail(r, ERR_UNAUTH, NULL, "Wrong username or password.");
        return;
    }
    auth_limiter_reset(srv_limiter(r->srv), ukey);
    r->user = u;
    json_t *tok = issue_token(r, u.id, "login", r->cfg->auth.token_ttl_seconds);
    if (!tok) {
        internal(r);
        return;
    }
    json_t *out = json_pack("{s:O,s:O,s:{s:I,s:s,s:s}}", "token", json_object_get(tok, "token"),
                            "expires_at", json_object_get(tok, "expires_at"), "user", "id",
                            (json_int_t)u.id, "username", u.username, "role", u.role);
    json_decref(tok);
    srv_audit(r, "auth.login", "user/self", NULL);
    srv_reply(r, 200, out);
}

static void h_me(struct srv_req *r)
{
    srv_reply(r, 200,
              json_pack("{s:I,s:s,s:s}", "id", (json_int_t)r->user.id, "username", r->user.username,
                        "role", r->user.role));
}

static void h_token_create(struct srv_req *r)
{
    static const struct jdec_field f[] = {{"name", JD_STRING, true, 1, 63},
                                          {"ttl_seconds", JD_INT, false, 60, 366LL * 86400}};
    struct jdec_value v[2];
    if (!decode(r, f, 2, v))
        return;
    if (!strcmp(v[0].s, "login")) {
        srv_fail(r, ERR_INVALID, "name", "\"login\" is reserved for the tokens of a sign-in");
        return;
    }
    long ttl = v[1].present ? (long)v[1].i : r->cfg->auth.token_ttl_seconds;
    long max = r->cfg->auth.token_max_ttl_seconds;
    const char *why = "auth.token_max_ttl_seconds";
    /* An API token never outlives the API token that creates it: only a password login (or
     * the single sign-on proxy) may mint tokens up to the ceiling. */
    if (r->token_id && !r->token_is_login && r->token_expires_at - r->now < max) {
        max = (long)(r->token_expires_at - r->now);
        why = "the expiry of the token making this request";
    }
    if (ttl > max) {
        srv_fail(r, ERR_INVALID, "ttl_seconds",
                 "ttl_seconds may be at most %ld (%s); log in again for a longer-lived token", max,
                 why);
        return;
    }
    json_t *tok = issue_token(r, r->user.id, v[0].s, ttl);
    if (!tok) {
        internal(r);
        return;
    }
    char target[64];
    snprintf(target, sizeof(target), "token/%" PRId64,
             (int64_t)json_integer_value(json_object_get(tok, "id")));
    srv_audit(r, "token.create", target, NULL);
    srv_reply(r, 201, tok);
}

/* Replies with the tokens of user_id (never their secrets). */
static void reply_tokens(struct srv_req *r, int64_t user_id)
{
    struct token *t = NULL;
    size_t n = 0;
    if (store_token_list(r->st, user_id, &t, &n) < 0) {
        internal(r);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:I,s:s,s:o,s:o}", "id", (json_int_t)t[i].id, "name",
                                             t[i].name, "created_at", jtime(t[i].created_at),
                                             "expires_at", jtime(t[i].expires_at)));
    free(t);
    srv_reply(r, 200, items(arr));
}

static void h_token_list(struct srv_req *r)
{
    reply_tokens(r, r->user.id);
}

/* POST /auth/logout: revokes the token that made the request (the browser's or CLI's
 * login). Behind the single sign-on proxy there is no token: the proxy's sign-out applies. */
static void h_logout(struct srv_req *r)
{
    if (!no_body(r))
        return;
    if (r->token_id) {
        int rc = store_token_delete(r->st, r->user.id, r->token_id);
        if (rc < 0 && rc != -ERR_NOT_FOUND) {
            internal(r);
            return;
        }
        char target[64];
        snprintf(target, sizeof(target), "token/%" PRId64, r->token_id);
        srv_audit(r, "auth.logout", target, NULL);
    }
    srv_reply(r, 204, NULL);
}

static void h_user_tokens(struct srv_req *r)
{
    struct user u;
    if (store_user_get(r->st, r->ids[0], &u) < 0) {
        srv_fail(r, ERR_NOT_FOUND, NULL, "No such user.");
        return;
    }
    reply_tokens(r, u.id);
}

/* DELETE /tokens/{id}: a user deletes their own tokens; an admin any user's (audited with
 * the owner's name). */
static void h_token_delete(struct srv_req *r)
{
    if (!no_body(r))
        return;
    int64_t owner = r->user.id;
    char detail[96] = "";
    struct token t;
    struct user u;
    if (!strcmp(r->user.role, "admin") && store_token_get(r->st, r->ids[0], &t) == 0 &&
        t.user_id != r->user.id && store_user_get(r->st, t.user_id, &u) == 0) {
        owner = t.user_id;
        snprintf(detail, sizeof(detail), "owner=%s", u.username);
    }
    int rc = store_token_delete(r->st, owner, r->ids[0]);
    if (rc == -ERR_NOT_FOUND) {
        srv_fail(r, ERR_NOT_FOUND, NULL, "No such token.");
        return;
    }
    if (rc < 0) {
        internal(r);
        return;
    }
    char target[64];
    snprintf(target, sizeof(target), "token/%" PRId64, r->ids[0]);
    srv_audit(r, "token.delete", target, detail);
    srv_reply(r, 204, NULL);
}

/* ---- users (admin) ---- */

static bool valid_username(const char *s)
{
    if (!isalnum((unsigned char)s[0]))
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-')
            return false;
    return true;
}

static bool valid_role(const char *s)
{
    return !strcmp(s, "user") || !strcmp(s, "admin");
}

static void h_user_create(struct srv_req *r)
{
    static const struct jdec_field f[] = {{"username", JD_STRING, true, 1, 63},
                                          {"password", JD_STRING, true, 8, 1024},
                                          {"role", JD_STRING, false, 1, 15},
                                          {"sso", JD_BOOL, false, 0, 0}};
    struct jdec_value v[4];
    struct user u;
    struct error e = {0};
    if (!decode(r, f, 4, v))
        return;
    if (!valid_username(v[0].s)) {
        srv_fail(r, ERR_INVALID, "username",
                 "username may hold letters, digits, '.', '_' and '-' and starts alphanumeric");
        return;
    }
    if (v[2].present && !valid_role(v[2].s)) {
        srv_fail(r, ERR_INVALID, "role", "role must be user or admin");
        return;
    }
    memset(&u, 0, sizeof(u));
    snprintf(u.username, sizeof(u.username), "%s", v[0].s);
    snprintf(u.role, sizeof(u.role), "%s", v[2].present ? v[2].s : "user");
    u.sso = v[3].present && v[3].b;
    u.created_at = r->now;
    if (auth_hash_password(v[1].s, u.password_hash, sizeof(u.password_hash)) < 0) {
        internal(r);
        return;
    }
    int rc = store_user_create(r->st, &u, &u.id, &e);
    if (rc == -ERR_EXISTS) {
        srv_fail(r, ERR_EXISTS, "username", "A user named \"%s\" exists.", u.username);
        return;
    }
    if (rc < 0) {
        internal(r);
        return;
    }
    char target[96], detail[64];
    snprintf(target, sizeof(target), "user/%s", u.username);
    snprintf(detail, sizeof(detail), "role=%s%s", u.role, u.sso ? " sso=linked" : "");
    srv_audit(r, "user.create", target, detail);
    srv_reply(r, 201, user_json(&u));
}

static void h_user_list(struct srv_req *r)
{
    struct user *u = NULL;
    size_t n = 0;
    if (store_user_list(r->st, &u, &n) < 0) {
        internal(r);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, user_json(&u[i]));
    free(u);
    srv_reply(r, 200, items(arr));
}

/* Cancels every booking of u that has not ended (store_user_end_bookings), auditing each.
 * *ret_n receives the count. 0 or -ERR_*. */
static int end_bookings_of(struct srv_req *r, const struct user *u, int64_t *ret_n)
{
    int64_t *ids = NULL;
    size_t n = 0;
    int rc = store_user_end_bookings(r->st, u->id, r->now, &ids, &n);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        char target[64];
        snprintf(target, sizeof(target), "reservation/%" PRId64, ids[i]);
        srv_audit(r, "reservation.cancel", target, "owner disabled");
    }
    free(ids);
    *ret_n = (int64_t)n;
    return 0;
}

static void h_user_update(struct srv_req *r)
{
    static const struct jdec_field f[] = {{"disabled", JD_BOOL, false, 0, 0},
                                          {"role", JD_STRING, false, 1, 15},
                                          {"password", JD_STRING, false, 8, 1024},
                                          {"sso", JD_BOOL, false, 0, 0}};
    struct jdec_value v[4];
    struct user u;
    char hash[160];
    if (!decode(r, f, 4, v))
        return;
    if (!v[0].present && !v[1].present && !v[2].present && !v[3].present) {
        srv_fail(r, ERR_INVALID, "body", "give at least one of disabled, role, password, sso");
        return;
    }
    if (v[1].present && !valid_role(v[1].s)) {
        srv_fail(r, ERR_INVALID, "role", "role must be user or admin");
        return;
    }
    if (store_user_get(r->st, r->ids[0], &u) < 0) {
        srv_fail(r, ERR_NOT_FOUND, NULL, "No such user.");
        return;
    }
    if (u.id == r->user.id &&
        ((v[0].present && v[0].b) || (v[1].present && strcmp(v[1].s, "admin")))) {
        srv_fail(r, ERR_INVALID, v[0].present && v[0].b ? "disabled" : "role",
                 "an admin cannot disable or demote their own account");
        return;
    }
    if (v[2].present && auth_hash_password(v[2].s, hash, sizeof(hash)) < 0) {
        internal(r);
        return;
    }
    bool was_disabled = u.disabled;
    if (store_user_update(r->st, u.id, v[0].present ? &v[0].b : NULL, v[1].present ? v[1].s : NULL,
                          v[2].present ? hash : NULL, NULL) < 0 ||
        (v[3].present && store_user_set_sso(r->st, u.id, v[3].b) < 0) ||
        store_user_get(r->st, u.id, &u) < 0) {
        internal(r);
        return;
    }
    /* A new password or a disabled account ends every existing token (an admin resetting
     * their own password keeps the one in use); disabling also ends the user's sessions and
     * cancels their bookings, so nothing they booked keeps running or starts later. */
    int64_t revoked = 0, ended = 0;
    bool disabling = v[0].present && v[0].b && !was_disabled;
    if ((v[2].present || disabling) &&
        store_token_delete_user(r->st, u.id, u.id == r->user.id ? r->token_id : 0, &revoked) < 0) {
        internal(r);
        return;
    }
    if (disabling && end_bookings_of(r, &u, &ended) < 0) {
        internal(r);
        return;
    }
    char target[96], detail[192];
    snprintf(target, sizeof(target), "user/%s", u.username);
    snprintf(detail, sizeof(detail),
             "%s%s%s%s%s%s%s tokens_revoked=%" PRId64 " bookings_ended=%" PRId64,
             v[0].present ? "disabled=" : "", v[0].present ? (v[0].b ? "true " : "false ") : "",
             v[1].present ? "role=" : "", v[1].present ? v[1].s : "",
             v[2].present ? " password=changed" : "", v[3].present ? " sso=" : "",
             v[3].present ? (v[3].b ? "linked" : "unlinked") : "", revoked, ended);
    srv_audit(r, "user.update", target, detail);
    srv_reply(r, 200, user_json(&u));
}

/* ---- pool, capacity, availability ---- */

/* Ids of the bookings of resource index i that, from now on, take part in using more units
 * than the cluster advertises: admitted before the cluster shrank, they cannot all run as
 * booked. Never dropped: shown to admins to move or cancel. NULL on a store failure. */
static json_t *beyond_advertised(struct srv_req *r, const struct pool *p,
                                 const struct cal_busy *busy, int i)
{
    int64_t *ids = NULL;
    size_t n = 0;
    if (cal_over_capacity(busy->spans[i], busy->n[i], pool_bookable(&p->res[i]), r->now, &ids, &n) <
        0)
        return NULL;
    json_t *out = json_array();
    for (size_t k = 0; out && k < n; k++)
        json_array_append_new(out, json_integer(ids[k]));
    free(ids);
    return out;
}

static void h_pool(struct srv_req *r)
{
    struct pool p = *r->pool;
    json_t *adv = apply_advertised(r->st, &p);
    json_t *res = json_array();
    /* the bookings from now on, read once for every resource that needs them */
    struct cal_busy busy = {0};
    bool have_busy = false;
    for (int i = 0; i < p.n; i++) {
        const struct pool_resource *x = &p.res[i];
        json_t *o = json_pack("{s:s,s:s,s:i,s:i,s:i}", "name", x->name, "kind",
                              pool_kind_name(x->kind), "physical", x->physical, "bookable",
                              pool_bookable(x), "max_per_node", x->max_per_node);
        if (pool_is_gpu(x)) {
            json_object_set_new(o, "slots_per_unit", json_integer(x->slots_per_unit));
            json_object_set_new(o, "slots", json_integer(x->slots));
            json_object_set_new(o, "memory_gib", json_integer(x->memory_gib));
            json_object_set_new(o, "isolation", json_string(pool_isolation(x)));
            json_object_set_new(o, "turnaround_seconds", json_integer(x->turnaround_s));
        }
        if (x->advertised >= 0) {
            json_object_set_new(o, "advertised", json_integer(x->advertised));
            json_object_set_new(o, "drift", json_integer(x->advertised - x->physical));
        }
        if (is_admin(r) && pool_bookable(x) < x->physical) {
            json_t *ids = NULL;
            if (have_busy || store_busy(r->st, &p, r->now, INT64_MAX, true, &busy, NULL) == 0) {
                have_busy = true;
                ids = beyond_advertised(r, &p, &busy, i);
            }
            if (!ids) {
                cal_busy_free(&busy);
                json_decref(res);
                json_decref(adv);
                json_decref(o);
                internal(r);
                return;
            }
            json_object_set_new(o, "beyond_advertised", ids);
        }
        json_array_append_new(res, o);
    }
    cal_busy_free(&busy);
    json_t *nodes = json_array();
    for (int i = 0; i < r->cfg->pool.n_nodes; i++) {
        const struct config_node *n = &r->cfg->pool.nodes[i];
        json_t *gpus = json_array();
        for (int g = 0; g < n->n_gpus; g++) {
            const struct config_gpu *gp = &n->gpus[g];
            json_t *mig = json_array();
            for (int k = 0; !gp->whole && k < gp->n_slices; k++)
                json_array_append_new(mig, json_pack("{s:s,s:i}", "profile", gp->slices[k].profile,
                                                     "count", gp->slices[k].count));
            json_array_append_new(gpus, json_pack("{s:i,s:s,s:i,s:b,s:o}", "index", g, "model",
                                                  gp->model, "memory_gib", gp->memory_gib, "whole",
                                                  gp->whole, "mig", mig));
        }
        json_array_append_new(nodes, json_pack("{s:s,s:i,s:i,s:i,s:o}", "name", n->name, "cpu",
                                               n->cpu, "memory_gib", n->memory_gib, "storage_gib",
                                               n->storage_gib, "gpus", gpus));
    }
    json_t *out = json_pack("{s:o,s:o}", "resources", res, "nodes", nodes);
    json_object_set_new(out, "advertised", adv ? adv : json_null());
    /* the rules a booking must obey and the defaults it gets (config session.*) */
    const struct config *c = r->cfg;
    json_object_set_new(
        out, "session",
        json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "cpu", (json_int_t)c->session.cpu, "memory_gib",
                  (json_int_t)c->session.memory_gib, "storage_gib",
                  (json_int_t)c->session.storage_gib, "max_gpus", (json_int_t)c->session.max_gpus,
                  "max_hours", (json_int_t)c->session.max_hours, "max_advance_days",
                  (json_int_t)c->session.max_advance_days, "start_grace_seconds",
                  (json_int_t)c->session.start_grace_seconds));
    json_t *rules = json_object_get(out, "session");
    json_object_set_new(rules, "ephemeral_gib", json_integer(c->session.ephemeral_gib));
    json_object_set_new(rules, "turnaround_seconds", json_integer(c->session.turnaround_seconds));
    json_object_set_new(out, "cluster", json_pack("{s:b}", "simulated", c->cluster.simulated));
    srv_reply(r, 200, out);
}

static bool list_holding(struct srv_req *r, int64_t from, int64_t to, struct reservation **ret,
                         size_t *ret_n)
{
    struct res_filter f = {.from = from, .to = to, .state = -1, .holds_capacity = true};
    if (store_reservation_list(r->st, &f, ret, ret_n) < 0) {
        internal(r);
        return false;
    }
    return true;
}

static void h_capacity(struct srv_req *r)
{
    static const char *const names[] = {"from", "to", "step", NULL};
    int64_t from, to;
    long long step;
    struct cal_busy busy = {0};
    struct pool p;
    if (!srv_query_only(r, names) || !q_range(r, &from, &to) ||
        !q_int(r, "step", false, 3600, 60, 31LL * 86400, &step))
        return;
    size_t steps = (size_t)((to - from + step - 1) / step);
    if (steps > MAX_SERIES_STEPS) {
        srv_fail(r, ERR_INVALID, "step", "at most %d steps; use a larger step", MAX_SERIES_STEPS);
        return;
    }
    live_pool(r, &p);
    /* One query for the range, then one sweep per resource for all steps. */
    int *freev = calloc(steps, sizeof(int));
    if (!freev || store_busy(r->st, &p, from, to, false, &busy, NULL) < 0) {
        free(freev);
        cal_busy_free(&busy);
        internal(r);
        return;
    }
    json_t *series = json_array();
    for (int i = 0; i < p.n; i++) {
        if (cal_free_series_spans(&p.res[i], busy.spans[i], busy.n[i], from, to, step, freev,
                                  steps) < 0)
            continue;
        json_t *arr = json_array();
        for (size_t k = 0; k < steps; k++)
            json_array_append_new(arr, json_integer(freev[k]));
        json_array_append_new(series,
                              json_pack("{s:s,s:o}", "resource", p.res[i].name, "free", arr));
    }
    free(freev);
    cal_busy_free(&busy);
    srv_reply(r, 200,
              json_pack("{s:o,s:o,s:I,s:o}", "from", jtime(from), "to", jtime(to), "step",
                        (json_int_t)step, "series", series));
}

/* The earliest window that fits, or with count the next `count` windows that do not overlap
 * one another (each found from the end of the one before), all ending by latest_end. */
static void h_availability(struct srv_req *r)
{
    static const char *const names[] = {
        "gpu_type", "gpu_count", "duration_seconds", "after", "count", "latest_end", NULL};
    struct reservation req;
    long long count, dur, want;
    int64_t after, latest;
    struct pool p;
    if (!srv_query_only(r, names))
        return;
    const char *type = srv_query(r, "gpu_type");
    const struct pool_resource *res = type ? pool_find(r->pool, type) : NULL;
    if (!res || !pool_is_gpu(res)) {
        srv_fail(r, ERR_INVALID, "gpu_type", "unknown GPU type");
        return;
    }
    long long limit =
        r->cfg->session.max_gpus < res->max_per_node ? r->cfg->session.max_gpus : res->max_per_node;
    int64_t horizon = r->now + r->cfg->session.max_advance_days * 86400LL;
    if (!q_int(r, "gpu_count", false, 1, 1, limit, &count) ||
        !q_int(r, "duration_seconds", true, 0, 60, r->cfg->session.max_hours * 3600LL, &dur) ||
        !q_time(r, "after", false, r->now, &after) ||
        !q_int(r, "count", false, 1, 1, MAX_WINDOWS, &want) ||
        !q_time(r, "latest_end", false, horizon, &latest))
        return;
    if (after < r->now)
        after = r->now;
    if (latest > horizon)
        latest = horizon;
    if (latest - dur < after) { /* without latest_end: nothing fits before the horizon */
        const char *given = srv_query(r, "latest_end");
        if (given && *given)
            srv_fail(r, ERR_INVALID, "latest_end",
                     "latest_end leaves no room for the duration after the earliest start");
        else
            srv_fail(r, ERR_NOT_FOUND, NULL,
                     "No window of that size fits before the booking horizon.");
        return;
    }
    memset(&req, 0, sizeof(req));
    snprintf(req.gpu_type, sizeof(req.gpu_type), "%s", res->name);
    req.gpu_count = (int)count;
    req.cpu = (int)r->cfg->session.cpu;
    req.memory_gib = (int)r->cfg->session.memory_gib;
    req.storage_gib = (int)r->cfg->session.storage_gib;
    req.starts_at = after;
    req.ends_at = after + dur;
    struct reservation *ex = NULL;
    size_t n = 0;
    if (!list_holding(r, after, latest, &ex, &n))
        return;
    live_pool(r, &p);
    json_t *windows = json_array();
    struct window w = {0, 0};
    int64_t from = after;
    for (long long k = 0; k < want && from + dur <= latest; k++) {
        if (cal_next_window(&p, ex, n, &req, from, latest - dur + 1, &w) < 0 || w.ends_at > latest)
            break;
        json_array_append_new(windows, json_pack("{s:o,s:o}", "starts_at", jtime(w.starts_at),
                                                 "ends_at", jtime(w.ends_at)));
        from = w.ends_at;
    }
    free(ex);
    json_t *first = json_array_get(windows, 0);
    if (!first) {
        json_decref(windows);
        srv_fail(r, ERR_NOT_FOUND, NULL, "No window of that size fits before the booking horizon.");
        return;
    }
    json_t *out = json_pack("{s:O,s:O,s:o}", "starts_at", json_object_get(first, "starts_at"),
                            "ends_at", json_object_get(first, "ends_at"), "windows", windows);
    srv_reply(r, 200, out);
}

/* ---- reservations ---- */

static void res_target(char *buf, size_t n, int64_t id)
{
    snprintf(buf, n, "reservation/%" PRId64, id);
}

static void h_res_create(struct srv_req *r)
{
    struct reservation res;
    struct error e = {0};
    struct window next = {0, 0};
    struct pool p;
    if (resreq_decode(r->body, r->body_len, r->cfg, r->pool, r->now, &res, &e) < 0) {
        srv_fail_err(r, &e);
        return;
    }
    res.user_id = r->user.id;
    snprintf(res.user, sizeof(res.user), "%s", r->user.username);
    /* What the session plan would refuse at the start is refused now. */
    if (session_plan_check_booking(&res, r->cfg, r->pool, &e) < 0) {
        srv_fail_err(r, &e);
        return;
    }
    live_pool(r, &p);
    int rc = store_reservation_admit(r->st, &p, &res, r->now, &next, &e);
    if (rc == -ERR_CONFLICT) {
        json_t *body = json_pack("{s:{s:s,s:s}}", "error", "code", "capacity_conflict", "message",
                                 e.message[0] ? e.message : "The request does not fit.");
        json_object_set_new(json_object_get(body, "error"), "next_available",
                            next.ends_at
                                ? json_pack("{s:o,s:o}", "starts_at", jtime(next.starts_at),
                                            "ends_at", jtime(next.ends_at))
                                : json_null());
        srv_reply(r, 409, body);
        return;
    }
    if (rc == -ERR_INVALID) {
        srv_fail_err(r, &e);
        return;
    }
    if (rc < 0) {
        internal(r);
        return;
    }
    /* The admission transaction already notified listeners: only the audit entry is left.
     * res holds the row as inserted (the store fills id, state and timestamps). */
    struct audit_entry a = {.at = r->now};
    char sa[RFC3339_LEN], sb[RFC3339_LEN];
    snprintf(a.actor, sizeof(a.actor), "%s", r->user.username);
    snprintf(a.action, sizeof(a.action), "reservation.create");
    res_target(a.target, sizeof(a.target), res.id);
    snprintf(a.detail, sizeof(a.detail), "%s x%d %s %s..%s", res.gpu_type, res.gpu_count,
             res_mode_name(res.mode), time_format_rfc3339(res.starts_at, sa),
             time_format_rfc3339(res.ends_at, sb));
    if (store_audit_add(r->st, &a) < 0)
        log_error("audit write failed", "action=%s target=%s", a.action, a.target);
    srv_reply(r, 201, res_json(r, &res));
}

/* Query "cursor" as a list answer's next_cursor wrote it: "<starts_at>.<id>" (decimal). */
static bool q_res_cursor(struct srv_req *r, int64_t *start, int64_t *id)
{
    const char *v = srv_query(r, "cursor");
    *start = *id = 0;
    if (!v || !*v)
        return true;
    char *end;
    long long a = strtoll(v, &end, 10), b = 0;
    bool ok = strlen(v) <= 42 && end != v && *end == '.' && isdigit((unsigned char)end[1]);
    if (ok) {
        const char *idp = end + 1;
        b = strtoll(idp, &end, 10);
        ok = !*end && b > 0 && b < INT64_MAX;
    }
    if (!ok) {
        srv_fail(r, ERR_INVALID, "cursor",
                 "cursor must be the next_cursor of the previous page, unchanged");
        return false;
    }
    *start = a;
    *id = b;
    return true;
}

static void h_res_list(struct srv_req *r)
{
    static const char *const names[] = {"from", "to", "state", "user", "limit", "cursor", NULL};
    struct res_filter f = {.state = -1};
    long long limit;
    if (!srv_query_only(r, names) || !q_time(r, "from", false, 0, &f.from) ||
        !q_time(r, "to", false, 0, &f.to) || !q_int(r, "limit", false, 500, 1, MAX_LIST, &limit) ||
        !q_res_cursor(r, &f.after_start, &f.after_id))
        return;
    f.limit = (size_t)limit;
    const char *state = srv_query(r, "state");
    if (state && *state) {
        enum res_state s;
        if (res_state_parse(state, &s) < 0) {
            srv_fail(r, ERR_INVALID, "state",
                     "state must be APPROVED, ACTIVE, COMPLETED, CANCELED or FAILED");
            return;
        }
        f.state = (int)s;
    }
    const char *user = srv_query(r, "user");
    f.user_id = r->user.id;
    if (is_admin(r)) {
        f.user_id = 0;
        if (user && *user) {
            struct user u;
            if (strlen(user) >= sizeof(u.username) || store_user_get_by_name(r->st, user, &u) < 0) {
                srv_reply(r, 200, items(json_array()));
                return;
            }
            f.user_id = u.id;
        }
    } else if (user && *user && strcmp(user, r->user.username)) {
        srv_reply(r, 200, items(json_array()));
        return;
    }
    struct reservation *list = NULL;
    size_t n = 0;
    if (store_reservation_list(r->st, &f, &list, &n) < 0) {
        internal(r);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, res_json(r, &list[i]));
    /* a full page may have a next one: its cursor is the last row's place in the order */
    json_t *out = items(arr), *next = json_null();
    if (n && n == f.limit) {
        char c[48];
        snprintf(c, sizeof(c), "%" PRId64 ".%" PRId64, list[n - 1].starts_at, list[n - 1].id);
        json_decref(next);
        next = json_string(c);
    }
    json_object_set_new(out, "next_cursor", next);
    free(list);
    srv_reply(r, 200, out);
}

/* Loads reservation ids[0] if the caller may see it; fails r with 404 otherwise. */
static bool load_visible(struct srv_req *r, struct reservation *res)
{
    if (store_reservation_get(r->st, r->ids[0], res) < 0 ||
        (!is_admin(r) && res->user_id != r->user.id)) {
        srv_fail(r, ERR_NOT_FOUND, NULL, "No such reservation.");
        return false;
    }
    return true;
}

static void h_res_get(struct srv_req *r)
{
    struct reservation res;
    if (load_visible(r, &res))
        srv_reply(r, 200, res_json(r, &res));
}

static void reply_fresh(struct srv_req *r, int64_t id)
{
    struct reservation res;
    if (store_reservation_get(r->st, id, &res) < 0)
        internal(r);
    else
        srv_reply(r, 200, res_json(r, &res));
}

static void h_res_cancel(struct srv_req *r)
{
    struct reservation res;
    struct error e = {0};
    if (!no_body(r) || !load_visible(r, &res))
        return;
    if (res_state_terminal(res.state)) {
        srv_fail(r, ERR_STATE, "state", "A %s reservation cannot be canceled.",
                 res_state_name(res.state));
        return;
    }
    int rc = store_reservation_transition(r->st, res.id, res.state, RS_CANCELED, r->now, &e);
    if (rc == -ERR_STATE) {
        srv_fail(r, ERR_STATE, "state", "The reservation changed state; reload it.");
        return;
    }
    if (rc < 0) {
        internal(r);
        return;
    }
    char target[64];
    res_target(target, sizeof(target), res.id);
    srv_audit(r, "reservation.cancel", target, res_state_name(res.state));
    reply_fresh(r, res.id);
}

static void set_end(struct srv_req *r, const struct reservation *res, int64_t new_end,
                    const char *action)
{
    struct error e = {0};
    struct pool p;
    live_pool(r, &p);
    int rc = store_reservation_set_end(r->st, &p, res->id, new_end, r->now, &e);
    if (rc == -ERR_CONFLICT) {
        srv_fail(r, ERR_CONFLICT, "ends_at", "%s",
                 e.message[0] ? e.message : "The new window does not fit.");
        return;
    }
    if (rc == -ERR_STATE) {
        srv_fail(r, ERR_STATE, "state", "The reservation is no longer APPROVED or ACTIVE.");
        return;
    }
    if (rc == -ERR_INVALID) {
        srv_fail_err(r, &e);
        return;
    }
    if (rc < 0) {
        internal(r);
        return;
    }
    char target[64], detail[64], t[RFC3339_LEN];
    res_target(target, sizeof(target), res->id);
    snprintf(detail, sizeof(detail), "ends_at=%s", time_format_rfc3339(new_end, t));
    srv_audit(r, action, target, detail);
    reply_fresh(r, res->id);
}

static void h_res_extend(struct srv_req *r)
{
    struct reservation res;
    struct error e = {0};
    int64_t end;
    if (!load_visible(r, &res))
        return;
    if (resreq_decode_extend(r->body, r->body_len, r->cfg, &res, r->now, &end, &e) < 0) {
        srv_fail_err(r, &e);
        return;
    }
    if (!res_state_holds_capacity(res.state)) {
        srv_fail(r, ERR_STATE, "state", "A %s reservation cannot be extended.",
                 res_state_name(res.state));
        return;
    }
    set_end(r, &res, end, "reservation.extend");
}

static void h_res_release(struct srv_req *r)
{
    struct reservation res;
    if (!no_body(r) || !load_visible(r, &res))
        return;
    if (res.state != RS_ACTIVE) {
        srv_fail(r, ERR_STATE, "state", "Only an ACTIVE reservation can be released (it is %s).",
                 res_state_name(res.state));
        return;
    }
    int64_t end = r->now > res.starts_at ? r->now : res.starts_at + 1;
    if (end >= res.ends_at) {
        reply_fresh(r, res.id);
        return;
    }
    set_end(r, &res, end, "reservation.release");
}

/* An admin moves, shortens (or lengthens) or reassigns a booking, with a reason its owner
 * reads (admin_note). The new window and owner pass the same admission as a new booking. */
static void h_res_change(struct srv_req *r)
{
    static const struct jdec_field f[] = {{"starts_at", JD_TIME, false, 0, 0},
                                          {"ends_at", JD_TIME, false, 0, 0},
                                          {"user", JD_STRING, false, 1, 63},
                                          {"reason", JD_STRING, true, 3, 255}};
    struct jdec_value v[4];
    struct reservation res, want;
    struct error e = {0};
    struct pool p;
    if (!decode(r, f, 4, v) || !load_visible(r, &res))
        return;
    if (!v[0].present && !v[1].present && !v[2].present) {
        srv_fail(r, ERR_INVALID, "body", "give at least one of starts_at, ends_at, user");
        return;
    }
    want = res;
    if (v[0].present)
        want.starts_at = v[0].t;
    if (v[1].present)
        want.ends_at = v[1].t;
    else if (v[0].present) /* a move keeps the length */
        want.ends_at = res.ends_at + (v[0].t - res.starts_at);
    if (v[2].present) {
        struct user u;
        if (store_user_get_by_name(r->st, v[2].s, &u) < 0 || u.disabled) {
            srv_fail(r, ERR_INVALID, "user", "user must name an enabled account");
            return;
        }
        want.user_id = u.id;
    }
    if (!res_state_holds_capacity(res.state) ||
        ((want.starts_at != res.starts_at || want.user_id != res.user_id) &&
         res.state != RS_APPROVED)) {
        srv_fail(r, ERR_STATE, "state",
                 "A %s reservation cannot be changed that way: only an APPROVED one can be moved "
                 "or reassigned, an ACTIVE one only ended earlier or later.",
                 res_state_name(res.state));
        return;
    }
    if (want.starts_at != res.starts_at &&
        want.starts_at < r->now - r->cfg->session.start_grace_seconds) {
        srv_fail(r, ERR_INVALID, "starts_at", "starts_at lies in the past");
        return;
    }
    if (want.ends_at != res.ends_at && want.ends_at <= r->now) {
        srv_fail(r, ERR_INVALID, "ends_at", "ends_at lies in the past");
        return;
    }
    if (resreq_check_window(r->cfg, want.starts_at, want.ends_at, r->now, &e) < 0) {
        srv_fail_err(r, &e);
        return;
    }
    live_pool(r, &p);
    int rc = store_reservation_change(r->st, &p, res.id, &want, v[3].s, r->now, &e);
    if (rc == -ERR_CONFLICT) {
        srv_fail(r, ERR_CONFLICT, "starts_at", "%s",
                 e.message[0] ? e.message : "The new window does not fit.");
        return;
    }
    if (rc == -ERR_STATE) {
        srv_fail(r, ERR_STATE, "state", "The reservation changed state; reload it.");
        return;
    }
    if (rc == -ERR_INVALID) {
        srv_fail_err(r, &e);
        return;
    }
    if (rc < 0) {
        internal(r);
        return;
    }
    char target[64], detail[512], a[RFC3339_LEN], b[RFC3339_LEN];
    res_target(target, sizeof(target), res.id);
    snprintf(detail, sizeof(detail), "%s..%s user=%s reason=%s",
             time_format_rfc3339(want.starts_at, a), time_format_rfc3339(want.ends_at, b),
             want.user, v[3].s);
    srv_audit(r, "reservation.change", target, detail);
    srv_reply(r, 200, res_json(r, &want));
}

static void h_calendar(struct srv_req *r)
{
    static const char *const names[] = {"from", "to", NULL};
    int64_t from, to;
    struct reservation *ex = NULL;
    size_t n = 0;
    if (!srv_query_only(r, names) || !q_range(r, &from, &to) || !list_holding(r, from, to, &ex, &n))
        return;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        bool mine = ex[i].user_id == r->user.id;
        json_t *o =
            json_pack("{s:s,s:i,s:o,s:o,s:b,s:s}", "gpu_type", ex[i].gpu_type, "gpu_count",
                      ex[i].gpu_count, "starts_at", jtime(ex[i].starts_at), "ends_at",
                      jtime(ex[i].ends_at), "mine", mine, "state", res_state_name(ex[i].state));
        if (mine || is_admin(r)) {
            json_object_set_new(o, "id", json_integer(ex[i].id));
            json_object_set_new(o, "user", json_string(ex[i].user));
            json_object_set_new(o, "purpose", json_string(ex[i].purpose));
        }
        json_array_append_new(arr, o);
    }
    free(ex);
    srv_reply(r, 200,
              json_pack("{s:o,s:o,s:o}", "from", jtime(from), "to", jtime(to), "items", arr));
}

/* ---- admin views ---- */

static void h_audit(struct srv_req *r)
{
    static const char *const names[] = {"limit",  "before", "cursor", "actor",  "action",
                                        "target", "from",   "to",     "logins", NULL};
    long long limit, before, cursor;
    struct audit_entry *e = NULL;
    size_t n = 0;
    struct audit_filter f = {0};
    if (!srv_query_only(r, names) || !q_int(r, "limit", false, 100, 1, MAX_LIST, &limit) ||
        !q_int(r, "before", false, 0, 0, INT64_MAX, &before) ||
        !q_int(r, "cursor", false, 0, 1, INT64_MAX, &cursor) ||
        !q_time(r, "from", false, 0, &f.from) || !q_time(r, "to", false, 0, &f.to))
        return;
    if (before && cursor) {
        srv_fail(r, ERR_INVALID, "cursor", "give cursor or before, not both");
        return;
    }
    static const char *const text[] = {"actor", "action", "target"};
    const char *tv[3];
    for (int i = 0; i < 3; i++) {
        tv[i] = srv_query(r, text[i]);
        if (tv[i] && strlen(tv[i]) > 127) {
            srv_fail(r, ERR_INVALID, text[i], "%s may have at most 127 characters", text[i]);
            return;
        }
    }
    const char *logins = srv_query(r, "logins");
    if (logins && *logins && strcmp(logins, "include") && strcmp(logins, "exclude")) {
        srv_fail(r, ERR_INVALID, "logins", "logins must be include or exclude");
        return;
    }
    f.limit = (size_t)limit;
    f.before_id = cursor ? cursor : before;
    f.actor = tv[0];
    f.action = tv[1];
    f.target = tv[2];
    f.without_logins = logins && !strcmp(logins, "exclude");
    if (store_audit_query(r->st, &f, &e, &n) < 0) {
        internal(r);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr,
                              json_pack("{s:I,s:o,s:s,s:s,s:s,s:s}", "id", (json_int_t)e[i].id,
                                        "at", jtime(e[i].at), "actor", e[i].actor, "action",
                                        e[i].action, "target", e[i].target, "detail", e[i].detail));
    json_t *out = items(arr);
    char next[24];
    snprintf(next, sizeof(next), "%" PRId64, n ? e[n - 1].id : 0);
    json_object_set_new(out, "next_cursor",
                        n && n == (size_t)limit ? json_string(next) : json_null());
    free(e);
    srv_reply(r, 200, out);
}

/* A fraction, or null when nothing was measured (f < 0). */
static json_t *jfrac(double f)
{
    return f < 0 ? json_null() : json_real(f);
}

/* The measured activity of reservation id in a (sorted by reservation id), or NULL. */
static const struct activity *find_activity(const struct activity *a, size_t n, int64_t id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid].reservation_id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && a[lo].reservation_id == id ? &a[lo] : NULL;
}

static int64_t overlap_s(int64_t a0, int64_t a1, int64_t b0, int64_t b1)
{
    int64_t lo = a0 > b0 ? a0 : b0, hi = a1 < b1 ? a1 : b1;
    return hi > lo ? hi - lo : 0;
}

static json_t *session_use_json(const struct reservation *b, const struct activity *a, int64_t from,
                                int64_t to)
{
    double booked =
        (double)b->gpu_count * (double)overlap_s(b->starts_at, b->ends_at, from, to) / 3600.0;
    json_t *o = json_pack("{s:I,s:s,s:s,s:i,s:s,s:o,s:o,s:f}", "id", (json_int_t)b->id, "user",
                          b->user, "resource", b->gpu_type, "units", b->gpu_count, "state",
                          res_state_name(b->state), "starts_at", jtime(b->starts_at), "ends_at",
                          jtime(b->ends_at), "booked_unit_hours", booked);
    json_object_set_new(o, "measured_hours",
                        json_real(a ? (double)a->measured_ms / 3600000.0 : 0.0));
    json_object_set_new(o, "busy_fraction",
                        jfrac(a ? act_fraction(a->busy_ms, a->measured_ms) : -1));
    json_object_set_new(o, "fb_used_max_mib", a ? json_integer(a->fb_max_mib) : json_null());
    json_object_set_new(o, "fb_used_last_mib", a ? json_integer(a->fb_last_mib) : json_null());
    json_object_set_new(o, "measured_at", a ? jtime(a->last_at) : json_null());
    return o;
}

/* GET /api/v1/utilization?from=&to=. Admins: per resource the booked and available
 * unit-hours and their ratio, with the busy fraction of the measured unit-hours where the
 * reconciler recorded GPU activity (DCGM), and every session overlapping the range. Other
 * users: their own sessions only (the per-resource figures reveal everyone's bookings).
 * Booked time counts APPROVED, ACTIVE and COMPLETED bookings, not canceled or failed ones. */
static void h_utilization(struct srv_req *r)
{
    static const char *const names[] = {"from", "to", NULL};
    int64_t from, to;
    struct reservation *all = NULL;
    struct activity *act = NULL;
    size_t n = 0, k = 0, n_act = 0;
    struct pool p;
    bool admin = is_admin(r);
    if (!srv_query_only(r, names) || !q_range(r, &from, &to))
        return;
    struct res_filter f = {.from = from, .to = to, .state = -1, .user_id = admin ? 0 : r->user.id};
    if (store_reservation_list(r->st, &f, &all, &n) < 0 ||
        store_activity_list(r->st, from, to, f.user_id, &act, &n_act) < 0) {
        free(all);
        internal(r);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (all[i].state == RS_APPROVED || all[i].state == RS_ACTIVE ||
            all[i].state == RS_COMPLETED)
            all[k++] = all[i];
    json_t *sessions = json_array();
    for (size_t i = 0; i < k; i++)
        json_array_append_new(
            sessions, session_use_json(&all[i], find_activity(act, n_act, all[i].id), from, to));
    json_t *out = json_pack("{s:o,s:o}", "from", jtime(from), "to", jtime(to));
    if (admin) {
        live_pool(r, &p);
        json_t *arr = json_array();
        double hours = (double)(to - from) / 3600.0;
        for (int i = 0; i < p.n; i++) {
            double booked = cal_booked_unit_seconds(&p.res[i], all, k, from, to) / 3600.0;
            double avail = (double)pool_bookable(&p.res[i]) * hours;
            double measured = 0, busy = 0; /* unit-milliseconds */
            for (size_t j = 0; j < k; j++) {
                const struct activity *a = find_activity(act, n_act, all[j].id);
                if (!a || strcmp(all[j].gpu_type, p.res[i].name))
                    continue;
                measured += (double)a->measured_ms * all[j].gpu_count;
                busy += (double)a->busy_ms * all[j].gpu_count;
            }
            json_t *o = json_pack("{s:s,s:f,s:f,s:f}", "resource", p.res[i].name,
                                  "booked_unit_hours", booked, "available_unit_hours", avail,
                                  "ratio", avail > 0 ? booked / avail : 0.0);
            json_object_set_new(o, "measured_unit_hours", json_real(measured / 3600000.0));
            json_object_set_new(o, "busy_unit_hours", json_real(busy / 3600000.0));
            json_object_set_new(o, "busy_fraction", jfrac(measured > 0 ? busy / measured : -1));
            json_array_append_new(arr, o);
        }
        json_object_set_new(out, "resources", arr);
    }
    json_object_set_new(out, "sessions", sessions);
    free(all);
    free(act);
    srv_reply(r, 200, out);
}

/* ---- tokenomics ---- */

/* POST /api/v1/tokenomics: the model of src/core/tokenomics.c on the request body. With
 * "utilization": "measured" (admins: it reveals the platform's booked fraction) the booked
 * GPU fraction over ?from=&to= (default the last 30 days) is used. The answer carries the
 * SVG chart under "svg". */
static void h_tokenomics(struct srv_req *r)
{
    static const char *const names[] = {"from", "to", NULL};
    struct error e = {0};
    json_error_t je;
    json_t *doc = NULL, *res = NULL;
    struct tok_input *in = calloc(1, sizeof(*in));
    char *svg = NULL;
    if (!in) {
        internal(r);
        return;
    }
    if (!srv_query_only(r, names))
        goto out;
    doc = json_loadb(r->body ? r->body : "", r->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!doc) {
        srv_fail(r, ERR_INVALID, "", "malformed JSON at line %d: %s", je.line, je.text);
        goto out;
    }
    if (tok_parse(doc, in, &e) < 0) {
        srv_fail_err(r, &e);
        goto out;
    }
    if (in->utilization_measured) {
        int64_t to = r->now, from = to - 30 * 86400;
        struct reservation *all = NULL;
        size_t n = 0;
        struct pool p;
        if (!is_admin(r)) {
            srv_fail(r, ERR_FORBIDDEN, "utilization",
                     "measured utilization is for admins; give a number from 0 to 1");
            goto out;
        }
        if ((srv_query(r, "from") || srv_query(r, "to")) && !q_range(r, &from, &to))
            goto out;
        struct res_filter f = {.from = from, .to = to, .state = -1};
        if (store_reservation_list(r->st, &f, &all, &n) < 0) {
            internal(r);
            goto out;
        }
        live_pool(r, &p);
        in->utilization = tok_measured_utilization(&p, all, n, from, to);
        free(all);
        if (in->utilization <= 0) {
            srv_fail(r, ERR_INVALID, "utilization",
                     "no GPU bookings in the measured window: utilization is 0");
            goto out;
        }
    }
    if (tok_compute(in, &res, &e) < 0) {
        srv_fail_err(r, &e);
        goto out;
    }
    if (tok_svg(res, &svg, &e) == 0)
        json_object_set_new(res, "svg", json_string(svg));
    srv_reply(r, 200, res);
    res = NULL;
out:
    free(svg);
    json_decref(res);
    json_decref(doc);
    free(in);
}

/* ---- the routing table ---- */

const struct srv_route api_routes[] = {
    {"GET", "/healthz", h_healthz, SRV_PUBLIC, false, "Liveness"},
    {"GET", "/readyz", h_readyz, SRV_PUBLIC, true, "Readiness (database reachable)"},
    {"GET", "/metrics", h_metrics, SRV_METRICS, true,
     "Prometheus metrics (the metrics token or an admin)"},
    {"GET", "/api/v1/openapi.json", h_openapi, SRV_PUBLIC, false, "This OpenAPI document"},
    {"POST", "/api/v1/auth/login", h_login, SRV_PUBLIC, true, "Log in, get a token"},
    {"POST", "/api/v1/auth/logout", h_logout, SRV_USER, true, "Revoke the token in use"},
    {"GET", "/api/v1/me", h_me, SRV_USER, true, "The caller"},
    {"POST", "/api/v1/tokens", h_token_create, SRV_USER, true, "Create an API token"},
    {"GET", "/api/v1/tokens", h_token_list, SRV_USER, true, "List own API tokens"},
    {"DELETE", "/api/v1/tokens/{id}", h_token_delete, SRV_USER, true,
     "Delete an API token (own; admin: anyone's)"},
    {"POST", "/api/v1/users", h_user_create, SRV_ADMIN, true, "Create a user (admin)"},
    {"GET", "/api/v1/users", h_user_list, SRV_ADMIN, true, "List users (admin)"},
    {"PATCH", "/api/v1/users/{id}", h_user_update, SRV_ADMIN, true,
     "Disable, change role or password, link to single sign-on (admin)"},
    {"GET", "/api/v1/users/{id}/tokens", h_user_tokens, SRV_ADMIN, true,
     "List a user's API tokens (admin)"},
    {"GET", "/api/v1/pool", h_pool, SRV_USER, true, "The GPU pool, nodes and drift"},
    {"GET", "/api/v1/capacity", h_capacity, SRV_USER, true, "Free units per step"},
    {"GET", "/api/v1/availability", h_availability, SRV_USER, true, "Earliest window that fits"},
    {"POST", "/api/v1/reservations", h_res_create, SRV_USER, true, "Book GPU capacity"},
    {"GET", "/api/v1/reservations", h_res_list, SRV_USER, true, "List reservations"},
    {"GET", "/api/v1/reservations/{id}", h_res_get, SRV_USER, true, "One reservation"},
    {"POST", "/api/v1/reservations/{id}/cancel", h_res_cancel, SRV_USER, true,
     "Cancel a reservation"},
    {"POST", "/api/v1/reservations/{id}/extend", h_res_extend, SRV_USER, true,
     "Move the end of a reservation"},
    {"POST", "/api/v1/reservations/{id}/release", h_res_release, SRV_USER, true,
     "End an ACTIVE session now"},
    {"POST", "/api/v1/reservations/{id}/change", h_res_change, SRV_ADMIN, true,
     "Move, shorten or reassign a booking (admin)"},
    {"POST", "/api/v1/reservations/{id}/workspace-ticket", gate_h_ticket, SRV_USER, true,
     "A single-use link that signs the caller in to the session's workspace"},
    {"GET", "/api/v1/gate/{id}/enter", gate_h_enter, SRV_PUBLIC, true,
     "Exchange a workspace ticket for the workspace cookie (the sign-in proxy's /_gpuaas/enter)"},
    {"GET", "/api/v1/gate/{id}/check", gate_h_check, SRV_PUBLIC, true,
     "The sign-in proxy's check of the workspace cookie before every request"},
    {"GET", "/api/v1/calendar", h_calendar, SRV_USER, true, "Busy blocks"},
    {"GET", "/api/v1/audit", h_audit, SRV_ADMIN, true, "Audit log (admin)"},
    {"GET", "/api/v1/utilization", h_utilization, SRV_USER, true,
     "Booked and measured GPU use: per resource (admin) and per session (own; admin: all)"},
    {"POST", "/api/v1/tokenomics", h_tokenomics, SRV_USER, true,
     "Cost per million tokens, break-even and sizing"},
};
const size_t api_n_routes = sizeof(api_routes) / sizeof(api_routes[0]);
