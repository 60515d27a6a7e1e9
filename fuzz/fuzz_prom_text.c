/* libFuzzer harness for the Prometheus text parser (DCGM exporter scrapes). */
#include "core/prom_text.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct prom_samples s;
    struct prom_ns_usage ns[8];
    if (prom_parse((const char *)data, size, &s) == 0) {
        prom_aggregate(&s, ns, 8);
        prom_samples_free(&s);
    }
    return 0;
}
