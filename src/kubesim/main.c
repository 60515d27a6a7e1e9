/* gpuaas-kubesim: a Kubernetes API server double for tests and the demo cluster.
 * Parses flags, optionally generates a test CA and server certificate, serves HTTP(S) with
 * libmicrohttpd (one thread per connection, so watches can block), writes a kubeconfig,
 * runs the simulated controllers, and exits 0 on SIGTERM/SIGINT. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/args.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/timeutil.h"
#include "kubesim/reqlog.h"
#include "kubesim/schema.h"
#include "kubesim/sim.h"

#define MAX_BODY (8u << 20)
#define CERT_MAX_BYTES (1u << 20) /* a generated PEM file is a few KiB */

struct conn {
    struct sb_body body; /* capped at MAX_BODY */
};

struct watch_state {
    struct ksim *k;
    struct ksim_response r;
    uint64_t rv;
    int64_t deadline_ms;
    char *pending;
    size_t pending_len, pending_off;
    int done;
};

static struct ksim *g_sim;
static volatile sig_atomic_t g_stop;
static int g_request_log = -1; /* --request-log: O_APPEND, one write per line */

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind;
    json_object_set_new((json_t *)cls, key, json_string(value ? value : ""));
    return MHD_YES;
}

static ssize_t watch_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct watch_state *w = cls;
    for (;;) {
        if (w->pending && w->pending_off < w->pending_len) {
            size_t n = w->pending_len - w->pending_off;
            if (n > max)
                n = max;
            memcpy(buf, w->pending + w->pending_off, n);
            w->pending_off += n;
            return (ssize_t)n;
        }
        free(w->pending);
        w->pending = NULL;
        if (w->done || g_stop || time_mono_ms() >= w->deadline_ms)
            return MHD_CONTENT_READER_END_OF_STREAM;
        char *out = NULL;
        int rc = ksim_watch_next(w->k, &w->r, &w->rv, 500, &out);
        if (rc)
            w->done = 1;
        if (out) {
            w->pending = out;
            w->pending_len = strlen(out);
            w->pending_off = 0;
        }
    }
}

static void watch_free(void *cls)
{
    struct watch_state *w = cls;
    free(w->pending);
    free(w);
}

/* One line of the request log (reqlog.h); every request, answered or refused. A server-side
 * apply that created its object (201) needs the verb create as well as patch, as on a real
 * API server: it gets a second line. A single write() of an O_APPEND file, so that doubles of
 * concurrent tests may share one log. */
static void log_request(const char *method, const char *url, json_t *query, const char *ua,
                        int status)
{
    const char *w = json_string_value(json_object_get(query, "watch"));
    char attrs[1100], line[2600], client[128];
    if (!ksim_rbac_attributes(method, url, w && (!strcmp(w, "true") || !strcmp(w, "1")), attrs,
                              sizeof(attrs)))
        return;
    size_t k = 0;
    for (; ua && ua[k] && ua[k] != ' ' && k + 1 < sizeof(client); k++)
        client[k] = (ua[k] > ' ' && ua[k] < 127) ? ua[k] : '_';
    client[k] = '\0';
    const char *who = k ? client : "-";
    int len;
    if (!strcmp(method, "PATCH") && status == 201 && !strncmp(attrs, "patch ", 6))
        len = snprintf(line, sizeof(line), "%s %s\ncreate %s %s\n", attrs, who, attrs + 6, who);
    else
        len = snprintf(line, sizeof(line), "%s %s\n", attrs, who);
    if (len > 0 && (size_t)len < sizeof(line) && write(g_request_log, line, (size_t)len) < 0)
        log_warn("cannot write the request log", "errno=%d", errno);
}

/* The Impersonate-Group headers of a request (kubectl sends one per --as-group). */
struct groups {
    const char *v[KSIM_MAX_IMPERSONATE_GROUPS];
    int n, overflow;
};

