/* The Kubernetes client against the API test double (build/gpuaas-kubesim) over real sockets:
 * CRUD and server-side apply, Status errors, retries of 500/429/dropped connections and
 * timeouts (faults injected at run time), no retry of 4xx, HTTPS with a CA and a bearer
 * token, watch, and the quota refusal of a GPU type held at 0. */
#include "common/timeutil.h"
#include "kube/kube.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct sim {
    pid_t pid;
    char dir[256];
    char kubeconfig[300];
    struct kube_config *kc;
};

static void msleep(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int sim_start(struct sim *s, const char *const extra[])
{
    struct error err = {0};
    const char *b = getenv("GPUAAS_BUILD");
    const char *base = getenv("GPUAAS_TEST_OUTPUT");
    char bin[512], log[400];
    snprintf(bin, sizeof(bin), "%s/gpuaas-kubesim", b && b[0] ? b : "build");
    if (access(bin, X_OK)) {
        print_error("%s is not built\n", bin);
        return -1;
    }
    snprintf(s->dir, sizeof(s->dir), "%s/kube-client-XXXXXX", base && base[0] ? base : "/tmp");
    mkdir(base && base[0] ? base : "/tmp", 0755);
    if (!mkdtemp(s->dir))
        return -1;
    snprintf(s->kubeconfig, sizeof(s->kubeconfig), "%s/kubeconfig", s->dir);
    snprintf(log, sizeof(log), "%s/kubesim.log", s->dir);
    char *argv[16] = {bin, "--listen", "127.0.0.1:0", "--kubeconfig-out", s->kubeconfig};
    int n = 5;
    for (size_t i = 0; extra && extra[i] && n < 15; i++)
        argv[n++] = (char *)extra[i];
    argv[n] = NULL;
    s->pid = fork();
    if (s->pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(bin, argv);
        _exit(127);
    }
    for (int t = 0; t < 500; t++) {
        msleep(20);
        if (access(s->kubeconfig, R_OK) == 0 &&
            kube_config_load_file(s->kubeconfig, &s->kc, &err) == 0)
            return 0;
    }
    print_error("the test double did not start (see %s)\n", log);
    return -1;
}

static void sim_stop(struct sim *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
    }
    kube_config_free(s->kc);
}

/* A client on a copy of the simulator's kubeconfig. */
static struct kube_client *client(struct sim *s, const struct kube_client_opts *o)
{
    struct kube_config *kc = NULL;
    struct kube_client *c = NULL;
    struct error err = {0};
    assert_int_equal(kube_config_load_file(s->kubeconfig, &kc, &err), 0);
    assert_int_equal(kube_client_new(kc, o, &c, &err), 0);
    return c;
}

/* POST /_sim/faults with a JSON body (NULL: DELETE = clear). */
static void set_fault(struct sim *s, const char *json)
{
    CURL *cu = curl_easy_init();
    char url[512];
    snprintf(url, sizeof(url), "%s/_sim/faults", s->kc->server);
    curl_easy_setopt(cu, CURLOPT_URL, url);
    curl_easy_setopt(cu, CURLOPT_CUSTOMREQUEST, json ? "POST" : "DELETE");
    if (json)
        curl_easy_setopt(cu, CURLOPT_POSTFIELDS, json);
    FILE *null = fopen("/dev/null", "w");
    curl_easy_setopt(cu, CURLOPT_WRITEDATA, null);
    assert_int_equal(curl_easy_perform(cu), CURLE_OK);
    long code = 0;
    curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &code);
    assert_int_equal(code, 200);
    fclose(null);
    curl_easy_cleanup(cu);
}

static json_t *ns_obj(const char *name)
{
    return json_pack("{s:s,s:s,s:{s:s,s:{s:s}}}", "apiVersion", "v1", "kind", "Namespace",
                     "metadata", "name", name, "labels", "app.kubernetes.io/managed-by", "gpuaas");
}

static json_t *cm_obj(const char *ns, const char *name, const char *value)
{
    return json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:{s:s}}", "apiVersion", "v1", "kind",
                     "ConfigMap", "metadata", "name", name, "namespace", ns, "labels", "app", "x",
                     "data", "k", value);
}

static int setup_plain(void **state)
{
    struct sim *s = calloc(1, sizeof(*s));
    *state = s;
    return sim_start(s, NULL);
}

static int teardown(void **state)
{
    struct sim *s = *state;
    sim_stop(s);
    free(s);
    return 0;
}

