/* Workspace sign-in: tickets, the cookie they become, and the proxy's per-request check
 * (see gate.h). Secrets never reach a log line: the request log names routes, not URLs. */
#include "server/gate.h"

#include "common/log.h"
#include "common/timeutil.h"
#include "core/gate_conf.h"
#include "server/auth.h"
#include "server/jdec.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define PREFIX_TICKET "wst_"
#define PREFIX_COOKIE "wsc_"

static bool is_admin(const struct user *u)
{
    return !strcmp(u->role, "admin");
}

/* May user u use the workspace of res now? 0, or the ERR_ code with r failed. The owner
 * may; an admin only with auth.workspace_admin_access; only while the booking is ACTIVE and
 * its window not over; never a disabled user. */
static int may_enter(struct srv_req *r, const struct reservation *res, const struct user *u)
{
    if (u->disabled) {
        srv_fail(r, ERR_UNAUTH, NULL, "This account is disabled.");
        return ERR_UNAUTH;
    }
    if (res->user_id != u->id && !(is_admin(u) && r->cfg->auth.workspace_admin_access)) {
        srv_fail(r, ERR_FORBIDDEN, NULL,
                 is_admin(u) ? "Admins may open other users' workspaces only when "
                               "auth.workspace_admin_access is on."
                             : "This session belongs to another user.");
        return ERR_FORBIDDEN;
    }
    if (res->state != RS_ACTIVE || r->now >= res->ends_at) {
        srv_fail(r, ERR_FORBIDDEN, "state", "The session is not running (the booking is %s).",
                 r->now >= res->ends_at && res->state == RS_ACTIVE ? "over"
                                                                   : res_state_name(res->state));
        return ERR_FORBIDDEN;
    }
    return 0;
}

static void target_of(char *buf, size_t n, int64_t id)
{
    snprintf(buf, n, "reservation/%" PRId64, id);
}

/* A new grant of kind k for (res, user) valid ttl seconds; its text into out
 * (AUTH_TOKEN_TEXT bytes). 0 or -ERR_x. */
static int new_grant(struct srv_req *r, enum ws_grant_kind k, int64_t res_id, int64_t user_id,
                     long ttl, char *out)
{
    struct ws_grant g;
    char secret[AUTH_SECRET_TEXT];
    int64_t id;
    memset(&g, 0, sizeof(g));
    g.kind = k;
    g.reservation_id = res_id;
    g.user_id = user_id;
    g.created_at = r->now;
    g.expires_at = r->now + ttl;
    auth_new_secret(secret, g.hash);
    int rc = store_ws_grant_create(r->st, &g, &id, NULL);
    if (rc < 0)
        return rc;
    auth_format_secret(k == WS_TICKET ? PREFIX_TICKET : PREFIX_COOKIE, id, secret, out);
    return 0;
}

/* The grant of kind k that text names, with its user, when text is genuine and unexpired.
 * 0, or -ERR_UNAUTH (for any reason: the caller learns nothing about other grants). */
static int find_grant(struct srv_req *r, const char *text, enum ws_grant_kind k, struct ws_grant *g,
                      struct user *u)
{
    int64_t id;
    uint8_t hash[AUTH_HASH_LEN];
    if (!text || strlen(text) >= AUTH_TOKEN_TEXT ||
        auth_parse_secret(k == WS_TICKET ? PREFIX_TICKET : PREFIX_COOKIE, text, &id, hash) < 0 ||
        store_ws_grant_get_with_user(r->st, id, g, u) < 0 || g->kind != k ||
        !auth_hash_equal(hash, g->hash) || g->expires_at <= r->now) {
        memset(u, 0, sizeof(*u));
        return -ERR_UNAUTH;
    }
    return 0;
}

