/* libFuzzer harness for the gpu-config parser (reads generated operator ConfigMaps back). */
#include "core/gpu_config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct gpuc_layout l;
    struct error err;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    for (size_t i = 0; i < size; i++)
        text[i] = data[i] ? (char)data[i] : ' ';
    text[size] = 0;
    gpuc_parse(text, size, &l, &err);
    free(text);
    return 0;
}
