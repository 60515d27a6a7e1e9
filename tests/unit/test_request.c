/* Request decoding and validation (jdec, resreq) and the auth primitives (tokens, limiter). */
#include "common/timeutil.h"
#include "core/config.h"
#include "core/pool.h"
#include "server/auth.h"
#include "server/jdec.h"
#include "server/resreq.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static struct config *cfg;
static struct pool pool;
static int64_t now;

static int setup(void **state)
{
    struct error err = {0};
    if (sodium_init() < 0 || config_load_file("config/gpuaas.example.yaml", &cfg, &err) < 0 ||
        pool_derive(cfg, &pool, &err) < 0) {
        fprintf(stderr, "setup: %s\n", err.message);
        return -1;
    }
    time_parse_rfc3339("2026-12-01T09:00:00Z", &now);
    return 0;
}

static int teardown(void **state)
{
    config_free(cfg);
    return 0;
}

/* Decodes body; returns the error field ("" on success). */
static const char *decode(const char *body, struct reservation *r)
{
    static struct error err;
    memset(&err, 0, sizeof(err));
    if (resreq_decode(body, strlen(body), cfg, &pool, now, r, &err) == 0)
        return "";
    assert_int_equal(err.code, ERR_INVALID);
    return err.field;
}

static void test_valid_defaults(void **state)
{
    struct reservation r;
    assert_string_equal(decode("{\"gpu_type\":\"nvidia.com/mig-1g.24gb\",\"gpu_count\":2,"
                               "\"starts_at\":\"2026-12-01T10:00:00Z\","
                               "\"ends_at\":\"2026-12-01T12:00:00+01:00\",\"purpose\":\"x\"}",
                               &r),
                        "");
    assert_string_equal(r.gpu_type, "nvidia.com/mig-1g.24gb");
    assert_int_equal(r.gpu_count, 2);
    assert_int_equal(r.mode, MODE_INTERACTIVE);
    assert_int_equal(r.cpu, 8);
    assert_int_equal(r.memory_gib, 64);
    assert_int_equal(r.storage_gib, 600);
    assert_int_equal(r.ends_at - r.starts_at, 3600);
    assert_string_equal(r.purpose, "x");
}

