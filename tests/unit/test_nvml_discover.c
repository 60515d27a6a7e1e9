/* gpu-discover against the fake NVML library (tests/fakenvml): no GPU, whole GPUs, a
 * MIG-enabled GPU with sparse MIG indices, init error, missing library and missing symbols. */
#include "cli/commands.h"
#include "cli/nvml.h"
#include "core/config.h"
#include "core/pool.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct nvml_inventory inv;

static void use(const char *lib, const char *scenario)
{
    char path[512];
    const char *build = getenv("GPUAAS_BUILD");
    snprintf(path, sizeof(path), "%s/%s", build ? build : "build", lib);
    setenv("GPUAAS_NVML_LIB", path, 1);
    snprintf(path, sizeof(path), "tests/data/nvml/%s", scenario);
    setenv("FAKENVML_SCENARIO", path, 1);
}

static int discover(struct error *err)
{
    memset(err, 0, sizeof(*err));
    return nvml_discover(&inv, err);
}

/* The snippet, under `pool: nodes:`, must load as configuration and derive a pool. */
static void snippet_pool(struct pool *p)
{
    char *snip = NULL, text[8192];
    size_t len = 0;
    FILE *f = open_memstream(&snip, &len);
    nvml_print_pool_snippet(f, &inv, "node-a", 16, 128);
    fclose(f);
    size_t n = (size_t)snprintf(text, sizeof(text), "pool:\n  nodes:\n");
    for (char *save = NULL, *l = strtok_r(snip, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        n += (size_t)snprintf(text + n, sizeof(text) - n, "    %s\n", l);
    free(snip);
    struct config *c = NULL;
    struct error err = {0};
    if (config_load_string(text, n, "snippet", &c, &err) < 0 || pool_derive(c, p, &err) < 0)
        fail_msg("snippet does not load: %s\n%s", err.message, text);
    config_free(c);
}

static void test_no_gpu(void **state)
{
    struct error err;
    struct pool p;
    use("libfakenvml.so", "no-gpu.txt");
    assert_int_equal(discover(&err), 0);
    assert_int_equal(inv.n_gpus, 0);
    assert_string_equal(inv.missing, "");
    snippet_pool(&p);
    assert_null(pool_find(&p, "nvidia.com/gpu"));
}

static void test_whole(void **state)
{
    struct error err;
    struct pool p;
    use("libfakenvml.so", "whole.txt");
    assert_int_equal(discover(&err), 0);
    assert_int_equal(inv.n_gpus, 2);
    assert_string_equal(inv.gpus[0].name, "NVIDIA H100 80GB HBM3");
    assert_string_equal(inv.gpus[0].uuid, "GPU-11111111-2222-3333-4444-555555555555");
    assert_true(inv.gpus[0].memory == 81559ULL << 20);
    assert_true(inv.gpus[0].mig_capable);
    assert_int_equal(inv.gpus[0].mig_current, 0);
    assert_false(inv.gpus[1].mig_capable);
    assert_int_equal(inv.gpus[0].n_migs, 0);
    snippet_pool(&p);
    assert_int_equal(pool_find(&p, "nvidia.com/gpu")->physical, 2);
    assert_int_equal(pool_find(&p, "nvidia.com/gpu")->memory_gib, 15);
}

static void test_mig_sparse(void **state)
{
    struct error err;
    struct pool p;
    use("libfakenvml.so", "mig.txt");
    assert_int_equal(discover(&err), 0);
    assert_int_equal(inv.n_gpus, 3);
    const struct nvml_gpu *g = &inv.gpus[0];
    assert_int_equal(g->mig_current, 1);
    assert_int_equal(g->mig_pending, 1);
    assert_int_equal(g->n_migs, 4);
    static const unsigned idx[] = {1, 3, 4, 6};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(g->migs[i].index, idx[i]);
        assert_string_equal(g->migs[i].profile, "1g.24gb");
        assert_true(g->migs[i].memory == 24064ULL << 20);
    }
    assert_string_equal(g->migs[3].uuid, "MIG-aaaaaaaa-0000-0000-0000-000000000006");
    assert_string_equal(g->note, "");
    assert_int_equal(inv.gpus[2].mig_current, 0);
    assert_int_equal(inv.gpus[2].mig_pending, 1);

    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    nvml_print(f, &inv);
    fclose(f);
    assert_non_null(strstr(out, "MIG mode: current disabled, pending enabled (GPU reset"));
    assert_non_null(strstr(out, "MIG device 6: 1g.24gb  MIG-aaaaaaaa-0000-0000-0000-000000000006"));
    free(out);

    snippet_pool(&p);
    assert_int_equal(pool_find(&p, "nvidia.com/mig-1g.24gb")->physical, 4);
    assert_int_equal(pool_find(&p, "nvidia.com/gpu")->physical, 2);
    assert_int_equal(pool_find(&p, "nvidia.com/gpu")->memory_gib, 96);
}

static void test_init_error(void **state)
{
    struct error err;
    use("libfakenvml.so", "init-error.txt");
    assert_int_equal(discover(&err), -ERR_UNAVAILABLE);
    assert_non_null(strstr(err.message, "nvmlInit_v2 failed: Driver Not Loaded (9)"));
}

static void test_no_library(void **state)
{
    struct error err;
    setenv("GPUAAS_NVML_LIB", "/nonexistent/libnvidia-ml.so.1", 1);
    assert_int_equal(discover(&err), -ERR_UNAVAILABLE);
    assert_non_null(strstr(err.message, "cannot load NVML (/nonexistent/libnvidia-ml.so.1)"));
    char *argv[] = {"gpu-discover", NULL};
    assert_int_equal(cmd_gpu_discover(1, argv), 1);
}

static void test_missing_mig_symbols(void **state)
{
    struct error err;
    use("libfakenvml_nomig.so", "mig.txt");
    assert_int_equal(discover(&err), 0);
    assert_int_equal(inv.n_gpus, 3);
    assert_non_null(strstr(inv.missing, "nvmlDeviceGetMigMode"));
    assert_non_null(strstr(inv.missing, "nvmlDeviceGetMigDeviceHandleByIndex"));
    assert_non_null(strstr(inv.missing, "nvmlDeviceGetGpuInstanceProfileInfoV"));
    assert_false(inv.gpus[0].mig_capable);
    assert_int_equal(inv.gpus[0].n_migs, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_gpu),     cmocka_unit_test(test_whole),
        cmocka_unit_test(test_mig_sparse), cmocka_unit_test(test_init_error),
        cmocka_unit_test(test_no_library), cmocka_unit_test(test_missing_mig_symbols),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
