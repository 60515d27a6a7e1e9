/* Kubernetes client: kubeconfig parsing, in-cluster config, Status errors, retry decisions,
 * REST paths, and the API-call list. */
#include "kube/kube.h"
#include "kube/kube_calls.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *kubeconfig_text =
    "apiVersion: v1\n"
    "kind: Config\n"
    "current-context: sim\n"
    "clusters:\n"
    "- name: other\n"
    "  cluster:\n"
    "    server: https://wrong:1\n"
    "- name: simc\n"
    "  cluster:\n"
    "    server: https://127.0.0.1:6443/\n"
    "    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==\n"
    "contexts:\n"
    "- name: other\n"
    "  context: {cluster: other, user: other}\n"
    "- name: sim\n"
    "  context:\n"
    "    cluster: simc\n"
    "    user: admin\n"
    "    namespace: team-a\n"
    "users:\n"
    "- name: admin\n"
    "  user:\n"
    "    token: s3cret\n"
    "    client-certificate: certs/client.crt\n"
    "    client-key-data: a2V5\n";

static void test_kubeconfig_current_context(void **state)
{
    struct kube_config *kc = NULL;
    struct error err = {0};
    assert_int_equal(
        kube_config_parse(kubeconfig_text, strlen(kubeconfig_text), "/etc/kube", &kc, &err), 0);
    assert_string_equal(kc->server, "https://127.0.0.1:6443");
    assert_string_equal(kc->namespace_, "team-a");
    assert_string_equal(kc->token, "s3cret");
    assert_non_null(kc->ca_data);
    assert_string_equal(kc->ca_data, "-----BEGIN CERTIFICATE-----\n");
    assert_null(kc->ca_file);
    assert_false(kc->insecure);
    assert_string_equal(kc->cert_file, "/etc/kube/certs/client.crt");
    assert_int_equal(kc->key_len, 3);
    assert_memory_equal(kc->key_data, "key", 3);
    kube_config_free(kc);
}

static void test_kubeconfig_errors(void **state)
{
    struct kube_config *kc = NULL;
    struct error err = {0};
    const char *no_ctx = "clusters: []\n";
    assert_int_equal(kube_config_parse(no_ctx, strlen(no_ctx), NULL, &kc, &err), -ERR_INVALID);
    assert_string_equal(err.field, "current-context");

    const char *missing = "current-context: x\ncontexts:\n- name: y\n  context: {cluster: c}\n";
    assert_int_equal(kube_config_parse(missing, strlen(missing), NULL, &kc, &err), -ERR_INVALID);
    assert_non_null(strstr(err.message, "\"x\""));

    const char *bad_server = "current-context: a\ncontexts:\n- name: a\n  context: {cluster: c}\n"
                             "clusters:\n- name: c\n  cluster: {server: ftp://x}\n";
    assert_int_equal(kube_config_parse(bad_server, strlen(bad_server), NULL, &kc, &err),
                     -ERR_INVALID);
    assert_string_equal(err.field, "server");

    const char *bad_b64 = "current-context: a\ncontexts:\n- name: a\n  context: {cluster: c}\n"
                          "clusters:\n- name: c\n  cluster: {server: 'http://x', "
                          "certificate-authority-data: '!!!'}\n";
    assert_int_equal(kube_config_parse(bad_b64, strlen(bad_b64), NULL, &kc, &err), -ERR_INVALID);
    assert_string_equal(err.field, "certificate-authority-data");

    const char *half_cert = "current-context: a\ncontexts:\n- name: a\n  context: {cluster: c, "
                            "user: u}\nclusters:\n- name: c\n  cluster: {server: 'http://x'}\n"
                            "users:\n- name: u\n  user: {client-certificate: /a.crt}\n";
    assert_int_equal(kube_config_parse(half_cert, strlen(half_cert), NULL, &kc, &err),
                     -ERR_INVALID);
    assert_string_equal(err.field, "client-key");

    /* two users with the same key: the client would use the first, kubectl the last */
    const char *dup = "current-context: a\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\n"
                      "clusters:\n- name: c\n  cluster: {server: 'http://x'}\n"
                      "users:\n- name: u\n  user:\n    token: one\n    token: two\n";
    assert_int_equal(kube_config_parse(dup, strlen(dup), NULL, &kc, &err), -ERR_INVALID);
    assert_string_equal(
        err.message,
        "kubeconfig:12: users[0].user.token: duplicate key \"token\" (first at line 11)");
    assert_string_equal(err.field, "users[0].user.token");

    const char *not_yaml = "current-context: [\n";
    assert_int_equal(kube_config_parse(not_yaml, strlen(not_yaml), NULL, &kc, &err), -ERR_INVALID);
}

