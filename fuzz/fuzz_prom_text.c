/* libFuzzer harness for the Prometheus text parser (DCGM exporter scrapes) and the session
 * activity computed from its samples: never crashes, and the activity stays in range. */
#include "core/activity.h"
#include "core/prom_text.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct prom_samples s;
    struct prom_ns_usage ns[8];
    if (prom_parse((const char *)data, size, &s) != 0)
        return 0;
    prom_aggregate(&s, ns, 8);
    /* Sessions named after the first namespaces seen, plus fixed ones. */
    struct act_session sess[6] = {
        {.id = 1, .namespace_ = "gpuaas-r12", .units = 2, .starts_at = 0, .ends_at = 2000},
        {.id = 2, .namespace_ = "team-a", .units = 1, .starts_at = 990, .ends_at = 2000},
    };
    size_t n = 2;
    for (int i = 0; i < s.n && n < 6; i++)
        if (s.v[i].namespace[0]) {
            struct act_session *x = &sess[n];
            x->id = (int64_t)n + 1;
            snprintf(x->namespace_, sizeof(x->namespace_), "%s", s.v[i].namespace);
            x->units = (int)n % 3; /* 0 units too: the devices seen are the denominator */
            x->starts_at = 0;
            x->ends_at = 1000 + (int64_t)n;
            n++;
        }
    struct act_delta d[6];
    int k = act_measure(&s, sess, n, 1000, 30000, d);
    for (int i = 0; i < k; i++)
        if (d[i].busy_fraction < 0 || d[i].busy_fraction > 1 || d[i].busy_ms < 0 ||
            d[i].busy_ms > d[i].measured_ms || d[i].measured_ms > 30000 || d[i].fb_used_mib < 0 ||
            d[i].fb_used_mib > ACT_MAX_FB_MIB)
            abort();
    prom_samples_free(&s);
    return 0;
}
