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
#include <sys/stat.h>
#include <unistd.h>

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
        ksim_handle(g_sim, method, url, query, ct,
                    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept"), auth,
                    st->body.sb.len ? st->body.sb.buf : NULL, st->body.sb.len, &r);
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

static char *base64(const char *in, size_t len)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned char)in[i] << 16;
        if (i + 1 < len)
            v |= (unsigned char)in[i + 1] << 8;
        if (i + 2 < len)
            v |= (unsigned char)in[i + 2];
        out[o++] = t[(v >> 18) & 63];
        out[o++] = t[(v >> 12) & 63];
        out[o++] = i + 1 < len ? t[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? t[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
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
        char *b = base64(ca_pem, strlen(ca_pem));
        fprintf(f, "    certificate-authority-data: %s\n", b ? b : "");
        free(b);
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
        "       [--fault-rate P] [--fault-path SUBSTR] [--log-level LEVEL]\n"
        "       [--node-resources nvidia.com/gpu=8,...] (allocatable of the node kubesim-node)\n"
        "       [--request-log FILE] (appends \"VERB GROUP/RESOURCE[/SUB] CLIENT\" per request;\n"
        "       default $GPUAAS_KUBESIM_REQUEST_LOG)\n"
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

int main(int argc, char **argv)
{
    const char *listen = NULL, *kubeconfig = NULL, *token = NULL, *openapi = NULL;
    const char *fault_kind = NULL, *fault_path = NULL;
    const char *request_log = getenv("GPUAAS_KUBESIM_REQUEST_LOG");
    int tls = 0, rc = 1;
    long fail_nth = 0;
    double fault_rate = -1;
    struct ksim_options opt = {
        .quota_delay_ms = 200, .pod_ready_delay_ms = 300, .ns_delete_delay_ms = 300};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (!strcmp(a, name) && v && (++i, 1))
        if (ARG("--listen"))
            listen = v;
        else if (ARG("--kubeconfig-out"))
            kubeconfig = v;
        else if (!strcmp(a, "--tls"))
            tls = 1;
        else if (ARG("--token"))
            token = v;
        else if (ARG("--openapi"))
            openapi = v;
        else if (ARG("--quota-delay-ms"))
            opt.quota_delay_ms = atoi(v);
        else if (ARG("--pod-ready-delay-ms"))
            opt.pod_ready_delay_ms = atoi(v);
        else if (ARG("--ns-delete-delay-ms"))
            opt.ns_delete_delay_ms = atoi(v);
        else if (ARG("--fail-nth"))
            fail_nth = atol(v);
        else if (ARG("--fault"))
            fault_kind = v;
        else if (ARG("--fault-rate"))
            fault_rate = atof(v);
        else if (ARG("--fault-path"))
            fault_path = v;
        else if (ARG("--node-resources"))
            opt.node_resources = v;
        else if (ARG("--request-log"))
            request_log = v;
        else if (ARG("--log-level")) {
            if (log_set_level(v)) {
                fprintf(stderr, "gpuaas-kubesim: bad --log-level %s\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "gpuaas-kubesim: unknown or incomplete argument %s\n", a);
            usage(stderr);
            return 2;
        }
#undef ARG
    }
    if (!listen || !kubeconfig) {
        usage(stderr);
        return 2;
    }
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof(host)) {
        fprintf(stderr, "gpuaas-kubesim: --listen must be ADDR:PORT\n");
        return 2;
    }
    snprintf(host, sizeof(host), "%.*s", (int)(colon - listen), listen);
    int port = atoi(colon + 1);
    if (port < 0 || port > 65535) {
        fprintf(stderr, "gpuaas-kubesim: bad port in --listen\n");
        return 2;
    }
    struct ksim_fault fault = {0};
    if (fault_kind || fail_nth) {
        if (ksim_parse_fault(fault_kind ? fault_kind : "500", &fault)) {
            fprintf(stderr, "gpuaas-kubesim: --fault must be 500, 429, drop or latency:MS\n");
            return 2;
        }
        fault.fail_nth = fail_nth;
        fault.rate = fault_rate >= 0 ? fault_rate : 1.0;
        if (fault_path)
            snprintf(fault.path, sizeof(fault.path), "%s", fault_path);
    }

    if (request_log && *request_log) {
        g_request_log = open(request_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (g_request_log < 0) {
            fprintf(stderr, "gpuaas-kubesim: cannot open %s: %s\n", request_log, strerror(errno));
            return 1;
        }
    }

    struct ksim_schema *schema = NULL;
    char dirbuf[PATH_MAX];
    if (!openapi)
        openapi = default_openapi_dir(dirbuf, sizeof(dirbuf));
    if (openapi) {
        struct error e = {0};
        if (ksim_schema_load(openapi, &schema, &e)) {
            fprintf(stderr, "gpuaas-kubesim: %s\n", e.message);
            return 1;
        }
    } else {
        log_warn("no OpenAPI definitions found; schema validation is off", "hint=%s",
                 "--openapi DIR");
    }
    opt.schema = schema;
    opt.token = token;

    char certdir[] = "/tmp/kubesim-tls-XXXXXX";
    char *cert = NULL, *key = NULL, *ca = NULL;
    if (tls) {
        if (!mkdtemp(certdir) || make_certs(certdir)) {
            fprintf(stderr, "gpuaas-kubesim: could not generate certificates with openssl\n");
            goto out;
        }
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/server.crt", certdir);
        int r = read_file(p, CERT_MAX_BYTES, &cert, NULL, NULL);
        snprintf(p, sizeof(p), "%s/server.key", certdir);
        r = r ? r : read_file(p, CERT_MAX_BYTES, &key, NULL, NULL);
        snprintf(p, sizeof(p), "%s/ca.crt", certdir);
        r = r ? r : read_file(p, CERT_MAX_BYTES, &ca, NULL, NULL);
        if (r) {
            fprintf(stderr, "gpuaas-kubesim: could not read generated certificates\n");
            goto out;
        }
    }

    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (!strcmp(host, "localhost"))
        snprintf(host, sizeof(host), "127.0.0.1");
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "gpuaas-kubesim: --listen address must be an IPv4 address\n");
        goto out;
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sig = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sig, NULL);
    sigaction(SIGINT, &sig, NULL);

    unsigned flags =
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (tls)
        flags |= MHD_USE_TLS;
    opt.server_address = NULL;
    g_sim = ksim_new(&opt);
    if (!g_sim)
        goto out;
    if (fault.kind)
        ksim_set_fault(g_sim, &fault);
    struct MHD_Daemon *d;
    if (tls)
        d = MHD_start_daemon(flags, 0, NULL, NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                             MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                             MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_HTTPS_MEM_KEY, key,
                             MHD_OPTION_CONNECTION_TIMEOUT, 600u, MHD_OPTION_END);
    else
        d = MHD_start_daemon(flags, 0, NULL, NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                             MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                             MHD_OPTION_CONNECTION_TIMEOUT, 600u, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "gpuaas-kubesim: cannot listen on %s\n", listen);
        goto out_sim;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    int bound = info ? info->port : port;
    char server[300];
    snprintf(server, sizeof(server), "%s://%s:%d", tls ? "https" : "http", host, bound);
    if (write_kubeconfig(kubeconfig, server, ca, token)) {
        fprintf(stderr, "gpuaas-kubesim: cannot write %s\n", kubeconfig);
        MHD_stop_daemon(d);
        goto out_sim;
    }
    log_info("kubesim listening", "server=%s kubeconfig=%s tls=%d", server, kubeconfig, tls);
    pthread_t ctl;
    pthread_create(&ctl, NULL, controller_thread, NULL);
    while (!g_stop)
        pause();
    log_info("kubesim stopping", "server=%s", server);
    ksim_shutdown(g_sim);
    pthread_join(ctl, NULL);
    MHD_stop_daemon(d);
    rc = 0;
out_sim:
    ksim_free(g_sim);
out:
    if (tls) {
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
