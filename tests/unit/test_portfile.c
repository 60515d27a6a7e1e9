/* Unit tests for common/portfile: listen_split() and the atomic port_file_write(). */
#include "common/error.h"
#include "common/portfile.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static void test_listen_split(void **state)
{
    (void)state;
    char host[16];
    int port = -1;
    struct error e = {0};
    assert_int_equal(listen_split("127.0.0.1:0", host, sizeof(host), &port, "x.listen", &e), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 0); /* the kernel picks */
    assert_int_equal(listen_split("0.0.0.0:65535", host, sizeof(host), &port, "x.listen", &e), 0);
    assert_int_equal(port, 65535);
    static const char *const bad[] = {
        "127.0.0.1:65536", "127.0.0.1:",       "127.0.0.1:8a", "127.0.0.1:-1",
        "127.0.0.1: 80",   "127.0.0.1:000080", "no-colon",     "a-host-name-too-long-for-16:80",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        error_clear(&e);
        if (listen_split(bad[i], host, sizeof(host), &port, "x.listen", &e) != -ERR_INVALID)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_string_equal(e.field, "x.listen");
        assert_non_null(strstr(e.message, "x.listen"));
    }
    assert_int_equal(listen_split(NULL, host, sizeof(host), &port, "x.listen", &e), -ERR_INVALID);
}

static char dir[] = "/tmp/test_portfile-XXXXXX";

static void read_back(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* Nothing in dir but the names listed (the temporary file is renamed, never left behind). */
static int entries(void)
{
    int n = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *de; (de = readdir(d));)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static void test_port_file_write(void **state)
{
    (void)state;
    char path[256], buf[32];
    struct error e = {0};
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/server.port", dir);
    assert_int_equal(port_file_write(path, 43117, "--port-file", &e), 0);
    read_back(path, buf, sizeof(buf));
    assert_string_equal(buf, "43117\n");
    assert_int_equal(entries(), 1);
    /* a restart replaces the old number whole */
    assert_int_equal(port_file_write(path, 8, "--port-file", &e), 0);
    read_back(path, buf, sizeof(buf));
    assert_string_equal(buf, "8\n");
    assert_int_equal(entries(), 1);
    /* no port to report: refused, the old file stays */
    assert_int_equal(port_file_write(path, 0, "--port-file", &e), -ERR_INVALID);
    assert_string_equal(e.field, "--port-file");
    assert_int_equal(port_file_write(path, 65536, "--port-file", &e), -ERR_INVALID);
    read_back(path, buf, sizeof(buf));
    assert_string_equal(buf, "8\n");
    /* a directory that does not exist: an I/O error naming the option and the path */
    snprintf(path, sizeof(path), "%s/missing/health.port", dir);
    error_clear(&e);
    assert_int_equal(port_file_write(path, 80, "--health-port-file", &e), -ERR_IO);
    assert_string_equal(e.field, "--health-port-file");
    assert_non_null(strstr(e.message, "missing/health.port"));
    snprintf(path, sizeof(path), "%s/server.port", dir);
    unlink(path);
    assert_int_equal(entries(), 0);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listen_split),
        cmocka_unit_test(test_port_file_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
