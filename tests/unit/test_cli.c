/* Unit tests for the CLI's table formatter, option parser and credentials file. */
#include "common/args.h"
#include "cli/client.h"
#include "cli/table.h"
#include "common/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char *render(const struct table *t)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    table_print(t, f);
    fclose(f);
    return buf;
}

static void test_table_aligns_columns(void **state)
{
    (void)state;
    const char *hdr[] = {"ID", "STATE", "PURPOSE"};
    struct table *t = table_new(3, hdr);
    assert_non_null(t);
    const char *r1[] = {"1", "APPROVED", "fine-tune"};
    const char *r2[] = {"12345", NULL, "a\tb"};
    assert_int_equal(table_add_row(t, r1), 0);
    assert_int_equal(table_add_row(t, r2), 0);
    char *out = render(t);
    assert_string_equal(out, "ID     STATE     PURPOSE\n"
                             "1      APPROVED  fine-tune\n"
                             "12345  -         a b\n");
    free(out);
    table_free(t);
}

static void test_table_many_rows_and_limits(void **state)
{
    (void)state;
    const char *hdr[] = {"N"};
    assert_null(table_new(0, hdr));
    assert_null(table_new(TABLE_MAX_COLS + 1, hdr));
    struct table *t = table_new(1, hdr);
    char long_cell[TABLE_CELL_MAX * 2];
    memset(long_cell, 'x', sizeof(long_cell) - 1);
    long_cell[sizeof(long_cell) - 1] = '\0';
    for (int i = 0; i < 100; i++) {
        const char *row[] = {long_cell};
        assert_int_equal(table_add_row(t, row), 0);
    }
    char *out = render(t);
    /* header + 100 rows, each cut to TABLE_CELL_MAX-1 bytes */
    assert_int_equal(strlen(out), 2 + 100 * TABLE_CELL_MAX);
    free(out);
    table_free(t);
    table_free(NULL);
}

static void test_parse_options(void **state)
{
    (void)state;
    const char *start = NULL, *out = NULL, *pos[2];
    int flag = 0;
    size_t npos = 9;
    const struct cli_opt opts[] = {{"--start", NULL, &start, NULL},
                                   {"--output", "-o", &out, NULL},
                                   {"--yes", NULL, NULL, &flag}};
    char *argv[] = {"cmd", "12", "--start=now", "-o", "json", "--yes", "--", "--x", NULL};
    assert_int_equal(cli_parse(8, argv, opts, 3, pos, 2, &npos), 0);
    assert_int_equal(npos, 2);
    assert_string_equal(pos[0], "12");
    assert_string_equal(pos[1], "--x");
    assert_string_equal(start, "now");
    assert_string_equal(out, "json");
    assert_int_equal(flag, 1);

    char *bad1[] = {"cmd", "--nope"};
    assert_int_equal(cli_parse(2, bad1, opts, 3, pos, 2, &npos), 2);
    char *bad2[] = {"cmd", "--start"};
    assert_int_equal(cli_parse(2, bad2, opts, 3, pos, 2, &npos), 2);
    char *bad3[] = {"cmd", "a", "b"};
    assert_int_equal(cli_parse(3, bad3, opts, 3, pos, 1, &npos), 2);
    char *bad4[] = {"cmd", "--yes=1"};
    assert_int_equal(cli_parse(2, bad4, opts, 3, pos, 1, &npos), 2);
}

/* Runs cli_parse_as (cli_parse when who is NULL) with stderr captured; returns its result,
 * the message in msg. */
static int parse_capture(const char *who, int argc, char **argv, const struct cli_opt *opts,
                         size_t nopts, char *msg, size_t size)
{
    const char *pos[1];
    size_t npos = 0;
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(fileno(tmp), STDERR_FILENO);
    int r = who ? cli_parse_as(who, argc, argv, opts, nopts, pos, 1, &npos)
                : cli_parse(argc, argv, opts, nopts, pos, 1, &npos);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    rewind(tmp);
    size_t n = fread(msg, 1, size - 1, tmp);
    msg[n] = '\0';
    fclose(tmp);
    return r;
}

/* Every command (and gpuaas-kubesim) gets the same clear messages, naming itself. */
static void test_parse_messages(void **state)
{
    (void)state;
    const char *listen = NULL;
    int tls = 0;
    const struct cli_opt opts[] = {{"--listen", NULL, &listen, NULL}, {"--tls", NULL, NULL, &tls}};
    char msg[256];
    char *a1[] = {"x", "--bogus"};
    assert_int_equal(parse_capture("gpuaas-kubesim", 2, a1, opts, 2, msg, sizeof(msg)), 2);
    assert_string_equal(msg, "gpuaas-kubesim: unknown option \"--bogus\" (see --help)\n");
    char *a2[] = {"x", "--listen"};
    assert_int_equal(parse_capture("gpuaas cache", 2, a2, opts, 2, msg, sizeof(msg)), 2);
    assert_string_equal(msg, "gpuaas cache: --listen needs a value\n");
    char *a3[] = {"x", "--tls=yes"};
    assert_int_equal(parse_capture("gpuaas server", 2, a3, opts, 2, msg, sizeof(msg)), 2);
    assert_string_equal(msg, "gpuaas server: --tls takes no value\n");
    char *a4[] = {"x", "w1", "w2"};
    assert_int_equal(parse_capture("gpuaas cache fetch", 3, a4, opts, 2, msg, sizeof(msg)), 2);
    assert_string_equal(msg, "gpuaas cache fetch: unexpected argument \"w2\" (see --help)\n");
    /* a value may start with a dash (--time-offset -3600); the last of two values wins */
    char *ok[] = {"x", "--listen", "-1", "--listen=:0", "--tls", NULL};
    assert_int_equal(parse_capture("t", 5, ok, opts, 2, msg, sizeof(msg)), 0);
    assert_string_equal(listen, ":0");
    assert_int_equal(tls, 1);
    assert_string_equal(msg, "");
    /* cli_parse names the gpuaas command from argv[0] */
    char *a5[] = {"pool", "--bogus"};
    assert_int_equal(parse_capture(NULL, 2, a5, opts, 2, msg, sizeof(msg)), 2);
    assert_string_equal(msg, "gpuaas pool: unknown option \"--bogus\" (see --help)\n");
}

