/* `gpuaas reconciler`: run the control-plane loop against the database and Kubernetes. */
#include "cli/commands.h"
#include "cli/shared.h"
#include "common/args.h"
#include "common/log.h"
#include "common/portfile.h"
#include "core/config.h"
#include "core/session_plan.h"
#include "common/strbuf.h"
#include "kube/kube.h"
#include "reconciler/rec_health.h"
#include "reconciler/reconciler.h"
#include "store/store.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void usage(FILE *out)
{
    fprintf(out, "Usage: gpuaas reconciler [--config FILE] [--kubeconfig FILE] [--once]\n"
                 "                         [--time-offset SECONDS] [--health-listen ADDR:PORT]\n"
                 "                         [--health-port-file PATH]\n"
                 "Runs the control-plane loop: provisions session namespaces when windows begin,\n"
                 "tears them down when they end, repairs and garbage-collects.\n"
                 "  --config FILE        configuration (else $GPUAAS_CONFIG)\n"
                 "  --kubeconfig FILE    cluster access (else reconciler.kubeconfig, $KUBECONFIG,\n"
                 "                       or the in-cluster service account)\n"
                 "  --once               one garbage-collection sweep and one pass, then exit\n"
                 "  --time-offset SECS   shift the clock (tests)\n"
                 "  --health-listen A:P  serve /healthz, /readyz and /metrics there (the metrics\n"
                 "                       need the token of server.metrics_token_file when set;\n"
                 "                       port 0: the kernel picks one)\n"
                 "  --health-port-file P once the health listener listens, writes its port to P\n"
                 "                       (atomically)\n");
}

int cmd_reconciler(int argc, char **argv)
{
    const char *cfg_flag = NULL, *kubeconfig = NULL, *offset_s = NULL, *health_listen = NULL;
    const char *health_port_file = NULL;
    int once = 0;
    long long offset = 0;
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    const struct cli_opt opts[] = {{"--config", NULL, &cfg_flag, NULL},
                                   {"--kubeconfig", NULL, &kubeconfig, NULL},
                                   {"--once", NULL, NULL, &once},
                                   {"--time-offset", NULL, &offset_s, NULL},
                                   {"--health-listen", NULL, &health_listen, NULL},
                                   {"--health-port-file", NULL, &health_port_file, NULL}};
    size_t npos;
    if (CLI_PARSE(argc, argv, opts, NULL, 0, &npos)) {
        usage(stderr);
        return 2;
    }
    if (health_port_file && !health_listen) {
        fprintf(stderr, "gpuaas reconciler: --health-port-file needs --health-listen\n");
        return 2;
    }
    if (offset_s) {
        char *end = NULL;
        errno = 0;
        offset = strtoll(offset_s, &end, 10);
        if (errno || !*offset_s || *end) {
            fprintf(stderr, "gpuaas reconciler: --time-offset: not a number of seconds\n");
            return 2;
        }
    }
    const char *path = cli_require_config("gpuaas reconciler", cfg_flag);
    if (!path)
        return 2;
    struct config *cfg = NULL;
    struct error err = {0};
    struct store *st = NULL, *listen = NULL, *leader = NULL;
    struct kube_config *kc = NULL;
    struct kube_client *kube = NULL;
    struct rec *rc = NULL;
    struct rec_health *health = NULL;
    int64_t cert_not_after = 0, token_exp = 0;
    int status = 1;
    if (config_load_file(path, &cfg, &err) < 0 || session_plan_check_config(cfg, &err) < 0) {
        fprintf(stderr, "gpuaas: %s\n", err.message);
        config_free(cfg);
        return 1;
    }
    if (log_set_level(cfg->log_level))
        log_set_level("info");
    if (!kubeconfig || !kubeconfig[0])
        kubeconfig = cfg->reconciler.kubeconfig;
    if (kube_config_resolve(kubeconfig, &kc, &err)) {
        log_error("cannot load Kubernetes access", "error=\"%s\"", err.message);
        goto out;
    }
    if (kube_config_cert_not_after(kc, &cert_not_after, &err)) {
        log_error("cannot read the kubeconfig's client certificate", "error=\"%s\"", err.message);
        goto out;
    }
    kube_config_token_expiry(kc, &token_exp);
    if (kube_client_new(kc, NULL, &kube, &err)) {
        log_error("cannot create the Kubernetes client", "error=\"%s\"", err.message);
        goto out;
    }
    if (store_open(cfg->database.url, &st, &err) || store_open(cfg->database.url, &listen, &err) ||
        (cfg->reconciler.leader_election && store_open(cfg->database.url, &leader, &err))) {
        log_error("cannot open the database", "error=\"%s\"", err.message);
        goto out;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int e = rec_new(cfg, st, listen, leader, kube, offset, &rc, &err);
    st = listen = leader = NULL;
    kube = NULL;
    if (e) {
        log_error("cannot start the reconciler", "error=\"%s\"", err.message);
        goto out;
    }
    if (health_listen) {
        char *token = NULL;
        size_t tlen = 0;
        const char *tf = cfg->server.metrics_token_file;
        if (tf && tf[0] && read_file(tf, 4096, &token, &tlen, &err) < 0) {
            log_error("cannot read the metrics token", "error=\"%s\"", err.message);
            goto out;
        }
        if (token)
            token[strcspn(token, "\r\n")] = '\0';
        health = rec_health_new(cfg->reconciler.interval_seconds, token);
        if (token) {
            memset(token, 0, tlen);
            free(token);
        }
        if (!health || rec_health_serve(health, health_listen, &err) < 0) {
            log_error("cannot serve health and metrics", "error=\"%s\"",
                      health ? err.message : "out of memory");
            goto out;
        }
        rec_health_kube_cert(health, cert_not_after, token_exp);
        if (health_port_file && port_file_write(health_port_file, rec_health_port(health),
                                                "--health-port-file", &err) < 0) {
            log_error("cannot report the health port", "error=\"%s\"", err.message);
            goto out;
        }
        rec_set_health(rc, health);
    }
    log_info("reconciler started",
             "platform=%s interval_s=%ld leader_election=%s time_offset=%lld dcgm_interval_s=%ld",
             cfg->reconciler.platform, cfg->reconciler.interval_seconds,
             cfg->reconciler.leader_election ? "true" : "false", offset,
             cfg->reconciler.dcgm_url[0] ? cfg->reconciler.dcgm_interval_seconds : 0L);
    status = rec_run(rc, once, &stop_flag) ? 1 : 0;
out:
    rec_health_stop(health);
    rec_free(rc);
    rec_health_free(health);
    store_close(st);
    store_close(listen);
    store_close(leader);
    kube_client_free(kube);
    config_free(cfg);
    return status;
}