static void test_rejections(void **state)
{
    static const struct {
        const char *body, *field;
    } cases[] = {
        {"", "gpu_type"},
        {"{", "body"},
        {"[]", "body"},
        {"{\"gpu_type\":\"nvidia.com/gpu\",\"gpu_type\":\"x\"}", "body"},
        {"{\"x\":1}", "x"},
        {"{\"gpu_type\":1}", "gpu_type"},
        {"{\"gpu_type\":\"cpu\",\"gpu_count\":1,\"starts_at\":\"2026-12-01T10:00:00Z\","
         "\"ends_at\":\"2026-12-01T11:00:00Z\"}",
         "gpu_type"},
        {"{\"gpu_type\":\"nvidia.com/gpu\",\"gpu_count\":2,\"starts_at\":\"2026-12-01T10:00:00Z\","
         "\"ends_at\":\"2026-12-01T11:00:00Z\"}",
         "gpu_count"},
        {"{\"gpu_type\":\"nvidia.com/"
         "gpu\",\"gpu_count\":1.5,\"starts_at\":\"2026-12-01T10:00:00Z\","
         "\"ends_at\":\"2026-12-01T11:00:00Z\"}",
         "gpu_count"},
        {"{\"gpu_type\":\"nvidia.com/gpu\",\"gpu_count\":1,\"starts_at\":\"2026-12-01T10:00:00Z\","
         "\"ends_at\":\"2026-12-01T10:00:00Z\"}",
         "ends_at"},
        {"{\"gpu_type\":\"nvidia.com/gpu\",\"gpu_count\":1,\"starts_at\":\"2026-12-01T08:00:00Z\","
         "\"ends_at\":\"2026-12-01T10:00:00Z\"}",
         "starts_at"},
        {"{\"gpu_type\":\"nvidia.com/gpu\",\"gpu_count\":1,\"starts_at\":\"2026-12-01T10:00:00Z\","
         "\"ends_at\":\"2026-12-09T10:00:00Z\"}",
         "ends_at"},
        {"{\"gpu_type\":\"nvidia.com/gpu\",\"gpu_count\":1,\"starts_at\":\"2028-12-01T10:00:00Z\","
         "\"ends_at\":\"2028-12-01T11:00:00Z\"}",
         "ends_at"},
        {"{\"gpu_type\":\"nvidia.com/gpu\",\"gpu_count\":1,\"starts_at\":\"tomorrow\","
         "\"ends_at\":\"2026-12-01T11:00:00Z\"}",
         "starts_at"},
        {"{\"gpu_type\":\"nvidia.com/gpu\",\"gpu_count\":1,\"mode\":\"batch\",\"starts_at\":"
         "\"2026-12-01T10:00:00Z\",\"ends_at\":\"2026-12-01T11:00:00Z\"}",
         "mode"},
        {"{\"gpu_type\":\"nvidia.com/gpu\",\"gpu_count\":1,\"cpu\":1000,\"starts_at\":"
         "\"2026-12-01T10:00:00Z\",\"ends_at\":\"2026-12-01T11:00:00Z\"}",
         "cpu"},
        {"{\"gpu_type\":\"nvidia.com/gpu\",\"gpu_count\":1,\"memory_gib\":0,\"starts_at\":"
         "\"2026-12-01T10:00:00Z\",\"ends_at\":\"2026-12-01T11:00:00Z\"}",
         "memory_gib"},
        {"{\"gpu_type\":\"nvidia.com/gpu\",\"gpu_count\":1,\"purpose\":\"a\\u0001b\",\"starts_at\":"
         "\"2026-12-01T10:00:00Z\",\"ends_at\":\"2026-12-01T11:00:00Z\"}",
         "purpose"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct reservation r;
        const char *got = decode(cases[i].body, &r);
        if (strcmp(got, cases[i].field))
            fail_msg("case %zu (%s): field \"%s\", want \"%s\"", i, cases[i].body, got,
                     cases[i].field);
    }
}

/* A session is one pod on one node: with tests/data/gpu-config/multi-node.yaml (nodes of
 * 64, 32, 8 and 8 cores) cpu 100 fits the pool's 112 cores but no node, and is refused
 * naming the field and the largest node's amount; likewise memory, storage and GPUs. */
static void test_multi_node_largest_node(void **state)
{
    struct config *mc = NULL;
    struct pool mp;
    struct error err = {0};
    if (config_load_file("tests/data/gpu-config/multi-node.yaml", &mc, &err) < 0 ||
        pool_derive(mc, &mp, &err) < 0)
        fail_msg("%s", err.message);
    static const struct {
        const char *name;
        int physical, max;
    } pr[] = {{"cpu", 112, 64},
              {"memory", 896, 512},
              {"storage", 1700, 1000},
              {"nvidia.com/gpu.shared", 2, 1}, /* one H100 on h100-a, one T4 on t4-c */
              {"nvidia.com/mig-1g.10gb.shared", 4, 4},
              {"nvidia.com/mig-1g.5gb.shared", 14, 14}};
    for (size_t i = 0; i < sizeof(pr) / sizeof(pr[0]); i++) {
        const struct pool_resource *x = pool_find(&mp, pr[i].name);
        if (!x || x->physical != pr[i].physical || x->max_per_node != pr[i].max)
            fail_msg("%s: physical %d max_per_node %d, expected %d and %d", pr[i].name,
                     x ? x->physical : -1, x ? x->max_per_node : -1, pr[i].physical, pr[i].max);
    }
    static const struct {
        const char *type;
        int count;
        const char *extra; /* ,"cpu":N ... */
        const char *field; /* "" = accepted */
        const char *msg;
    } t[] = {
        {"nvidia.com/mig-1g.10gb.shared", 1, ",\"cpu\":64", "", NULL},
        {"nvidia.com/mig-1g.10gb.shared", 1, ",\"cpu\":100", "cpu",
         "cpu must be between 1 and 64: a session runs on one node and the largest node has 64 "
         "cores"},
        {"nvidia.com/mig-1g.10gb.shared", 1, ",\"memory_gib\":512", "", NULL},
        {"nvidia.com/mig-1g.10gb.shared", 1, ",\"memory_gib\":600", "memory_gib",
         "memory_gib must be between 1 and 512: a session runs on one node and the largest node "
         "has 512 GiB of memory"},
        {"nvidia.com/mig-1g.10gb.shared", 1, ",\"storage_gib\":1000", "", NULL},
        {"nvidia.com/mig-1g.10gb.shared", 1, ",\"storage_gib\":1200", "storage_gib",
         "storage_gib must be between 1 and 1000: a session runs on one node and the largest "
         "node has 1000 GiB of storage"},
        {"nvidia.com/gpu.shared", 1, "", "", NULL},
        {"nvidia.com/gpu.shared", 2, "", "gpu_count",
         "gpu_count must be between 1 and 1: a session runs on one node and the largest node has "
         "1 nvidia.com/gpu.shared"},
        {"nvidia.com/mig-1g.10gb.shared", 4, "", "", NULL},
        {"nvidia.com/mig-1g.5gb.shared", 5, "", "gpu_count",
         "gpu_count must be between 1 and 4 (session.max_gpus)"},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char body[512];
        struct reservation r;
        snprintf(body, sizeof(body),
                 "{\"gpu_type\":\"%s\",\"gpu_count\":%d%s,\"starts_at\":\"2026-12-01T10:00:00Z\","
                 "\"ends_at\":\"2026-12-01T11:00:00Z\"}",
                 t[i].type, t[i].count, t[i].extra);
        memset(&err, 0, sizeof(err));
        int rc = resreq_decode(body, strlen(body), mc, &mp, now, &r, &err);
        if (!t[i].field[0]) {
            if (rc < 0)
                fail_msg("case %zu: refused: %s", i, err.message);
            continue;
        }
        if (rc == 0)
            fail_msg("case %zu: accepted, expected a refusal of %s", i, t[i].field);
        assert_int_equal(err.code, ERR_INVALID);
        assert_string_equal(err.field, t[i].field);
        assert_string_equal(err.message, t[i].msg);
    }
    /* a default above the largest node names the default */
    mc->session.cpu = 80;
    const char *dflt =
        "{\"gpu_type\":\"nvidia.com/gpu.shared\",\"gpu_count\":1,"
        "\"starts_at\":\"2026-12-01T10:00:00Z\",\"ends_at\":\"2026-12-01T11:00:00Z\"}";
    struct reservation r;
    assert_int_equal(resreq_decode(dflt, strlen(dflt), mc, &mp, now, &r, &err), -ERR_INVALID);
    assert_string_equal(err.message,
                        "cpu must be between 1 and 64 (the default session.cpu is 80): "
                        "a session runs on one node and the largest node has 64 cores");
    config_free(mc);
}

static void test_extend(void **state)
{
    struct reservation r = {.starts_at = now + 3600, .ends_at = now + 7200};
    struct error err = {0};
    int64_t end = 0;
    const char *ok = "{\"ends_at\":\"2026-12-01T12:00:00Z\"}";
    assert_int_equal(resreq_decode_extend(ok, strlen(ok), cfg, &r, now, &end, &err), 0);
    assert_int_equal(end, now + 3 * 3600);
    const char *before = "{\"ends_at\":\"2026-12-01T09:30:00Z\"}";
    assert_int_equal(resreq_decode_extend(before, strlen(before), cfg, &r, now, &end, &err),
                     -ERR_INVALID);
    assert_string_equal(err.field, "ends_at");
}

static void test_tokens(void **state)
{
    char secret[AUTH_SECRET_TEXT], text[AUTH_TOKEN_TEXT];
    uint8_t hash[AUTH_HASH_LEN], got[AUTH_HASH_LEN];
    int64_t id = 0;
    auth_new_secret(secret, hash);
    auth_format_token(42, secret, text);
    assert_int_equal(auth_parse_token(text, &id, got), 0);
    assert_int_equal(id, 42);
    assert_true(auth_hash_equal(hash, got));
    text[strlen(text) - 1] ^= 1;
    assert_true(auth_parse_token(text, &id, got) < 0 || !auth_hash_equal(hash, got));
    assert_int_equal(auth_parse_token("gpa_x_abc", &id, got), -ERR_UNAUTH);
    assert_int_equal(auth_parse_token("Bearer", &id, got), -ERR_UNAUTH);
}

static void test_passwords(void **state)
{
    char hash[160];
    assert_int_equal(auth_hash_password("correct horse", hash, sizeof(hash)), 0);
    assert_true(auth_verify_password(hash, "correct horse"));
    assert_false(auth_verify_password(hash, "wrong horse"));
    assert_false(auth_verify_password(NULL, "correct horse"));
}

static void test_limiter(void **state)
{
    static struct auth_limiter l;
    auth_limiter_init(&l, 3, 60);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(auth_limiter_check(&l, "user:a", 1000), 0);
        auth_limiter_fail(&l, "user:a", 1000 + i);
    }
    assert_int_equal(auth_limiter_check(&l, "user:a", 1010), 50);
    assert_int_equal(auth_limiter_check(&l, "user:b", 1010), 0);
    assert_int_equal(auth_limiter_check(&l, "user:a", 1060), 0);
    auth_limiter_fail(&l, "user:b", 1000);
    auth_limiter_reset(&l, "user:b");
    assert_int_equal(auth_limiter_check(&l, "user:b", 1000), 0);
    auth_limiter_destroy(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_defaults),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_multi_node_largest_node),
        cmocka_unit_test(test_extend),
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_passwords),
        cmocka_unit_test(test_limiter),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