static void test_crud_apply_and_status(void **state)
{
    struct sim *s = *state;
    struct kube_client *c = client(s, NULL);
    struct error err = {0};
    json_t *ns = ns_obj("t1"), *got = NULL;
    assert_int_equal(kube_create(c, ns, NULL, &err), 0);
    assert_int_equal(kube_create(c, ns, NULL, &err), -ERR_EXISTS);
    assert_string_equal(err.field, "AlreadyExists");
    json_decref(ns);

    /* Server-side apply twice: same object, new value. */
    json_t *cm = cm_obj("t1", "c1", "v1");
    assert_int_equal(kube_apply(c, cm, &got, &err), 0);
    json_decref(got);
    json_decref(cm);
    cm = cm_obj("t1", "c1", "v2");
    assert_int_equal(kube_apply(c, cm, NULL, &err), 0);
    json_decref(cm);
    assert_int_equal(kube_get(c, "v1", "ConfigMap", "t1", "c1", &got, &err), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(got, "data"), "k")),
                        "v2");
    json_decref(got);

    /* List with a label selector. */
    cm = cm_obj("t1", "c2", "v");
    json_object_set_new(json_object_get(json_object_get(cm, "metadata"), "labels"), "app",
                        json_string("y"));
    assert_int_equal(kube_apply(c, cm, NULL, &err), 0);
    json_decref(cm);
    assert_int_equal(kube_list(c, "v1", "ConfigMap", "t1", "app=x", &got, &err), 0);
    assert_int_equal(json_array_size(json_object_get(got, "items")), 1);
    json_decref(got);
    assert_int_equal(kube_list(c, "v1", "ConfigMap", NULL, "app in (x,y)", &got, &err), 0);
    assert_int_equal(json_array_size(json_object_get(got, "items")), 2);
    json_decref(got);

    /* Delete, then NotFound with the server's message. */
    assert_int_equal(kube_delete(c, "v1", "ConfigMap", "t1", "c1", "Background", &err), 0);
    assert_int_equal(kube_get(c, "v1", "ConfigMap", "t1", "c1", NULL, &err), -ERR_NOT_FOUND);
    assert_string_equal(err.field, "NotFound");
    assert_non_null(strstr(err.message, "not found"));
    assert_int_equal(kube_delete(c, "v1", "ConfigMap", "t1", "c1", NULL, &err), -ERR_NOT_FOUND);

    /* An invalid object is refused and not retried. */
    unsigned long before = kube_client_requests(c);
    cm = cm_obj("t1", "c3", "v");
    json_object_set_new(cm, "bogusField", json_true());
    int rc = kube_apply(c, cm, NULL, &err);
    json_decref(cm);
    assert_true(rc == -ERR_INVALID);
    assert_int_equal(kube_client_requests(c) - before, 1);
    kube_client_free(c);
}

static void test_retries(void **state)
{
    struct sim *s = *state;
    struct error err = {0};
    struct kube_client_opts o = {.backoff_base_ms = 20, .backoff_cap_ms = 100};
    struct kube_client *c = client(s, &o);
    json_t *ns = ns_obj("t2");
    assert_int_equal(kube_create(c, ns, NULL, &err), 0);
    json_decref(ns);

    /* One 500: retried, succeeds with two requests. */
    set_fault(s, "{\"fault\":\"500\",\"nth\":1,\"path\":\"/namespaces/t2\"}");
    unsigned long before = kube_client_requests(c);
    assert_int_equal(kube_get(c, "v1", "Namespace", NULL, "t2", NULL, &err), 0);
    assert_int_equal(kube_client_requests(c) - before, 2);

    /* One 429 with Retry-After: 1 — the retry waits at least a second. */
    set_fault(s, "{\"fault\":\"429\",\"nth\":1,\"path\":\"/namespaces/t2\"}");
    int64_t t0 = time_mono_ms();
    assert_int_equal(kube_get(c, "v1", "Namespace", NULL, "t2", NULL, &err), 0);
    assert_true(time_mono_ms() - t0 >= 900);

    /* A dropped connection is a network error: retried (on a fresh client, since libcurl
     * itself silently retries a request on a reused connection that died). */
    kube_client_free(c);
    c = client(s, &o);
    set_fault(s, "{\"fault\":\"drop\",\"nth\":1,\"path\":\"/namespaces/t2\"}");
    before = kube_client_requests(c);
    assert_int_equal(kube_get(c, "v1", "Namespace", NULL, "t2", NULL, &err), 0);
    assert_int_equal(kube_client_requests(c) - before, 2);

    /* Always 500: gives up after the configured retries with the server's reason. */
    kube_client_free(c);
    o.max_retries = 2;
    c = client(s, &o);
    set_fault(s, "{\"fault\":\"500\",\"rate\":1.0,\"path\":\"/namespaces/t2\"}");
    assert_int_equal(kube_get(c, "v1", "Namespace", NULL, "t2", NULL, &err), -ERR_UNAVAILABLE);
    assert_int_equal(kube_client_requests(c), 3);

    /* A slow server: the request times out and the error says so. Two attempts of 200 ms
     * and one backoff of at most 100 ms take about 0.5 s; without the timeout each attempt
     * would wait out the server's 6 s. 3 s separates the two with a margin of 6x for a
     * loaded machine (and the double still holds each slow request only 6 s). */
    kube_client_free(c);
    o.max_retries = 1;
    o.timeout_ms = 200;
    c = client(s, &o);
    set_fault(s, "{\"fault\":\"latency:6000\",\"rate\":1.0,\"path\":\"/namespaces/t2\"}");
    t0 = time_mono_ms();
    assert_int_equal(kube_get(c, "v1", "Namespace", NULL, "t2", NULL, &err), -ERR_IO);
    assert_true(time_mono_ms() - t0 < 3000);
    assert_int_equal(kube_client_requests(c), 2);
    set_fault(s, NULL);
    kube_client_free(c);
}

