/* The reconciler's /healthz, /readyz and /metrics (see rec_health.h). */
#include "reconciler/rec_health.h"

#include "common/portfile.h"
#include "common/strbuf.h"
#include "common/timeutil.h"
#include "reconciler/reconciler.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const double buckets[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
#define NB (sizeof(buckets) / sizeof(buckets[0]))

struct rec_health {
    pthread_mutex_t mu;
    long interval_s;
    char token[256];
    struct MHD_Daemon *mhd;
    int port; /* the bound port while mhd runs */
    bool leader;
    int64_t since_mono; /* start, or the last time the leadership was taken */
    int64_t last_pass_mono;
    double last_pass_wall;
    unsigned long passes, started, stopped, dcgm_scrapes, dcgm_failures;
    int waiting;
    struct rec_stats last; /* the loop's counters after the last pass */
    int db_up;             /* -1 = not yet known, else the last access of the database */
    int64_t kube_cert_not_after;
    int64_t kube_token_exp;
    unsigned long count[NB + 1];
    double sum;
};

struct rec_health *rec_health_new(long interval_s, const char *token)
{
    struct rec_health *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    pthread_mutex_init(&h->mu, NULL);
    h->interval_s = interval_s > 0 ? interval_s : 30;
    snprintf(h->token, sizeof(h->token), "%s", token ? token : "");
    h->since_mono = time_mono_ms();
    h->db_up = -1;
    return h;
}

void rec_health_free(struct rec_health *h)
{
    if (!h)
        return;
    rec_health_stop(h);
    pthread_mutex_destroy(&h->mu);
    memset(h->token, 0, sizeof(h->token));
    free(h);
}

void rec_health_leader(struct rec_health *h, bool leader)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    if (leader && !h->leader)
        h->since_mono = time_mono_ms();
    h->leader = leader;
    pthread_mutex_unlock(&h->mu);
}

void rec_health_pass(struct rec_health *h, double seconds, const struct rec_stats *st)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    h->leader = true;
    h->last_pass_mono = time_mono_ms();
    h->last_pass_wall = (double)time_now();
    h->passes++;
    h->started += (unsigned long)(st->started > 0 ? st->started : 0);
    h->stopped += (unsigned long)(st->stopped > 0 ? st->stopped : 0);
    h->waiting = st->waiting;
    h->dcgm_scrapes = st->dcgm_scrapes;
    h->dcgm_failures = st->dcgm_failures;
    h->last = *st;
    h->db_up = st->db_up ? 1 : 0;
    size_t i = 0;
    while (i < NB && seconds > buckets[i])
        i++;
    h->count[i]++;
    h->sum += seconds;
    pthread_mutex_unlock(&h->mu);
}

void rec_health_db(struct rec_health *h, bool up)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    h->db_up = up ? 1 : 0;
    pthread_mutex_unlock(&h->mu);
}

void rec_health_kube_cert(struct rec_health *h, int64_t not_after, int64_t token_exp)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    h->kube_cert_not_after = not_after;
    h->kube_token_exp = token_exp;
    pthread_mutex_unlock(&h->mu);
}

void rec_health_kube_token(struct rec_health *h, int64_t token_exp)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    h->kube_token_exp = token_exp;
    pthread_mutex_unlock(&h->mu);
}

static int reply(struct MHD_Connection *c, unsigned status, const char *type, struct strbuf *sb)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(sb->len, sb->buf, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    int rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* Constant-time comparison of the Authorization header with "Bearer <token>". */
static bool token_ok(const struct rec_health *h, struct MHD_Connection *c)
{
    if (!h->token[0])
        return true;
    const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!a || strncmp(a, "Bearer ", 7))
        return false;
    a += 7;
    size_t n = strlen(h->token), m = strlen(a);
    unsigned char d = (unsigned char)(n != m);
    for (size_t i = 0; i < n; i++)
        d |= (unsigned char)(h->token[i] ^ (i < m ? a[i] : 0));
    return d == 0;
}

static const char *const outcome_names[REC_OUT__COUNT] = {"ready", "failed"};
static const char *const fail_names[REC_FAIL__COUNT] = {
    "api_error",       "not_ready",  "unschedulable",   "image_pull",        "crash_loop",
    "container_start", "pod_failed", "replica_failure", "progress_deadline", "no_deployment"};
