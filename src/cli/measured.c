/* Measured utilization for the tokenomics CLI: the bookings in the platform's database. */
#include "cli/shared.h"
#include "core/config.h"
#include "core/pool.h"
#include "core/tokenomics.h"
#include "store/store.h"

#include <stdlib.h>

int cli_measured_utilization(const char *config_path, int64_t from, int64_t to, double *ret,
                             struct error *err)
{
    struct config *c = NULL;
    struct store *st = NULL;
    struct reservation *rows = NULL;
    size_t n = 0;
    struct pool pool;
    int r;
    if (!config_path)
        return error_set(err, ERR_INVALID, "utilization",
                         "utilization \"measured\" needs the platform configuration (--config FILE "
                         "or GPUAAS_CONFIG)");
    if ((r = config_load_file(config_path, &c, err)) < 0 || (r = pool_derive(c, &pool, err)) < 0 ||
        (r = store_open(c->database.url, &st, err)) < 0)
        goto out;
    struct res_filter f = {.from = from, .to = to, .state = -1};
    if ((r = store_reservation_list(st, &f, &rows, &n)) < 0) {
        error_set(err, ERR_IO, "", "could not read bookings from the database");
        goto out;
    }
    *ret = tok_measured_utilization(&pool, rows, n, from, to);
    if (*ret <= 0)
        r = error_set(err, ERR_INVALID, "utilization",
                      "no GPU bookings between the given times: measured utilization is 0");
out:
    free(rows);
    store_close(st);
    config_free(c);
    return r;
}
