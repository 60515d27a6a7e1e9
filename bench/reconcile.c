/* bench/reconcile: the reconciler against the Kubernetes API test double.
 *   1. N bookings (default 1000) whose windows start at the same instant -> seconds until all
 *      are ACTIVE;
 *   2. one booking alone -> lag from its window start to ACTIVE (target < 1 s);
 *   3. one full pass over the N ACTIVE sessions with nothing to change (target < 5 s);
 *   4. peak resident memory of the reconciler.
 * Usage: gpuaas-bench-reconcile [--bookings N] [--db URL] [--out FILE.md]
 * Runs build/gpuaas and build/gpuaas-kubesim; the database defaults to a SQLite file. */
#include "common/timeutil.h"
#include "core/config.h"
#include "core/pool.h"
#include "store/store.h"

#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *build = "build";
static char dir[256];

static void msleep(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static pid_t spawn(char *const argv[], const char *log)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static void stop(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 250; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        msleep(20);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static long peak_rss_kib(pid_t pid)
{
    char path[64], line[256];
    long kib = -1;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmHWM:", 6))
            kib = strtol(line + 6, NULL, 10);
    fclose(f);
    return kib;
}

static int count_state(struct store *st, enum res_state s)
{
    struct reservation *rs = NULL;
    size_t n = 0;
    struct res_filter f = {.state = (int)s};
    if (store_reservation_list(st, &f, &rs, &n))
        return -1;
    free(rs);
    return (int)n;
}

static int64_t admit(struct store *st, const struct pool *p, int64_t user, const char *type,
                     int64_t start, int64_t end)
{
    struct reservation r = {0};
    struct window next = {0};
    struct error err = {0};
    r.user_id = user;
    snprintf(r.gpu_type, sizeof(r.gpu_type), "%s", type);
    r.gpu_count = 1;
    r.mode = MODE_INFERENCE;
    r.cpu = 8;
    r.memory_gib = 64;
    r.storage_gib = 320;
    r.starts_at = start;
    r.ends_at = end;
    if (store_reservation_admit(st, p, &r, time_now(), &next, &err)) {
        fprintf(stderr, "admit: %s\n", err.message);
        return -1;
    }
    return r.id;
}

int main(int argc, char **argv)
{
    int n = 1000;
    const char *db = NULL, *out = NULL;
    char db_buf[400], cfg_path[400], kubeconfig[400], log[400], listen[64];
    struct error err = {0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--bookings") && i + 1 < argc)
            n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--db") && i + 1 < argc)
            db = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc)
            out = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--bookings N] [--db URL] [--out FILE]\n", argv[0]);
            return 2;
        }
    }
    if (n < 1 || n > 1024) {
        fprintf(stderr, "--bookings must be 1..1024\n");
        return 2;
    }
    if (getenv("GPUAAS_BUILD"))
        build = getenv("GPUAAS_BUILD");
    snprintf(dir, sizeof(dir), "/tmp/gpuaas-bench-reconcile-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    if (!db) {
        snprintf(db_buf, sizeof(db_buf), "sqlite://%s/gpuaas.db", dir);
        db = db_buf;
    }
    /* 64 nodes x 16 whole GPUs: room for 1,024 simultaneous one-GPU bookings. */
    snprintf(cfg_path, sizeof(cfg_path), "%s/gpuaas.yaml", dir);
    FILE *f = fopen(cfg_path, "w");
    fprintf(f, "log_level: warn\ndatabase:\n  url: %s\npool:\n  nodes:\n", db);
    for (int k = 0; k < 64; k++) {
        fprintf(f,
                "    - name: node-%d\n      cpu: 128\n      memory_gib: 1024\n"
                "      storage_gib: 6000\n      gpus:\n",
                k);
        for (int g = 0; g < 16; g++)
            fprintf(f, "        - model: GPU\n          memory_gib: 80\n          whole: true\n");
    }
    fprintf(f, "session:\n  max_gpus: 4\n  start_grace_seconds: 7200\nreconciler:\n"
               "  interval_seconds: 30\n  gc_interval_seconds: 3600\n  platform: kubernetes\n"
               "  leader_election: false\n  ingress_domain: apps.bench\n");
    fclose(f);
    struct config *cfg = NULL;
    struct pool pool;
    if (config_load_file(cfg_path, &cfg, &err) || pool_derive(cfg, &pool, &err)) {
        fprintf(stderr, "config: %s\n", err.message);
        return 1;
    }

    char sim_path[400], gp_path[400];
    snprintf(sim_path, sizeof(sim_path), "%s/gpuaas-kubesim", build);
    snprintf(gp_path, sizeof(gp_path), "%s/gpuaas", build);
    snprintf(kubeconfig, sizeof(kubeconfig), "%s/kubeconfig", dir);
    snprintf(listen, sizeof(listen), "127.0.0.1:0");
    char *sim_argv[] = {sim_path, "--listen", listen, "--kubeconfig-out", kubeconfig, NULL};
    snprintf(log, sizeof(log), "%s/kubesim.log", dir);
    pid_t sim = spawn(sim_argv, log);
    for (int t = 0; t < 250 && access(kubeconfig, R_OK); t++)
        msleep(20);
    msleep(200);

    struct store *st = NULL;
    if (store_open(db, &st, &err)) {
        fprintf(stderr, "store: %s\n", err.message);
        stop(sim);
        return 1;
    }
    struct user u = {0};
    int64_t uid = 0;
    snprintf(u.username, sizeof(u.username), "bench");
    snprintf(u.role, sizeof(u.role), "user");
    snprintf(u.password_hash, sizeof(u.password_hash), "x");
    store_user_create(st, &u, &uid, &err);

    /* 1. N bookings starting at the same instant, a few seconds ahead. */
    int64_t start = time_now() + 3;
    for (int i = 0; i < n; i++)
        if (admit(st, &pool, uid, "nvidia.com/gpu", start, start + 7200) < 0)
            return 1;
    char *rec_argv[] = {gp_path,        "reconciler", "--config", cfg_path,
                        "--kubeconfig", kubeconfig,   NULL};
    snprintf(log, sizeof(log), "%s/reconciler.log", dir);
    pid_t rec = spawn(rec_argv, log);
    double all_active = -1;
    while (now_s() < (double)start + 180) {
        if (count_state(st, RS_ACTIVE) == n) {
            all_active = now_s() - (double)start;
            break;
        }
        msleep(50);
    }
    long rss_mass = peak_rss_kib(rec);

    /* 3. A pass over the N ACTIVE sessions with nothing to change (in the log as pass ms). */
    double pass_s = -1;
    if (all_active >= 0) {
        char *once_argv[] = {gp_path,        "reconciler", "--config", cfg_path,
                             "--kubeconfig", kubeconfig,   "--once",   NULL};
        stop(rec);
        double t0 = now_s();
        pid_t once = spawn(once_argv, log);
        waitpid(once, NULL, 0);
        pass_s = now_s() - t0;
        rec = spawn(rec_argv, log);
        msleep(500);
    }

    /* 2. One booking alone: lag from its window start to ACTIVE. */
    double lag = -1;
    int64_t s1 = time_now() + 2;
    int64_t id1 = admit(st, &pool, uid, "nvidia.com/gpu", s1, s1 + 3600);
    if (id1 > 0) {
        /* Only the booking's own start wakes the reconciler (no notification on SQLite). */
        while (now_s() < (double)s1 + 60) {
            struct reservation r;
            if (store_reservation_get(st, id1, &r) == 0 && r.state == RS_ACTIVE) {
                lag = now_s() - (double)s1;
                break;
            }
            msleep(10);
        }
    }
    long rss = peak_rss_kib(rec);
    if (rss < rss_mass)
        rss = rss_mass;
    stop(rec);
    stop(sim);

    printf("bookings: %d\nall ACTIVE after window start: %.2f s\n"
           "single booking lag: %.3f s\nidle pass over %d ACTIVE (process incl. GC sweep): %.2f s\n"
           "peak RSS: %.1f MiB\n",
           n, all_active, lag, n, pass_s, rss / 1024.0);
    if (out) {
        FILE *o = fopen(out, "w");
        if (o) {
            fprintf(o,
                    "| metric | result | target |\n|---|---|---|\n"
                    "| %d bookings starting at one instant: all ACTIVE after | %.2f s | - |\n"
                    "| single booking: window start to ACTIVE | %.3f s | < 1 s |\n"
                    "| one pass over %d ACTIVE sessions, nothing to change (process start, GC "
                    "sweep and pass) | %.2f s | < 5 s |\n"
                    "| reconciler peak RSS | %.1f MiB | - |\n",
                    n, all_active, lag, n, pass_s, rss / 1024.0);
            fclose(o);
        }
    }
    store_close(st);
    config_free(cfg);
    return all_active >= 0 && lag >= 0 ? 0 : 1;
}