static const char *const sfail_names[REC_SFAIL__COUNT] = {"attempts_exhausted", "plan_invalid",
                                                          "namespace_foreign", "window_ended"};

/* A Prometheus histogram: count[i] observations fell in bucket i (at most bounds[i]), count[n]
 * above them all; the bucket lines are cumulative. */
static void histogram(struct strbuf *sb, const char *name, const char *help, const double *bounds,
                      size_t n, const unsigned long *count, double sum)
{
    sb_addf(sb, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    unsigned long cum = 0;
    for (size_t i = 0; i < n; i++) {
        cum += count[i];
        sb_addf(sb, "%s_bucket{le=\"%g\"} %lu\n", name, bounds[i], cum);
    }
    cum += count[n];
    sb_addf(sb, "%s_bucket{le=\"+Inf\"} %lu\n%s_sum %.6f\n%s_count %lu\n", name, cum, name, sum,
            name, cum);
}

/* Provisioning, GC, drift, the database and the client certificate (label values are fixed
 * sets of the code: no session or object names). */
static void metrics_more(struct rec_health *h, struct strbuf *sb)
{
    const struct rec_stats *st = &h->last;
    sb_adds(sb, "# HELP gpuaas_reconciler_provision_attempts_total Provisioning attempts that "
                "ended, by outcome (ready: the session became ACTIVE).\n"
                "# TYPE gpuaas_reconciler_provision_attempts_total counter\n");
    for (int i = 0; i < REC_OUT__COUNT; i++)
        sb_addf(sb, "gpuaas_reconciler_provision_attempts_total{outcome=\"%s\"} %lu\n",
                outcome_names[i], st->attempts[i]);
    sb_adds(sb, "# HELP gpuaas_reconciler_provision_failures_total Failed provisioning attempts "
                "by reason.\n# TYPE gpuaas_reconciler_provision_failures_total counter\n");
    for (int i = 0; i < REC_FAIL__COUNT; i++)
        sb_addf(sb, "gpuaas_reconciler_provision_failures_total{reason=\"%s\"} %lu\n",
                fail_names[i], st->attempt_failures[i]);
    sb_adds(sb, "# HELP gpuaas_reconciler_sessions_failed_total Sessions this process marked "
                "FAILED, by reason.\n# TYPE gpuaas_reconciler_sessions_failed_total counter\n");
    for (int i = 0; i < REC_SFAIL__COUNT; i++)
        sb_addf(sb, "gpuaas_reconciler_sessions_failed_total{reason=\"%s\"} %lu\n", sfail_names[i],
                st->sessions_failed[i]);
    sb_adds(sb, "# HELP gpuaas_reconciler_gc_actions_total Garbage-collection actions by kind.\n"
                "# TYPE gpuaas_reconciler_gc_actions_total counter\n");
    for (int i = 0; i < 8; i++)
        if (rec_gc_action_names[i][0])
            sb_addf(sb, "gpuaas_reconciler_gc_actions_total{action=\"%s\"} %lu\n",
                    rec_gc_action_names[i], st->gc_actions[i]);
    sb_adds(sb, "# HELP gpuaas_reconciler_drift_repairs_total Objects of active sessions found "
                "deleted or changed and re-applied, by kind.\n"
                "# TYPE gpuaas_reconciler_drift_repairs_total counter\n");
    for (int i = 0; i < st->n_repair_kinds; i++)
        sb_addf(sb, "gpuaas_reconciler_drift_repairs_total{kind=\"%s\"} %lu\n", st->repairs[i].kind,
                st->repairs[i].n);
    sb_addf(sb,
            "# HELP gpuaas_reconciler_drifted_objects Objects found deleted or changed by the "
            "last pass.\n# TYPE gpuaas_reconciler_drifted_objects gauge\n"
            "gpuaas_reconciler_drifted_objects %d\n"
            "# HELP gpuaas_reconciler_sessions_provisioning Sessions whose window began and that "
            "are not ACTIVE after the last pass.\n"
            "# TYPE gpuaas_reconciler_sessions_provisioning gauge\n"
            "gpuaas_reconciler_sessions_provisioning %d\n"
            "# HELP gpuaas_reconciler_provisioning_oldest_seconds How long the longest of them "
            "has been due (0 = none).\n"
            "# TYPE gpuaas_reconciler_provisioning_oldest_seconds gauge\n"
            "gpuaas_reconciler_provisioning_oldest_seconds %lld\n",
            st->drifted, st->provisioning, (long long)st->provisioning_oldest);
    histogram(sb, "gpuaas_reconciler_start_lag_seconds",
              "From a booking's start to its session ACTIVE.", rec_start_lag_buckets,
              REC_LAG_BUCKETS, st->start_lag, st->start_lag_sum);
    sb_adds(sb, "# HELP gpuaas_reconciler_gpu_measured_unit_seconds_total GPU unit-seconds of "
                "ACTIVE sessions measured by DCGM, by GPU resource.\n"
                "# TYPE gpuaas_reconciler_gpu_measured_unit_seconds_total counter\n");
    for (int i = 0; i < st->n_gpu_use; i++)
        sb_addf(sb, "gpuaas_reconciler_gpu_measured_unit_seconds_total{resource=\"%s\"} %.3f\n",
                st->gpu_use[i].resource, st->gpu_use[i].measured);
    sb_adds(sb, "# HELP gpuaas_reconciler_gpu_busy_unit_seconds_total Of those, the unit-seconds "
                "the GPUs were busy (DCGM_FI_PROF_GR_ENGINE_ACTIVE).\n"
                "# TYPE gpuaas_reconciler_gpu_busy_unit_seconds_total counter\n");
    for (int i = 0; i < st->n_gpu_use; i++)
        sb_addf(sb, "gpuaas_reconciler_gpu_busy_unit_seconds_total{resource=\"%s\"} %.3f\n",
                st->gpu_use[i].resource, st->gpu_use[i].busy);
    if (h->db_up >= 0)
        sb_addf(sb,
                "# HELP gpuaas_database_up 1 when the last access of the database succeeded.\n"
                "# TYPE gpuaas_database_up gauge\ngpuaas_database_up %d\n",
                h->db_up);
    if (h->kube_cert_not_after > 0)
        sb_addf(sb,
                "# HELP gpuaas_reconciler_kube_client_cert_expiry_timestamp_seconds notAfter of "
                "the client certificate in the reconciler's kubeconfig.\n"
                "# TYPE gpuaas_reconciler_kube_client_cert_expiry_timestamp_seconds gauge\n"
                "gpuaas_reconciler_kube_client_cert_expiry_timestamp_seconds %lld\n",
                (long long)h->kube_cert_not_after);
    if (h->kube_token_exp > 0)
        sb_addf(sb,
                "# HELP gpuaas_reconciler_kube_token_expiry_timestamp_seconds The exp claim of "
                "the reconciler's Kubernetes bearer token (a JWT), read at start.\n"
                "# TYPE gpuaas_reconciler_kube_token_expiry_timestamp_seconds gauge\n"
                "gpuaas_reconciler_kube_token_expiry_timestamp_seconds %lld\n",
                (long long)h->kube_token_exp);
}

static void metrics(struct rec_health *h, struct strbuf *sb)
{
    sb_addf(sb,
            "# HELP gpuaas_reconciler_leader 1 while this reconciler holds the leader lock.\n"
            "# TYPE gpuaas_reconciler_leader gauge\ngpuaas_reconciler_leader %d\n",
            h->leader ? 1 : 0);
    sb_addf(sb,
            "# HELP gpuaas_reconciler_passes_total Passes completed by this process.\n"
            "# TYPE gpuaas_reconciler_passes_total counter\ngpuaas_reconciler_passes_total %lu\n",
            h->passes);
    histogram(sb, "gpuaas_reconciler_pass_duration_seconds", "Duration of completed passes.",
              buckets, NB, h->count, h->sum);
    if (h->passes)
        sb_addf(sb,
                "# HELP gpuaas_reconciler_last_pass_timestamp_seconds When the last pass "
                "completed.\n# TYPE gpuaas_reconciler_last_pass_timestamp_seconds gauge\n"
                "gpuaas_reconciler_last_pass_timestamp_seconds %.0f\n",
                h->last_pass_wall);
    sb_addf(sb,
            "# HELP gpuaas_reconciler_sessions_waiting Sessions waiting on the cluster after the "
            "last pass.\n# TYPE gpuaas_reconciler_sessions_waiting gauge\n"
            "gpuaas_reconciler_sessions_waiting %d\n"
            "# HELP gpuaas_reconciler_sessions_started_total Sessions this process made ACTIVE.\n"
            "# TYPE gpuaas_reconciler_sessions_started_total counter\n"
            "gpuaas_reconciler_sessions_started_total %lu\n"
            "# HELP gpuaas_reconciler_sessions_stopped_total Sessions this process finished.\n"
            "# TYPE gpuaas_reconciler_sessions_stopped_total counter\n"
            "gpuaas_reconciler_sessions_stopped_total %lu\n"
            "# HELP gpuaas_reconciler_dcgm_scrapes_total DCGM scrapes attempted by this process.\n"
            "# TYPE gpuaas_reconciler_dcgm_scrapes_total counter\n"
            "gpuaas_reconciler_dcgm_scrapes_total %lu\n"
            "# HELP gpuaas_reconciler_dcgm_scrape_failures_total DCGM scrapes that failed.\n"
            "# TYPE gpuaas_reconciler_dcgm_scrape_failures_total counter\n"
            "gpuaas_reconciler_dcgm_scrape_failures_total %lu\n",
            h->waiting, h->started, h->stopped, h->dcgm_scrapes, h->dcgm_failures);
    metrics_more(h, sb);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state)
{
    (void)version;
    (void)upload;
    (void)upload_size;
    (void)state;
    struct rec_health *h = cls;
    struct strbuf sb;
    sb_init(&sb);
    unsigned status = 200;
    const char *type = "text/plain; charset=utf-8";
    if (strcmp(method, "GET")) {
        status = 405;
        sb_adds(&sb, "method not allowed\n");
    } else if (!strcmp(url, "/readyz")) {
        sb_adds(&sb, "ok\n");
    } else if (!strcmp(url, "/healthz")) {
        pthread_mutex_lock(&h->mu);
        int64_t now = time_mono_ms();
        int64_t ref = h->last_pass_mono > h->since_mono ? h->last_pass_mono : h->since_mono;
        int64_t limit = (int64_t)REC_HEALTH_STALL_INTERVALS * h->interval_s * 1000;
        if (!h->leader) {
            sb_adds(&sb, "ok: standby\n");
        } else if (now - ref > limit) {
            status = 503;
            sb_addf(&sb, "no pass completed for %.1f s (limit %d intervals of %ld s)\n",
                    (double)(now - ref) / 1000.0, REC_HEALTH_STALL_INTERVALS, h->interval_s);
        } else {
            sb_addf(&sb, "ok: leader, last pass %.1f s ago\n", (double)(now - ref) / 1000.0);
        }
        pthread_mutex_unlock(&h->mu);
    } else if (!strcmp(url, "/metrics")) {
        if (!token_ok(h, c)) {
            status = 401;
            sb_adds(&sb, "a bearer token is required\n");
        } else {
            type = "text/plain; version=0.0.4; charset=utf-8";
            pthread_mutex_lock(&h->mu);
            metrics(h, &sb);
            pthread_mutex_unlock(&h->mu);
        }
    } else {
        status = 404;
        sb_adds(&sb, "not found\n");
    }
    int rc = sb.err ? MHD_NO : reply(c, status, type, &sb);
    sb_release(&sb);
    return rc == MHD_YES ? MHD_YES : MHD_NO;
}

int rec_health_serve(struct rec_health *h, const char *listen, struct error *err)
{
    char host[64];
    int port;
    int rc = listen_split(listen, host, sizeof(host), &port, "--health-listen", err);
    if (rc < 0)
        return rc;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return error_set(err, ERR_INVALID, "--health-listen",
                         "--health-listen: \"%s\" is not an IPv4 address and port", listen);
    h->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handle, h,
                              MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)16, MHD_OPTION_END);
    if (!h->mhd)
        return error_set(err, ERR_IO, "--health-listen", "cannot listen on %s", listen);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di ? di->port : port;
    return 0;
}

int rec_health_port(const struct rec_health *h)
{
    return h && h->mhd ? h->port : 0;
}

void rec_health_stop(struct rec_health *h)
{
    if (h && h->mhd) {
        MHD_stop_daemon(h->mhd);
        h->mhd = NULL;
    }
}