struct watch_state {
    int added;
    char name[64];
};

static int on_event(const char *type, json_t *obj, void *ud)
{
    struct watch_state *w = ud;
    const char *n = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
    if (!strcmp(type, "ADDED") && n && !strcmp(n, "watched")) {
        w->added++;
        snprintf(w->name, sizeof(w->name), "%s", n);
        return 1;
    }
    return 0;
}

static void *create_later(void *arg)
{
    struct sim *s = arg;
    struct kube_client *c = client(s, NULL);
    struct error err = {0};
    /* Not a synchronization: were the object created before the watch starts, the watch
     * (from no resourceVersion) would list it as ADDED too. The pause makes it usually
     * arrive as a live event. */
    msleep(300);
    json_t *cm = cm_obj("t3", "watched", "v");
    kube_apply(c, cm, NULL, &err);
    json_decref(cm);
    kube_client_free(c);
    return NULL;
}

static void test_watch(void **state)
{
    struct sim *s = *state;
    struct kube_client *c = client(s, NULL);
    struct error err = {0};
    json_t *ns = ns_obj("t3");
    assert_int_equal(kube_create(c, ns, NULL, &err), 0);
    json_decref(ns);
    pthread_t th;
    struct watch_state w = {0};
    pthread_create(&th, NULL, create_later, s);
    int64_t t0 = time_mono_ms();
    assert_int_equal(kube_watch(c, "v1", "ConfigMap", "t3", NULL, NULL, 60, on_event, &w, &err), 0);
    pthread_join(th, NULL);
    assert_int_equal(w.added, 1);
    assert_string_equal(w.name, "watched");
    /* The watch ended because on_event stopped it, not at its 60 s timeout: the event comes
     * 0.3 s plus one apply after the start (well under a second, even with a loaded ctest -j2
     * beside it on 2 cores), so half the timeout separates the two with a wide margin. */
    assert_true(time_mono_ms() - t0 < 30000);
    kube_client_free(c);
}

static void test_quota_refuses_gpu_type(void **state)
{
    struct sim *s = *state;
    struct kube_client *c = client(s, NULL);
    struct error err = {0};
    json_t *ns = ns_obj("t4");
    assert_int_equal(kube_create(c, ns, NULL, &err), 0);
    json_decref(ns);
    json_t *q =
        json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:{s:s,s:s}}}", "apiVersion", "v1", "kind",
                  "ResourceQuota", "metadata", "name", "q", "namespace", "t4", "spec", "hard",
                  "requests.nvidia.com/gpu", "0", "requests.nvidia.com/mig-1g.24gb", "2");
    assert_int_equal(kube_apply(c, q, NULL, &err), 0);
    json_decref(q);
    /* Enforced once the quota controller fills status.hard. */
    for (int t = 0; t < 100; t++) {
        json_t *got = NULL;
        assert_int_equal(kube_get(c, "v1", "ResourceQuota", "t4", "q", &got, &err), 0);
        bool ready = json_object_get(json_object_get(got, "status"), "hard") != NULL;
        json_decref(got);
        if (ready)
            break;
        msleep(50);
    }
    json_t *pod =
        json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:[{s:s,s:s,s:{s:{s:s},s:{s:s}}}]}}", "apiVersion", "v1",
                  "kind", "Pod", "metadata", "name", "p", "namespace", "t4", "spec", "containers",
                  "name", "c", "image", "busybox", "resources", "requests", "nvidia.com/gpu", "1",
                  "limits", "nvidia.com/gpu", "1");
    assert_int_equal(kube_create(c, pod, NULL, &err), -ERR_FORBIDDEN);
    assert_true(kube_error_is_exceeded_quota(&err));
    assert_non_null(strstr(err.message, "requests.nvidia.com/gpu"));
    json_decref(pod);
    kube_client_free(c);
}