static enum MHD_Result collect_groups(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    struct groups *g = cls;
    if (strcasecmp(key, "Impersonate-Group") || !value)
        return MHD_YES;
    if (g->n < KSIM_MAX_IMPERSONATE_GROUPS)
        g->v[g->n++] = value;
    else
        g->overflow = 1;
    return MHD_YES;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    (void)cls;
    (void)version;
    struct conn *st = *con_cls;
    if (!st) {
        st = calloc(1, sizeof(*st));
        if (!st)
            return MHD_NO;
        st->body = (struct sb_body)SB_BODY_INIT(MAX_BODY);
        *con_cls = st;
        return MHD_YES;
    }
    if (*upload_size) {
        if (sb_body_add(&st->body, upload, *upload_size) == -ERR_NOMEM)
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    struct ksim_response r;
    json_t *query = json_object();
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_query, query);
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (st->body.too_large) {
        memset(&r, 0, sizeof(r));
        r.status = 413;
        r.body = strdup("{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
                        "\"Failure\",\"message\":\"Request entity too large\",\"reason\":"
                        "\"RequestEntityTooLarge\",\"code\":413}");
        r.len = strlen(r.body);
        r.content_type = "application/json";
    } else {
        struct groups g = {0};
        const char *as = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Impersonate-User");
        MHD_get_connection_values(c, MHD_HEADER_KIND, collect_groups, &g);
        if (g.overflow || (!as && g.n)) {
            memset(&r, 0, sizeof(r));
            r.status = 400;
            r.body = strdup(g.overflow ? "{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                                         "\"metadata\":{},\"status\":\"Failure\",\"message\":"
                                         "\"too many Impersonate-Group headers\",\"reason\":"
                                         "\"BadRequest\",\"code\":400}"
                                       : "{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                                         "\"metadata\":{},\"status\":\"Failure\",\"message\":"
                                         "\"requested [Impersonate-Group] without impersonating a "
                                         "user\",\"reason\":\"BadRequest\",\"code\":400}");
            r.len = r.body ? strlen(r.body) : 0;
            r.content_type = "application/json";
        } else {
            ksim_handle_as(g_sim, method, url, query, ct,
                           MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept"), auth, as, g.v,
                           g.n, st->body.sb.len ? st->body.sb.buf : NULL, st->body.sb.len, &r);
        }
    }
    if (g_request_log >= 0)
        log_request(method, url, query,
                    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent"), r.status);
    json_decref(query);
    log_debug("request", "method=%s path=%s status=%d", method, url, r.status);
    if (r.latency_ms > 0)
        usleep((useconds_t)r.latency_ms * 1000);
    if (r.drop) {
        ksim_response_free(&r);
        return MHD_NO;
    }
    struct MHD_Response *resp;
    if (r.watch) {
        struct watch_state *w = calloc(1, sizeof(*w));
        if (!w) {
            ksim_response_free(&r);
            return MHD_NO;
        }
        w->k = g_sim;
        w->r = r;
        w->r.body = NULL;
        w->rv = r.watch_rv;
        w->deadline_ms = time_mono_ms() + (int64_t)r.watch_timeout_s * 1000;
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, watch_reader, w,
                                                 watch_free);
    } else {
        resp = MHD_create_response_from_buffer(r.len, r.body, MHD_RESPMEM_MUST_FREE);
        r.body = NULL;
    }
    if (!resp) {
        ksim_response_free(&r);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type",
                            r.content_type ? r.content_type : "application/json");
    MHD_add_response_header(resp, "Cache-Control", "no-cache, private");
    if (r.warning[0]) {
        char w[600];
        for (char *q = r.warning; *q; q++)
            if (*q == '"' || *q == '\\' || (unsigned char)*q < ' ')
                *q = '\'';
        snprintf(w, sizeof(w), "299 - \"%s\"", r.warning);
        MHD_add_response_header(resp, "Warning", w);
    }
    if (r.retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof(ra), "%d", r.retry_after);
        MHD_add_response_header(resp, "Retry-After", ra);
    }
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)(r.status ? r.status : 500), resp);
    MHD_destroy_response(resp);
    ksim_response_free(&r);
    return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct conn *st = *con_cls;
    if (st) {
        sb_release(&st->body.sb);
        free(st);
    }
    *con_cls = NULL;
}

static int run_cmd(const char *cmd)
{
    int rc = system(cmd);
    return rc == 0 ? 0 : -1;
}

