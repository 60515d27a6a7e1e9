/* libFuzzer harness: the tokenomics model input (POST /api/v1/tokenomics body), decoded as the
 * server does, then validated by tok_parse(); a valid input is computed and drawn. */
#include "common/error.h"
#include "core/tokenomics.h"

#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t je;
    json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
    struct tok_input *in = calloc(1, sizeof(*in));
    struct error err = {0};
    json_t *res = NULL;
    char *svg = NULL;
    if (!doc || !in)
        goto out;
    if (tok_parse(doc, in, &err) < 0) {
        if (err.code != ERR_INVALID && err.code != ERR_NOMEM)
            __builtin_trap(); /* a refusal is always a validation error with a message */
        if (!err.message[0])
            __builtin_trap();
        goto out;
    }
    /* what tok_parse promises to tok_compute */
    if (in->n_servers < 1 || in->n_servers > TOK_MAX_SERVERS || in->n_workloads < 1 ||
        in->n_workloads > TOK_MAX_WORKLOADS)
        __builtin_trap();
    for (int i = 0; i < in->n_workloads; i++)
        if (in->workloads[i].n_prices < 0 || in->workloads[i].n_prices > TOK_MAX_PRICES ||
            !(in->workloads[i].tokens_per_second_per_gpu > 0))
            __builtin_trap();
    if (in->utilization_measured)
        in->utilization = 0.5; /* the server measures it from the bookings */
    if (tok_compute(in, &res, &err) == 0)
        (void)tok_svg(res, &svg, &err);
out:
    free(svg);
    json_decref(res);
    free(in);
    json_decref(doc);
    return 0;
}
