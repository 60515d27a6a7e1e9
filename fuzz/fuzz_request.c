/* libFuzzer harness: JSON request decoding and booking validation (no server, no I/O). */
#include "core/config.h"
#include "core/pool.h"
#include "server/resreq.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static const char pool_yaml[] = "pool:\n"
                                "  nodes:\n"
                                "    - name: sno-1\n"
                                "      cpu: 127\n"
                                "      memory_gib: 754\n"
                                "      storage_gib: 3100\n"
                                "      gpus:\n"
                                "        - model: NVIDIA RTX PRO 6000 Blackwell Server Edition\n"
                                "          memory_gib: 96\n"
                                "          mig:\n"
                                "            1g.24gb: 4\n"
                                "        - model: NVIDIA RTX PRO 6000 Blackwell Server Edition\n"
                                "          memory_gib: 96\n"
                                "          whole: true\n";

static struct config *cfg;
static struct pool pool;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct error err;
    if (!cfg) {
        if (config_load_string(pool_yaml, strlen(pool_yaml), "fuzz.yaml", &cfg, &err) < 0 ||
            pool_derive(cfg, &pool, &err) < 0)
            __builtin_trap();
    }
    const int64_t now = 1796115600; /* 2026-12-01T09:00:00Z */
    struct reservation r;
    memset(&err, 0, sizeof(err));
    if (resreq_decode((const char *)data, size, cfg, &pool, now, &r, &err) == 0) {
        if (r.ends_at <= r.starts_at || r.gpu_count < 1 || r.cpu < 1 ||
            !pool_find(&pool, r.gpu_type))
            __builtin_trap();
        int64_t end;
        (void)resreq_decode_extend((const char *)data, size, cfg, &r, now, &end, &err);
    } else if (err.code != ERR_INVALID) {
        __builtin_trap();
    }
    return 0;
}