/* Generates a CA and a server certificate for 127.0.0.1/localhost in dir with openssl. */
static int make_certs(const char *dir)
{
    char cmd[4096];
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && "
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout ca.key -out ca.crt -days 3 -subj /CN=kubesim-ca >/dev/null 2>&1 && "
             "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout server.key -out server.csr -subj /CN=kube-apiserver >/dev/null 2>&1 && "
             "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth\\n' "
             "> ext.cnf && "
             "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
             "-out server.crt -days 3 -extfile ext.cnf >/dev/null 2>&1",
             dir);
    return run_cmd(cmd);
}

static int write_kubeconfig(const char *path, const char *server, const char *ca_pem,
                            const char *token)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "we");
    if (!f)
        return -1;
    fprintf(f,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: kubesim\n  cluster:\n"
            "    server: %s\n",
            server);
    if (ca_pem) {
        struct strbuf b = STRBUF_INIT;
        sb_add_base64(&b, ca_pem, strlen(ca_pem));
        fprintf(f, "    certificate-authority-data: %s\n", b.err ? "" : b.buf);
        sb_release(&b);
    }
    fprintf(f, "users:\n- name: kubesim\n  user:\n");
    if (token)
        fprintf(f, "    token: %s\n", token);
    else
        fprintf(f, "    {}\n");
    fprintf(f, "contexts:\n- name: kubesim\n  context:\n    cluster: kubesim\n    user: kubesim\n"
               "    namespace: default\ncurrent-context: kubesim\n");
    if (fclose(f))
        return -1;
    chmod(tmp, 0600);
    return rename(tmp, path);
}

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: gpuaas-kubesim --listen ADDR:PORT --kubeconfig-out FILE [--tls] [--token T]\n"
        "       [--openapi DIR] [--quota-delay-ms N] [--pod-ready-delay-ms N]\n"
        "       [--ns-delete-delay-ms N] [--fail-nth N] [--fault 500|429|drop|latency:MS]\n"
        "       [--fault-rate P | --fault-every N] [--fault-path SUBSTR] [--log-level LEVEL]\n"
        "       [--node-resources nvidia.com/gpu=8,...] (allocatable of the node kubesim-node)\n"
        "       [--request-log FILE] (appends \"VERB GROUP/RESOURCE[/SUB] CLIENT\" per request;\n"
        "       default $GPUAAS_KUBESIM_REQUEST_LOG)\n"
        "       [--cel-eval CMD] (evaluates ValidatingAdmissionPolicies: one JSON line per\n"
        "       policy and request on its stdin, one answer line; see src/kubesim/sim_policy.c)\n"
        "       [--token-user NAME] (who the token is to admission policies; default\n"
        "       kubesim-admin in system:masters)\n"
        "       [--pod-fate JSON] (pods that cannot pull their image, crash-loop or stay\n"
        "       unschedulable: a rule or an array of rules, as POST /_sim/pods takes;\n"
        "       DELETE /_sim/pods clears them):\n"
        "       {\"fate\":\"pull|crash|unschedulable|ready\", \"namespace\":NS | \"image\":IMAGE,\n"
        "        \"exit_code\":N (crash), \"message\":S (the scheduler's, unschedulable)}\n"
        "Requests with Impersonate-User (kubectl --as) are held to RBAC as that user.\n"
        "A Kubernetes API server double. Port 0 picks a free port (see the kubeconfig).\n"
        "Faults can be changed at run time: POST /_sim/faults {\"fault\":\"500\",\"nth\":3}.\n");
}

static void *controller_thread(void *arg)
{
    (void)arg;
    while (!g_stop) {
        int wait = ksim_tick(g_sim, time_mono_ms());
        if (wait > 20)
            wait = 20;
        usleep((useconds_t)wait * 1000);
    }
    return NULL;
}

/*
 * Where the OpenAPI definitions are when --openapi is not given: $GPUAAS_OPENAPI_DIR, then
 * share/gpuaas/openapi beside the installed binary, then the source tree's third_party/openapi
 * (compiled in by CMake). Returns buf, or NULL when none of them holds the definitions.
 */
