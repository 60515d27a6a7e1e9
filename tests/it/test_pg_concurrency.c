/* Concurrent admission: 32 threads, each with its own store connection, race for the same
 * window of a resource with capacity K. Exactly K win, the others get -ERR_CONFLICT, and no
 * instant is ever over capacity. Run on PostgreSQL (advisory locks) and SQLite (BEGIN
 * IMMEDIATE). */
#include "store/store.h"
#include "store_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>

#define THREADS 32
#define CAPACITY 3
#define ROUNDS 4

struct race {
    const char *url;
    struct pool pool;
    int64_t user;
    pthread_barrier_t barrier;
    int rc[THREADS];
    int extra_ok[THREADS];
};

struct worker {
    struct race *race;
    int i;
};

static struct reservation booking(int64_t user, int gpus, int64_t s, int64_t e)
{
    struct reservation r = {0};
    r.user_id = user;
    snprintf(r.gpu_type, sizeof r.gpu_type, "nvidia.com/gpu");
    r.gpu_count = gpus;
    r.cpu = 1;
    r.memory_gib = 1;
    r.storage_gib = 1;
    r.starts_at = s;
    r.ends_at = e;
    return r;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    struct race *r = w->race;
    struct store *st = NULL;
    struct error err = {0};
    struct window next;
    int rc = store_open(r->url, &st, &err);
    pthread_barrier_wait(&r->barrier);
    if (rc < 0) {
        fprintf(stderr, "thread %d: store_open: %s\n", w->i, err.message);
        r->rc[w->i] = rc;
        return NULL;
    }
    struct reservation b = booking(r->user, 1, 100000, 103600);
    r->rc[w->i] = store_reservation_admit(st, &r->pool, &b, 1, &next, &err);
    if (r->rc[w->i] < 0 && r->rc[w->i] != -ERR_CONFLICT)
        fprintf(stderr, "thread %d: admit: %s\n", w->i, err.message);
    /* then overlapping windows on a 10-minute grid, to stress the exact check */
    unsigned seed = (unsigned)w->i * 7919u;
    for (int k = 0; k < ROUNDS; k++) {
        int64_t s = 200000 + (int64_t)(rand_r(&seed) % 12) * 600;
        int64_t len = (int64_t)(1 + rand_r(&seed) % 6) * 600;
        struct reservation o = booking(r->user, 1 + (int)(rand_r(&seed) % 2), s, s + len);
        int orc = store_reservation_admit(st, &r->pool, &o, 1, &next, &err);
        if (orc == 0)
            r->extra_ok[w->i]++;
        else if (orc != -ERR_CONFLICT)
            r->rc[w->i] = orc;
    }
    store_close(st);
    return NULL;
}

static void race(const char *url)
{
    struct race *r = calloc(1, sizeof *r);
    struct store *st;
    struct error err = {0};
    assert_non_null(r);
    r->url = url;
    fixture_pool(&r->pool, CAPACITY);
    assert_int_equal(store_open(url, &st, &err), 0);
    struct user u = {.role = "user", .password_hash = "h", .created_at = 1};
    snprintf(u.username, sizeof u.username, "racer");
    assert_int_equal(store_user_create(st, &u, &r->user, &err), 0);

    pthread_t th[THREADS];
    struct worker w[THREADS];
    pthread_barrier_init(&r->barrier, NULL, THREADS);
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){r, i};
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&r->barrier);

    int ok = 0, conflict = 0, extra = 0;
    for (int i = 0; i < THREADS; i++) {
        ok += r->rc[i] == 0;
        conflict += r->rc[i] == -ERR_CONFLICT;
        extra += r->extra_ok[i];
    }
    assert_int_equal(ok, CAPACITY);
    assert_int_equal(conflict, THREADS - CAPACITY);
    assert_true(extra > 0);

    /* No instant over capacity: the peak of what was stored, and a per-minute recount. */
    struct reservation *list;
    size_t n;
    struct res_filter all = {.state = -1, .holds_capacity = true};
    assert_int_equal(store_reservation_list(st, &all, &list, &n), 0);
    assert_int_equal(n, (size_t)(CAPACITY + extra));
    const struct pool_resource *gpu = &r->pool.res[0];
    assert_true(cal_peak(gpu, list, n, 0, 1000000, 0) <= CAPACITY);
    for (int64_t t = 100000; t < 200000 + 18 * 600; t += 60) {
        int used = 0;
        for (size_t i = 0; i < n; i++)
            if (list[i].starts_at <= t && t < list[i].ends_at)
                used += list[i].gpu_count;
        assert_true(used <= CAPACITY);
    }
    free(list);
    store_close(st);
    free(r);
}

static void test_sqlite(void **state)
{
    char dir[512], url[1024];
    assert_int_equal(fixture_sqlite_fresh(dir, sizeof dir, url, sizeof url), 0);
    race(url);
    fixture_sqlite_drop(dir);
}

static void test_postgres(void **state)
{
    const char *base = fixture_pg_url();
    if (!base) {
        skip();
        return;
    }
    char schema[128], url[1024];
    assert_int_equal(fixture_pg_fresh(base, schema, sizeof schema, url, sizeof url), 0);
    race(url);
    fixture_pg_drop(base, schema);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sqlite),
        cmocka_unit_test(test_postgres),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