static void test_kubeconfig_token_file_and_insecure(void **state)
{
    char dir[] = "/tmp/test-kube-XXXXXX";
    char path[256], kcpath[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/token", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("file-token\n", f);
    fclose(f);
    snprintf(kcpath, sizeof(kcpath), "%s/config", dir);
    f = fopen(kcpath, "w");
    assert_non_null(f);
    fputs("current-context: a\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\n"
          "clusters:\n- name: c\n  cluster: {server: 'https://h:1', insecure-skip-tls-verify: "
          "true, certificate-authority: ca.pem}\nusers:\n- name: u\n  user: {tokenFile: token}\n",
          f);
    fclose(f);
    struct kube_config *kc = NULL;
    struct error err = {0};
    assert_int_equal(kube_config_load_file(kcpath, &kc, &err), 0);
    assert_string_equal(kc->token, "file-token");
    assert_true(kc->insecure);
    char ca[300];
    snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
    assert_string_equal(kc->ca_file, ca);
    kube_config_free(kc);

    /* In-cluster: service-account folder plus the service environment. */
    setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
    snprintf(path, sizeof(path), "%s/namespace", dir);
    f = fopen(path, "w");
    fputs("gpuaas-system\n", f);
    fclose(f);
    assert_int_equal(kube_config_in_cluster(dir, &kc, &err), 0);
    assert_string_equal(kc->server, "https://10.0.0.1:6443");
    assert_string_equal(kc->token, "file-token");
    assert_string_equal(kc->namespace_, "gpuaas-system");
    kube_config_free(kc);
    unsetenv("KUBERNETES_SERVICE_HOST");
    assert_int_equal(kube_config_in_cluster(dir, &kc, &err), -ERR_INVALID);

    unlink(path);
    snprintf(path, sizeof(path), "%s/token", dir);
    unlink(path);
    unlink(kcpath);
    rmdir(dir);
}

/* The expiry metrics' readings: the exp claim of a JWT bearer token (none for an opaque or
 * malformed token), and a client certificate that is not PEM refused. */
static void test_credential_expiry(void **state)
{
    (void)state;
    struct kube_config kc = {0};
    struct error err = {0};
    int64_t t = -1;
    /* {"alg":"RS256"}.{"exp":1893456000,"sub":"system:serviceaccount:a:b"}.sig */
    char jwt[] = "eyJhbGciOiJSUzI1NiJ9."
                 "eyJleHAiOjE4OTM0NTYwMDAsInN1YiI6InN5c3RlbTpzZXJ2aWNlYWNjb3VudDphOmIifQ.c2ln";
    kc.token = jwt;
    assert_int_equal(kube_config_token_expiry(&kc, &t), 0);
    assert_int_equal(t, 1893456000);
    static const char *const none[] = {
        "sha256~opaque-openshift-token",
        "a.b",                                           /* two parts */
        "eyJhbGciOiJSUzI1NiJ9.!!!.c2ln",                 /* not base64url */
        "eyJhbGciOiJSUzI1NiJ9.e30.c2ln",                 /* {} : no exp */
        "eyJhbGciOiJSUzI1NiJ9.eyJleHAiOiJzb29uIn0.c2ln", /* {"exp":"soon"} */
        "x.eyJleHAiOjF9.y.z",                            /* four parts */
    };
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
        char buf[128];
        snprintf(buf, sizeof(buf), "%s", none[i]);
        kc.token = buf;
        t = -1;
        assert_int_equal(kube_config_token_expiry(&kc, &t), 0);
        assert_int_equal(t, 0);
    }
    kc.token = NULL;
    assert_int_equal(kube_config_token_expiry(&kc, &t), 0);
    assert_int_equal(t, 0);
    assert_int_equal(kube_config_cert_not_after(&kc, &t, &err), 0); /* no certificate */
    assert_int_equal(t, 0);
    char bad[] = "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n";
    kc.cert_data = bad;
    kc.cert_len = strlen(bad);
    assert_int_equal(kube_config_cert_not_after(&kc, &t, &err), -ERR_INVALID);
    assert_string_equal(err.field, "client-certificate");
}

static void test_status_parsing(void **state)
{
    struct error err = {0};
    const char *nf = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                     "\"message\":\"namespaces \\\"x\\\" not found\",\"reason\":\"NotFound\","
                     "\"code\":404}";
    assert_int_equal(kube_status_to_error(404, nf, strlen(nf), &err), -ERR_NOT_FOUND);
    assert_string_equal(err.field, "NotFound");
    assert_string_equal(err.message, "namespaces \"x\" not found");

    const char *ae = "{\"kind\":\"Status\",\"reason\":\"AlreadyExists\",\"message\":\"exists\"}";
    assert_int_equal(kube_status_to_error(409, ae, strlen(ae), &err), -ERR_EXISTS);
    const char *cf = "{\"kind\":\"Status\",\"reason\":\"Conflict\",\"message\":\"rv\"}";
    assert_int_equal(kube_status_to_error(409, cf, strlen(cf), &err), -ERR_STATE);

    const char *q = "{\"kind\":\"Status\",\"reason\":\"Forbidden\",\"code\":403,\"message\":"
                    "\"pods \\\"p\\\" is forbidden: exceeded quota: session-quota, requested: "
                    "requests.nvidia.com/gpu=1, used: requests.nvidia.com/gpu=0, limited: "
                    "requests.nvidia.com/gpu=0\"}";
    assert_int_equal(kube_status_to_error(403, q, strlen(q), &err), -ERR_FORBIDDEN);
    assert_true(kube_error_is_exceeded_quota(&err));
    const char *term = "{\"kind\":\"Status\",\"reason\":\"Forbidden\",\"message\":\"unable to "
                       "create new content in namespace x because it is being terminated\"}";
    kube_status_to_error(403, term, strlen(term), &err);
    assert_false(kube_error_is_exceeded_quota(&err));

    /* Not a Status: a generic sentence with the HTTP code. */
    assert_int_equal(kube_status_to_error(502, "<html>bad gateway</html>", 24, &err),
                     -ERR_UNAVAILABLE);
    assert_non_null(strstr(err.message, "502"));
    assert_int_equal(kube_status_to_error(429, NULL, 0, &err), -ERR_RATE);
    assert_int_equal(kube_status_to_error(422, "{}", 2, &err), -ERR_INVALID);
    assert_int_equal(kube_status_to_error(401, "", 0, &err), -ERR_UNAUTH);
}