static const char *default_openapi_dir(char *buf, size_t len)
{
    struct stat sb;
    const char *env = getenv("GPUAAS_OPENAPI_DIR");
    if (env && *env) {
        snprintf(buf, len, "%s", env);
        return buf;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(buf, len, "%s/../share/gpuaas/openapi/kubernetes-1.36-swagger.json", exe);
            if (!stat(buf, &sb)) {
                snprintf(buf, len, "%s/../share/gpuaas/openapi", exe);
                return buf;
            }
        }
    }
#ifdef GPUAAS_OPENAPI_SRC_DIR
    snprintf(buf, len, "%s", GPUAAS_OPENAPI_SRC_DIR);
    if (!stat(buf, &sb))
        return buf;
#endif
    return NULL;
}

/* The command line as given; NULL where an option was not. */
struct args {
    const char *listen, *kubeconfig, *token, *openapi, *request_log, *log_level;
    const char *quota_delay, *pod_ready_delay, *ns_delete_delay, *node_resources;
    const char *fault_kind, *fault_path, *fail_nth, *fault_rate, *fault_every;
    const char *cel_eval, *token_user, *pod_fates;
    int tls;
};

/* Reads the command line into *a. Returns -1 to go on, else the exit status (after the help
 * or a message with the usage). */
static int parse_args(int argc, char **argv, struct args *a)
{
    const struct cli_opt opts[] = {
        {"--listen", NULL, &a->listen, NULL},
        {"--kubeconfig-out", NULL, &a->kubeconfig, NULL},
        {"--tls", NULL, NULL, &a->tls},
        {"--token", NULL, &a->token, NULL},
        {"--openapi", NULL, &a->openapi, NULL},
        {"--quota-delay-ms", NULL, &a->quota_delay, NULL},
        {"--pod-ready-delay-ms", NULL, &a->pod_ready_delay, NULL},
        {"--ns-delete-delay-ms", NULL, &a->ns_delete_delay, NULL},
        {"--fail-nth", NULL, &a->fail_nth, NULL},
        {"--fault", NULL, &a->fault_kind, NULL},
        {"--fault-rate", NULL, &a->fault_rate, NULL},
        {"--fault-every", NULL, &a->fault_every, NULL},
        {"--fault-path", NULL, &a->fault_path, NULL},
        {"--node-resources", NULL, &a->node_resources, NULL},
        {"--request-log", NULL, &a->request_log, NULL},
        {"--log-level", NULL, &a->log_level, NULL},
        {"--cel-eval", NULL, &a->cel_eval, NULL},
        {"--token-user", NULL, &a->token_user, NULL},
        {"--pod-fate", NULL, &a->pod_fates, NULL},
    };
    size_t npos;
    a->request_log = getenv("GPUAAS_KUBESIM_REQUEST_LOG");
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (cli_parse_as("gpuaas-kubesim", argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos)) {
        usage(stderr);
        return 2;
    }
    if (a->log_level && log_set_level(a->log_level)) {
        fprintf(stderr, "gpuaas-kubesim: bad --log-level %s\n", a->log_level);
        return 2;
    }
    if (!a->listen || !a->kubeconfig) {
        usage(stderr);
        return 2;
    }
    return -1;
}

/* --listen ADDR:PORT into host and *port. 0, or 2 with a message. */
static int parse_listen(const char *listen, char *host, size_t size, int *port)
{
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || (size_t)(colon - listen) >= size) {
        fprintf(stderr, "gpuaas-kubesim: --listen must be ADDR:PORT\n");
        return 2;
    }
    snprintf(host, size, "%.*s", (int)(colon - listen), listen);
    *port = atoi(colon + 1);
    if (*port < 0 || *port > 65535) {
        fprintf(stderr, "gpuaas-kubesim: bad port in --listen\n");
        return 2;
    }
    if (!strcmp(host, "localhost"))
        snprintf(host, size, "127.0.0.1");
    return 0;
}

/* A whole number >= 1 from option opt into *ret; 0, or 2 with a message. */
static int parse_count(const char *opt, const char *s, long *ret)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1) {
        fprintf(stderr, "gpuaas-kubesim: %s must be a whole number of at least 1, not \"%s\"\n",
                opt, s);
        return 2;
    }
    *ret = v;
    return 0;
}

