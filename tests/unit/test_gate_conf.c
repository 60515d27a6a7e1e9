/* The sign-in proxy's nginx.conf generator: what it writes, and that no configured value can
 * add nginx syntax (tests/it/gate.sh runs the real nginx on its output). */
#include "core/gate_conf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

static struct gate_conf base(void)
{
    return (struct gate_conf){.reservation_id = 42,
                              .listen = "0.0.0.0:8090",
                              .workspace = "127.0.0.1:8080",
                              .auth_url = "http://gpuaas-server.gpuaas-system.svc:8080",
                              .temp_dir = "/tmp"};
}

static void test_auth_url(void **state)
{
    const char *good[] = {"http://srv", "http://srv:1", "http://a.b-c.svc:65535",
                          "http://127.0.0.1:8080"};
    const char *bad[] = {NULL,
                         "",
                         "https://srv",
                         "http://",
                         "http://srv/",
                         "http://srv/path",
                         "http://srv:0",
                         "http://srv:65536",
                         "http://srv:80a",
                         "http://srv:",
                         "http://user@srv",
                         "http://srv;return 200",
                         "http://srv\n",
                         "http://s rv",
                         "http://srv'",
                         "http://srv{"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(gate_auth_url_ok(good[i]));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (gate_auth_url_ok(bad[i]))
            fail_msg("accepted \"%s\"", bad[i] ? bad[i] : "(null)");
    }
}

static void test_text(void **state)
{
    struct gate_conf g = base();
    struct error err = {0};
    char *t = NULL;
    assert_int_equal(gate_nginx_conf(&g, &t, &err), 0);
    /* every request is checked against this reservation, and the gate's own paths */
    assert_non_null(strstr(t, "location / {\n            auth_request /_gpuaas/auth;"));
    assert_non_null(strstr(t, "proxy_pass http://gpuaas-server.gpuaas-system.svc:8080/api/v1/"
                              "gate/42/check;"));
    assert_non_null(strstr(t, "location = /_gpuaas/enter {\n            proxy_pass "
                              "http://gpuaas-server.gpuaas-system.svc:8080/api/v1/gate/42/"
                              "enter;"));
    assert_non_null(strstr(t, "location = /_gpuaas/auth {\n            internal;"));
    assert_non_null(strstr(t, "proxy_pass http://127.0.0.1:8080;"));
    assert_non_null(strstr(t, "listen 0.0.0.0:8090;"));
    assert_null(strstr(t, "ssl"));
    /* WebSockets pass; the gate's cookie does not */
    assert_non_null(strstr(t, "proxy_set_header Upgrade $http_upgrade;"));
    assert_non_null(strstr(t, "proxy_set_header Cookie $gpuaas_cookie;"));
    free(t);
    g.tls_cert = "/x/c.pem";
    g.tls_key = "/x/k.pem";
    assert_int_equal(gate_nginx_conf(&g, &t, &err), 0);
    assert_non_null(strstr(t, "listen 0.0.0.0:8090 ssl;"));
    assert_non_null(strstr(t, "ssl_certificate_key /x/k.pem;"));
    free(t);
}

static void test_refuses_syntax(void **state)
{
    struct {
        const char *field;
        struct gate_conf g;
    } cases[] = {
        {"listen", base()},      {"listen", base()},
        {"workspace", base()},   {"temp_dir", base()},
        {"temp_dir", base()},    {"tls", base()},
        {"reservation", base()}, {"reconciler.gate_auth_url", base()},
    };
    cases[0].g.listen = "0.0.0.0:8090; include /etc/passwd";
    cases[1].g.listen = "8090";
    cases[2].g.workspace = "127.0.0.1:8080 backup";
    cases[3].g.temp_dir = "tmp";
    cases[4].g.temp_dir = "/tmp;";
    cases[5].g.tls_cert = "/c.pem\nssl off";
    cases[5].g.tls_key = "/k.pem";
    cases[6].g.reservation_id = 0;
    cases[7].g.auth_url = "http://srv}";
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct error err = {0};
        char *t = NULL;
        assert_int_equal(gate_nginx_conf(&cases[i].g, &t, &err), -ERR_INVALID);
        assert_null(t);
        assert_string_equal(err.field, cases[i].field);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_url),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_refuses_syntax),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