static void test_retry_decisions(void **state)
{
    assert_true(kube_status_retryable(429));
    assert_true(kube_status_retryable(500));
    assert_true(kube_status_retryable(503));
    assert_true(kube_status_retryable(504));
    assert_false(kube_status_retryable(400));
    assert_false(kube_status_retryable(403));
    assert_false(kube_status_retryable(404));
    assert_false(kube_status_retryable(409));
    assert_false(kube_status_retryable(422));
    assert_false(kube_status_retryable(501));

    /* Exponential, capped, with equal jitter in [d/2, d]. */
    for (unsigned r = 0; r < 1000; r += 37) {
        long d1 = kube_backoff_ms(1, 100, 5000, 0, r);
        long d3 = kube_backoff_ms(3, 100, 5000, 0, r);
        long d20 = kube_backoff_ms(20, 100, 5000, 0, r);
        assert_in_range(d1, 50, 100);
        assert_in_range(d3, 200, 400);
        assert_in_range(d20, 2500, 5000);
    }
    /* Retry-After raises the delay, capped at 30 s. */
    assert_int_equal(kube_backoff_ms(1, 100, 5000, 2, 0), 2000);
    assert_int_equal(kube_backoff_ms(1, 100, 5000, 3600, 0), 30000);
    assert_int_equal(kube_parse_retry_after(" 7\r\n"), 7);
    assert_int_equal(kube_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), 0);
    assert_int_equal(kube_parse_retry_after("-3"), 0);
    assert_int_equal(kube_parse_retry_after(NULL), 0);
}

static void test_paths(void **state)
{
    char p[256];
    struct error err = {0};
    assert_int_equal(kube_path("v1", "Namespace", NULL, "gpuaas-1", p, sizeof(p), &err), 0);
    assert_string_equal(p, "/api/v1/namespaces/gpuaas-1");
    assert_int_equal(kube_path("apps/v1", "Deployment", "ns", "workspace", p, sizeof(p), &err), 0);
    assert_string_equal(p, "/apis/apps/v1/namespaces/ns/deployments/workspace");
    assert_int_equal(
        kube_path("rbac.authorization.k8s.io/v1", "RoleBinding", NULL, NULL, p, sizeof(p), &err),
        0);
    assert_string_equal(p, "/apis/rbac.authorization.k8s.io/v1/rolebindings");
    assert_int_equal(kube_path("route.openshift.io/v1", "Route", "n", NULL, p, sizeof(p), &err), 0);
    assert_string_equal(p, "/apis/route.openshift.io/v1/namespaces/n/routes");
    assert_int_equal(kube_path("v1", "Nope", NULL, NULL, p, sizeof(p), &err), -ERR_INVALID);
    assert_int_equal(kube_path("v1", "Pod", "n", "../x", p, sizeof(p), &err), -ERR_INVALID);
    assert_int_equal(kube_path("v1", "Pod", "n", "a?b", p, sizeof(p), &err), -ERR_INVALID);
}

static void test_api_calls_list(void **state)
{
    static const char *verbs[] = {"get", "list", "watch", "create", "patch", "update", "delete"};
    assert_true(kube_api_calls_n > 10);
    for (size_t i = 0; i < kube_api_calls_n; i++) {
        bool ok = false;
        for (size_t v = 0; v < sizeof(verbs) / sizeof(verbs[0]); v++)
            ok |= !strcmp(kube_api_calls[i].verb, verbs[v]);
        assert_true(ok);
        for (size_t j = 0; j < i; j++)
            assert_false(!strcmp(kube_api_calls[i].verb, kube_api_calls[j].verb) &&
                         !strcmp(kube_api_calls[i].group, kube_api_calls[j].group) &&
                         !strcmp(kube_api_calls[i].resource, kube_api_calls[j].resource));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kubeconfig_current_context),
        cmocka_unit_test(test_kubeconfig_errors),
        cmocka_unit_test(test_kubeconfig_token_file_and_insecure),
        cmocka_unit_test(test_credential_expiry),
        cmocka_unit_test(test_status_parsing),
        cmocka_unit_test(test_retry_decisions),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_api_calls_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
