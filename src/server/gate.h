/* Workspace sign-in: the API side of each session's sign-in proxy (src/core/gate_conf.h).
 *
 * DESIGN: the portal or `gpuaas show` asks for a ticket (POST
 * /api/v1/reservations/{id}/workspace-ticket, the owner, or an admin when
 * auth.workspace_admin_access allows; the session ACTIVE) and gets a link
 * https://<session host>/_gpuaas/enter?ticket=wst_...; the gate forwards that path to
 * GET /api/v1/gate/{id}/enter, which uses the ticket up (single use, short-lived) and sets
 * the host-only cookie GATE_COOKIE (wsc_..., Secure, HttpOnly, SameSite=Lax); the gate's
 * auth_request calls GET /api/v1/gate/{id}/check with it before every request. Tickets and
 * cookies are bound to one reservation and one user and stored as hashes only; the check
 * reads the booking and the user each time, so a canceled, released or ended booking or a
 * disabled user is refused from the next request on. */
#ifndef GPUAAS_SERVER_GATE_H
#define GPUAAS_SERVER_GATE_H

#include "server/server.h"

void gate_h_ticket(struct srv_req *r);
void gate_h_enter(struct srv_req *r);
void gate_h_check(struct srv_req *r);

#endif