/* The fault the command line asks for (none: f->kind stays 0). 0, or 2 with a message. */
static int parse_fault(const struct args *a, struct ksim_fault *f)
{
    long fail_nth = 0, every = 0;
    double rate = -1;
    memset(f, 0, sizeof(*f));
    if ((a->fail_nth && parse_count("--fail-nth", a->fail_nth, &fail_nth)) ||
        (a->fault_every && parse_count("--fault-every", a->fault_every, &every)))
        return 2;
    if (a->fault_rate) {
        char *end;
        rate = strtod(a->fault_rate, &end);
        if (end == a->fault_rate || *end || !(rate >= 0 && rate <= 1)) {
            fprintf(stderr,
                    "gpuaas-kubesim: --fault-rate must be a number from 0 to 1, not "
                    "\"%s\"\n",
                    a->fault_rate);
            return 2;
        }
    }
    if (!!fail_nth + !!every + (rate >= 0) > 1) {
        fprintf(stderr, "gpuaas-kubesim: give one of --fail-nth, --fault-every, --fault-rate\n");
        return 2;
    }
    if (!a->fault_kind && !fail_nth && !every)
        return 0;
    if (ksim_parse_fault(a->fault_kind ? a->fault_kind : "500", f)) {
        fprintf(stderr, "gpuaas-kubesim: --fault must be 500, 429, drop or latency:MS\n");
        return 2;
    }
    f->fail_nth = fail_nth;
    f->every = every;
    f->rate = rate >= 0 ? rate : 1.0;
    if (a->fault_path)
        snprintf(f->path, sizeof(f->path), "%s", a->fault_path);
    return 0;
}

/* The OpenAPI schemas from --openapi or the default place; *ret stays NULL (validation off,
 * with a warning) when there are none. 0, or 1 with a message. */
static int load_schema(const char *openapi, struct ksim_schema **ret)
{
    char dirbuf[PATH_MAX];
    *ret = NULL;
    if (!openapi)
        openapi = default_openapi_dir(dirbuf, sizeof(dirbuf));
    if (!openapi) {
        log_warn("no OpenAPI definitions found; schema validation is off", "hint=%s",
                 "--openapi DIR");
        return 0;
    }
    struct error e = {0};
    if (ksim_schema_load(openapi, ret, &e)) {
        fprintf(stderr, "gpuaas-kubesim: %s\n", e.message);
        return 1;
    }
    log_info("schema validation is on", "openapi=%s", openapi);
    return 0;
}

/* The TLS material, generated with openssl in certdir (a mkdtemp template) and read back.
 * 0, or -1 with a message; the caller frees what was read and removes certdir. */
static int load_certs(char *certdir, char **cert, char **key, char **ca)
{
    if (!mkdtemp(certdir) || make_certs(certdir)) {
        fprintf(stderr, "gpuaas-kubesim: could not generate certificates with openssl\n");
        return -1;
    }
    static const char *const names[] = {"server.crt", "server.key", "ca.crt"};
    char **dst[] = {cert, key, ca};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", certdir, names[i]);
        if (read_file(p, CERT_MAX_BYTES, dst[i], NULL, NULL) < 0) {
            fprintf(stderr, "gpuaas-kubesim: could not read generated certificates\n");
            return -1;
        }
    }
    return 0;
}

/* Starts the HTTP(S) daemon on sa; NULL when it cannot listen. */
static struct MHD_Daemon *start_daemon(const struct sockaddr_in *sa, const char *cert,
                                       const char *key)
{
    unsigned flags =
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (cert)
        return MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL, handler, NULL,
                                MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_NOTIFY_COMPLETED, completed,
                                NULL, MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_HTTPS_MEM_KEY,
                                key, MHD_OPTION_CONNECTION_TIMEOUT, 600u, MHD_OPTION_END);
    return MHD_start_daemon(flags, 0, NULL, NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, sa,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                            MHD_OPTION_CONNECTION_TIMEOUT, 600u, MHD_OPTION_END);
}