static int setup_tls(void **state)
{
    static const char *const args[] = {"--tls", "--token", "s3cret-token", NULL};
    struct sim *s = calloc(1, sizeof(*s));
    *state = s;
    return sim_start(s, args);
}

static void test_tls_and_token(void **state)
{
    struct sim *s = *state;
    struct error err = {0};
    assert_non_null(strstr(s->kc->server, "https://"));
    assert_true(s->kc->ca_data || s->kc->ca_file);
    assert_non_null(s->kc->token);
    struct kube_client *c = client(s, NULL);
    json_t *got = NULL;
    assert_int_equal(kube_list(c, "v1", "Namespace", NULL, NULL, &got, &err), 0);
    json_decref(got);
    kube_client_free(c);

    /* A wrong token: 401, not retried. */
    struct kube_config *kc = NULL;
    assert_int_equal(kube_config_load_file(s->kubeconfig, &kc, &err), 0);
    free(kc->token);
    kc->token = strdup("wrong");
    assert_int_equal(kube_client_new(kc, NULL, &c, &err), 0);
    assert_int_equal(kube_list(c, "v1", "Namespace", NULL, NULL, NULL, &err), -ERR_UNAUTH);
    assert_int_equal(kube_client_requests(c), 1);
    kube_client_free(c);

    /* Without the CA the server's certificate is not trusted. */
    assert_int_equal(kube_config_load_file(s->kubeconfig, &kc, &err), 0);
    free(kc->ca_data);
    kc->ca_data = NULL;
    free(kc->ca_file);
    kc->ca_file = NULL;
    struct kube_client_opts o = {.max_retries = -1};
    assert_int_equal(kube_client_new(kc, &o, &c, &err), 0);
    assert_int_equal(kube_list(c, "v1", "Namespace", NULL, NULL, NULL, &err), -ERR_IO);
    kube_client_free(c);
}

static void write_token(const char *path, const char *token)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "%s\n", token);
    fclose(f);
}

/* A token from a file (in-cluster: the kubelet rotates the projected service-account token)
 * is read again: before a request once token_reread_ms have passed, and at once after a 401. */
static void test_token_file_rotation(void **state)
{
    struct sim *s = *state;
    struct error err = {0};
    char path[] = "/tmp/kube-token-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);

    /* re-read before every request: each change of the file is the next request's token */
    struct kube_config *kc = NULL;
    assert_int_equal(kube_config_load_file(s->kubeconfig, &kc, &err), 0);
    write_token(path, "s3cret-token");
    free(kc->token);
    kc->token = strdup("s3cret-token");
    kc->token_file = strdup(path);
    struct kube_client_opts o = {.token_reread_ms = -1};
    struct kube_client *c = NULL;
    assert_int_equal(kube_client_new(kc, &o, &c, &err), 0);
    assert_int_equal(kube_list(c, "v1", "Namespace", NULL, NULL, NULL, &err), 0);
    write_token(path, "revoked");
    assert_int_equal(kube_list(c, "v1", "Namespace", NULL, NULL, NULL, &err), -ERR_UNAUTH);
    write_token(path, "s3cret-token");
    assert_int_equal(kube_list(c, "v1", "Namespace", NULL, NULL, NULL, &err), 0);
    kube_client_free(c);

    /* the default minute has not passed, but a 401 reads the file at once and tries again */
    assert_int_equal(kube_config_load_file(s->kubeconfig, &kc, &err), 0);
    free(kc->token);
    kc->token = strdup("expired");
    kc->token_file = strdup(path);
    assert_int_equal(kube_client_new(kc, NULL, &c, &err), 0);
    assert_int_equal(kube_list(c, "v1", "Namespace", NULL, NULL, NULL, &err), 0);
    assert_int_equal(kube_client_requests(c), 2);
    /* within the minute the file is not read while the token works */
    write_token(path, "revoked");
    assert_int_equal(kube_list(c, "v1", "Namespace", NULL, NULL, NULL, &err), 0);
    assert_int_equal(kube_client_requests(c), 3);
    kube_client_free(c);

    /* a 401 with the file unchanged is the answer, not a loop */
    assert_int_equal(kube_config_load_file(s->kubeconfig, &kc, &err), 0);
    free(kc->token);
    kc->token = strdup("revoked");
    kc->token_file = strdup(path);
    assert_int_equal(kube_client_new(kc, NULL, &c, &err), 0);
    assert_int_equal(kube_list(c, "v1", "Namespace", NULL, NULL, NULL, &err), -ERR_UNAUTH);
    assert_int_equal(kube_client_requests(c), 1);
    kube_client_free(c);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_crud_apply_and_status, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_retries, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_watch, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_quota_refuses_gpu_type, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_tls_and_token, setup_tls, teardown),
        cmocka_unit_test_setup_teardown(test_token_file_rotation, setup_tls, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
