/* The sign-in proxy of a session workspace: the nginx configuration of the `gate` sidecar.
 * Every request to the session's host passes nginx's auth_request, a subrequest to the
 * gpuaas server's GET /api/v1/gate/<id>/check carrying the browser's cookies; the server
 * answers 204 (let it through), 401 (no valid sign-in: the sign-in page) or 403 (signed in,
 * but not for this session). GET /_gpuaas/enter?ticket=... is forwarded to the server's
 * /api/v1/gate/<id>/enter, which exchanges a single-use ticket for the session cookie. The
 * same generator serves the session plan (the ConfigMap) and `gpuaas config gate-nginx`
 * (tests/it/gate.sh runs the real nginx on it). */
#ifndef GPUAAS_CORE_GATE_CONF_H
#define GPUAAS_CORE_GATE_CONF_H

#include "common/error.h"

#include <stdbool.h>
#include <stdint.h>

/* The cookie the gate checks (host-only by its __Host- prefix). */
#define GATE_COOKIE "__Host-gpuaas_ws"
/* Path prefix on the session host that belongs to the gate, never to the workspace. */
#define GATE_PATH_PREFIX "/_gpuaas/"
#define GATE_ENTER_PATH "/_gpuaas/enter"

struct gate_conf {
    int64_t reservation_id;
    const char *listen;    /* "ADDR:PORT" nginx listens on */
    const char *workspace; /* "ADDR:PORT" of the workspace container */
    const char *auth_url;  /* "http://HOST[:PORT]" of the gpuaas server (gate_auth_url_ok) */
    const char *temp_dir;  /* writable directory: pid file and nginx's temporary files */
    const char *tls_cert;  /* NULL or "": plain HTTP (TLS ends at the router) */
    const char *tls_key;
};

/* Buffers of gate_conf_from_config(). */
struct gate_conf_buf {
    char listen[32];
    char workspace[32];
    char auth_url[160];
};

/* The gate of reservation id as the session plan runs it: listening on all addresses at
 * reconciler.gate_port, the workspace at 127.0.0.1:reconciler.workspace_port (same pod),
 * the server at reconciler.gate_auth_url or, when that is empty, at
 * http://gpuaas-server.<reconciler.platform_namespace>.svc:<reconciler.server_port> (the
 * Service the session's allow-workspace-auth policy opens), temporary files in GATE_TMP_DIR,
 * no TLS. g points into c and buf, which must outlive it. */
#define GATE_TMP_DIR "/tmp"
struct config;
void gate_conf_from_config(const struct config *c, int64_t id, struct gate_conf *g,
                           struct gate_conf_buf *buf);

/* True when url is "http://HOST[:PORT]" with HOST made of letters, digits, '.', '-' (no
 * path, user, query or anything nginx would read as syntax). */
bool gate_auth_url_ok(const char *url);

/* The nginx.conf text for g into *ret (malloc'd, the caller frees). -ERR_INVALID with err
 * naming the field when a value is not safe to place in the configuration (only letters,
 * digits and "._-:/" are), -ERR_NOMEM. */
int gate_nginx_conf(const struct gate_conf *g, char **ret, struct error *err);

#endif