/* POST /api/v1/reservations/{id}/workspace-ticket: a single-use sign-in link. */
void gate_h_ticket(struct srv_req *r)
{
    struct reservation res;
    struct error e = {0};
    char ticket[AUTH_TOKEN_TEXT], target[64], t[RFC3339_LEN];
    if (jdec_decode(r->body, r->body_len, NULL, 0, NULL, &e) < 0) {
        srv_fail_err(r, &e);
        return;
    }
    if (store_reservation_get(r->st, r->ids[0], &res) < 0) {
        srv_fail(r, ERR_NOT_FOUND, NULL, "No such reservation.");
        return;
    }
    if (may_enter(r, &res, &r->user))
        return;
    if (!res.session.url[0]) {
        srv_fail(r, ERR_STATE, "state", "The session has no address yet; try again shortly.");
        return;
    }
    if (new_grant(r, WS_TICKET, res.id, r->user.id, r->cfg->auth.workspace_ticket_ttl_seconds,
                  ticket) < 0) {
        srv_fail(r, ERR_INTERNAL, NULL, "internal error");
        return;
    }
    size_t n = strlen(res.session.url);
    char url[sizeof(res.session.url) + 128];
    snprintf(url, sizeof(url), "%s%s?ticket=%s", res.session.url,
             res.session.url[n - 1] == '/' ? &GATE_ENTER_PATH[1] : GATE_ENTER_PATH, ticket);
    target_of(target, sizeof(target), res.id);
    srv_audit(r, "workspace.ticket", target, res.user_id == r->user.id ? "owner" : "admin");
    int64_t exp = r->now + r->cfg->auth.workspace_ticket_ttl_seconds;
    srv_reply(r, 201,
              json_pack("{s:s, s:s}", "url", url, "expires_at", time_format_rfc3339(exp, t)));
}

/* GET /api/v1/gate/{id}/enter?ticket=...: reached through the gate of reservation {id} at
 * /_gpuaas/enter. Uses the ticket up and answers 303 to / with the session cookie. */
void gate_h_enter(struct srv_req *r)
{
    static const char *const names[] = {"ticket", NULL};
    struct ws_grant g;
    struct user u;
    struct reservation res;
    char cookie[AUTH_TOKEN_TEXT], target[64];
    if (!srv_query_only(r, names))
        return;
    if (find_grant(r, srv_query(r, "ticket"), WS_TICKET, &g, &u) < 0) {
        srv_fail(r, ERR_UNAUTH, "ticket",
                 "This sign-in link is not valid or has expired; open the workspace again from "
                 "the portal.");
        return;
    }
    if (g.reservation_id != r->ids[0]) {
        srv_fail(r, ERR_FORBIDDEN, "ticket", "This sign-in link is for another session.");
        return;
    }
    if (g.used_at || store_ws_ticket_use(r->st, g.id, r->now) < 0) {
        srv_fail(r, ERR_UNAUTH, "ticket",
                 "This sign-in link was used already; open the workspace again from the portal.");
        return;
    }
    r->user = u;
    if (store_reservation_get(r->st, g.reservation_id, &res) < 0) {
        srv_fail(r, ERR_FORBIDDEN, NULL, "The session is gone.");
        return;
    }
    if (may_enter(r, &res, &u))
        return;
    long ttl = r->cfg->auth.workspace_cookie_ttl_seconds;
    if (new_grant(r, WS_COOKIE, res.id, u.id, ttl, cookie) < 0) {
        srv_fail(r, ERR_INTERNAL, NULL, "internal error");
        return;
    }
    /* host-only by the __Host- prefix (no Domain, Path=/, Secure); Lax so that the first
     * navigation after this redirect, which began on the portal's site, carries it */
    snprintf(r->set_cookie, sizeof(r->set_cookie),
             GATE_COOKIE "=%s; Path=/; Max-Age=%ld; Secure; HttpOnly; SameSite=Lax", cookie, ttl);
    snprintf(r->location, sizeof(r->location), "/");
    target_of(target, sizeof(target), res.id);
    srv_audit(r, "workspace.enter", target, res.user_id == u.id ? "owner" : "admin");
    srv_reply(r, 303, NULL);
}

/* GET /api/v1/gate/{id}/check: the gate's auth_request before every request. 204 lets it
 * through; 401 (no valid sign-in) shows the sign-in page; 403 refuses. */
void gate_h_check(struct srv_req *r)
{
    struct ws_grant g;
    struct user u;
    struct reservation res;
    if (find_grant(r, srv_cookie(r, GATE_COOKIE), WS_COOKIE, &g, &u) < 0) {
        srv_fail(r, ERR_UNAUTH, NULL, "Not signed in to this workspace.");
        return;
    }
    r->user = u;
    if (g.reservation_id != r->ids[0]) {
        srv_fail(r, ERR_FORBIDDEN, NULL, "This sign-in is for another session.");
        return;
    }
    if (store_reservation_get(r->st, g.reservation_id, &res) < 0) {
        srv_fail(r, ERR_FORBIDDEN, NULL, "The session is gone.");
        return;
    }
    if (may_enter(r, &res, &u))
        return;
    srv_reply(r, 204, NULL);
}