static void test_wants_help(void **state)
{
    (void)state;
    char *a[] = {"x", "--config", "f", "-h"};
    char *b[] = {"x", "--config", "f"};
    char *c[] = {"x", "--helpme"};
    assert_int_equal(cli_wants_help(4, a), 1);
    assert_int_equal(cli_wants_help(3, b), 0);
    assert_int_equal(cli_wants_help(2, c), 0);
    assert_int_equal(cli_wants_help(1, a), 0);
}

static void test_parse_numbers_and_times(void **state)
{
    (void)state;
    long v = 0;
    double d = 0;
    long long t = 0;
    assert_int_equal(cli_parse_long("8", 1, 10, &v), 0);
    assert_int_equal(v, 8);
    assert_int_equal(cli_parse_long("0", 1, 10, &v), -ERR_INVALID);
    assert_int_equal(cli_parse_long("11", 1, 10, &v), -ERR_INVALID);
    assert_int_equal(cli_parse_long("-1", 0, 10, &v), -ERR_INVALID);
    assert_int_equal(cli_parse_long("3x", 1, 10, &v), -ERR_INVALID);
    assert_int_equal(cli_parse_long("", 1, 10, &v), -ERR_INVALID);
    assert_int_equal(cli_parse_double("1.5", 10, &d), 0);
    assert_true(d == 1.5);
    assert_int_equal(cli_parse_double("0", 10, &d), -ERR_INVALID);
    assert_int_equal(cli_parse_double("nan", 10, &d), -ERR_INVALID);
    assert_int_equal(cli_parse_double("inf", 10, &d), -ERR_INVALID);
    assert_int_equal(cli_parse_time("now", 42, &t), 0);
    assert_int_equal(t, 42);
    assert_int_equal(cli_parse_time("2026-12-01T09:00:00Z", 0, &t), 0);
    assert_int_equal(t, 1796115600LL);
    assert_int_equal(cli_parse_time("tomorrow", 0, &t), -ERR_INVALID);
}

static void test_query_escaping(void **state)
{
    (void)state;
    char q[64] = "/x";
    assert_int_equal(client_query_add(q, sizeof(q), "a", "2026-12-01T09:00:00+01:00"), 0);
    assert_int_equal(client_query_add(q, sizeof(q), "b", "x y"), 0);
    assert_string_equal(q, "/x?a=2026-12-01T09%3A00%3A00%2B01%3A00&b=x%20y");
    assert_int_equal(client_query_add(q, sizeof(q), "c", "this one does not fit in 64"),
                     -ERR_TOO_LARGE);
    assert_string_equal(q, "/x?a=2026-12-01T09%3A00%3A00%2B01%3A00&b=x%20y");
}

static void test_credentials_file_is_private(void **state)
{
    (void)state;
    char dir[] = "/tmp/gpuaas-cli-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    setenv("XDG_CONFIG_HOME", dir, 1);
    unsetenv("GPUAAS_SERVER");
    unsetenv("GPUAAS_TOKEN");
    struct client c;
    assert_int_equal(client_load(&c, NULL), 0);
    assert_string_equal(c.server, "http://127.0.0.1:8080");
    assert_string_equal(c.token, "");
    snprintf(c.server, sizeof(c.server), "http://example:1");
    snprintf(c.token, sizeof(c.token), "secret");
    assert_int_equal(client_save(&c), 0);
    char path[1100];
    assert_int_equal(client_credentials_path(path, sizeof(path)), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char sub[1100];
    snprintf(sub, sizeof(sub), "%s/gpuaas", dir);
    assert_int_equal(stat(sub, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);

    struct client d;
    assert_int_equal(client_load(&d, NULL), 0);
    assert_string_equal(d.server, "http://example:1");
    assert_string_equal(d.token, "secret");
    setenv("GPUAAS_TOKEN", "envtok", 1);
    setenv("GPUAAS_SERVER", "http://env:2/", 1);
    assert_int_equal(client_load(&d, "http://flag:3"), 0);
    assert_string_equal(d.server, "http://flag:3");
    assert_string_equal(d.token, "envtok");
    assert_int_equal(client_load(&d, NULL), 0);
    assert_string_equal(d.server, "http://env:2");
    unsetenv("GPUAAS_SERVER");
    unsetenv("GPUAAS_TOKEN");

    assert_int_equal(client_forget(), 0);
    assert_int_equal(stat(path, &st), -1);
    assert_int_equal(client_forget(), 0);
    rmdir(sub);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_aligns_columns),
        cmocka_unit_test(test_table_many_rows_and_limits),
        cmocka_unit_test(test_parse_options),
        cmocka_unit_test(test_parse_messages),
        cmocka_unit_test(test_wants_help),
        cmocka_unit_test(test_parse_numbers_and_times),
        cmocka_unit_test(test_query_escaping),
        cmocka_unit_test(test_credentials_file_is_private),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