/* Serves until SIGTERM/SIGINT: the kubeconfig is written once the port is known, the
 * controllers tick in their own thread. 0, or 1 with a message. */
static int serve(struct MHD_Daemon *d, const char *host, int port, int tls, const char *kubeconfig,
                 const char *ca, const char *token)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    int bound = info ? info->port : port;
    char server[300];
    snprintf(server, sizeof(server), "%s://%s:%d", tls ? "https" : "http", host, bound);
    if (write_kubeconfig(kubeconfig, server, ca, token)) {
        fprintf(stderr, "gpuaas-kubesim: cannot write %s\n", kubeconfig);
        return 1;
    }
    log_info("kubesim listening", "server=%s kubeconfig=%s tls=%d", server, kubeconfig, tls);
    pthread_t ctl;
    pthread_create(&ctl, NULL, controller_thread, NULL);
    while (!g_stop)
        pause();
    log_info("kubesim stopping", "server=%s", server);
    ksim_shutdown(g_sim);
    pthread_join(ctl, NULL);
    return 0;
}

int main(int argc, char **argv)
{
    struct args a = {0};
    struct ksim_options opt = {
        .quota_delay_ms = 200, .pod_ready_delay_ms = 300, .ns_delete_delay_ms = 300};
    struct ksim_fault fault;
    struct ksim_schema *schema = NULL;
    char host[256], certdir[] = "/tmp/kubesim-tls-XXXXXX";
    char *cert = NULL, *key = NULL, *ca = NULL;
    int port, rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    if ((rc = parse_listen(a.listen, host, sizeof(host), &port)) || (rc = parse_fault(&a, &fault)))
        return rc;
    if (a.quota_delay)
        opt.quota_delay_ms = atoi(a.quota_delay);
    if (a.pod_ready_delay)
        opt.pod_ready_delay_ms = atoi(a.pod_ready_delay);
    if (a.ns_delete_delay)
        opt.ns_delete_delay_ms = atoi(a.ns_delete_delay);
    opt.node_resources = a.node_resources;
    opt.cel_eval = a.cel_eval;
    opt.token_user = a.token_user;
    if (a.request_log && *a.request_log) {
        g_request_log = open(a.request_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (g_request_log < 0) {
            fprintf(stderr, "gpuaas-kubesim: cannot open %s: %s\n", a.request_log, strerror(errno));
            return 1;
        }
    }
    if (load_schema(a.openapi, &schema))
        return 1;
    opt.schema = schema;
    opt.token = a.token;
    rc = 1;
    if (a.tls && load_certs(certdir, &cert, &key, &ca) < 0)
        goto out;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "gpuaas-kubesim: --listen address must be an IPv4 address\n");
        goto out;
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sig = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sig, NULL);
    sigaction(SIGINT, &sig, NULL);
    opt.server_address = NULL;
    g_sim = ksim_new(&opt);
    if (!g_sim)
        goto out;
    if (fault.kind)
        ksim_set_fault(g_sim, &fault);
    if (a.pod_fates) {
        char msg[300];
        if (ksim_pod_fate_add(g_sim, a.pod_fates, msg, sizeof(msg))) {
            fprintf(stderr, "gpuaas-kubesim: --pod-fate %s: %s\n", a.pod_fates, msg);
            rc = 2;
            goto out_sim;
        }
    }
    struct MHD_Daemon *d = start_daemon(&sa, a.tls ? cert : NULL, key);
    if (!d) {
        fprintf(stderr, "gpuaas-kubesim: cannot listen on %s\n", a.listen);
        goto out_sim;
    }
    rc = serve(d, host, port, a.tls, a.kubeconfig, ca, a.token);
    MHD_stop_daemon(d);
out_sim:
    ksim_free(g_sim);
out:
    if (a.tls) {
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", certdir);
        if (strncmp(certdir, "/tmp/kubesim-tls-", 17) == 0 && !strchr(certdir, 'X'))
            run_cmd(cmd);
    }
    free(cert);
    free(key);
    free(ca);
    ksim_schema_free(schema);
    if (g_request_log >= 0)
        close(g_request_log);
    return rc;
}
