/* One store test suite, run against SQLite and against PostgreSQL (GPUAAS_TEST_PG_URL).
 * Every test gets a fresh database: a new SQLite file, or a new PostgreSQL schema. */
#include "store/store.h"
#include "store_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>

static const char *pg_base; /* NULL: the SQLite run */

struct fx {
    char url[1024];
    char place[512]; /* SQLite folder or PostgreSQL schema */
    struct store *st;
    int64_t alice, bob;
    struct pool pool;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    struct error err = {0};
    if (!f)
        return -1;
    if (pg_base ? fixture_pg_fresh(pg_base, f->place, sizeof f->place, f->url, sizeof f->url)
                : fixture_sqlite_fresh(f->place, sizeof f->place, f->url, sizeof f->url))
        return -1;
    if (store_open(f->url, &f->st, &err) < 0) {
        fprintf(stderr, "store_open %s: %s\n", f->url, err.message);
        return -1;
    }
    struct user u = {.role = "user", .password_hash = "$argon2id$x", .created_at = 1};
    snprintf(u.username, sizeof u.username, "alice");
    if (store_user_create(f->st, &u, &f->alice, &err) < 0)
        return -1;
    snprintf(u.username, sizeof u.username, "bob");
    if (store_user_create(f->st, &u, &f->bob, &err) < 0)
        return -1;
    fixture_pool(&f->pool, 2);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    store_close(f->st);
    if (pg_base)
        fixture_pg_drop(pg_base, f->place);
    else
        fixture_sqlite_drop(f->place);
    free(f);
    return 0;
}

/* Runs raw SQL on the test database behind the store's back (corrupting rows on purpose). */
static void raw_sql(struct fx *f, const char *sql)
{
    if (pg_base) {
        assert_int_equal(fixture_pg_exec(f->url, sql), 0);
        return;
    }
    sqlite3 *db;
    char path[1100];
    snprintf(path, sizeof path, "%s", f->url + strlen("sqlite://"));
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static struct reservation booking(int64_t user, int gpus, int64_t s, int64_t e)
{
    struct reservation r = {0};
    r.user_id = user;
    snprintf(r.gpu_type, sizeof r.gpu_type, "nvidia.com/gpu");
    r.gpu_count = gpus;
    r.cpu = 4;
    r.memory_gib = 16;
    r.storage_gib = 50;
    r.mode = MODE_INTERACTIVE;
    snprintf(r.purpose, sizeof r.purpose, "test");
    r.starts_at = s;
    r.ends_at = e;
    return r;
}

static void test_migrations_idempotent(void **state)
{
    struct fx *f = *state;
    struct store *again = NULL;
    struct error err = {0};
    int v1 = 0, v2 = 0;
    assert_int_equal(store_schema_version(f->st, &v1), 0);
    assert_true(v1 >= 1);
    assert_int_equal(store_open(f->url, &again, &err), 0);
    assert_int_equal(store_schema_version(again, &v2), 0);
    assert_int_equal(v1, v2);
    assert_string_equal(store_backend(again), pg_base ? "postgres" : "sqlite");
    assert_int_equal(store_ping(again), 0);
    int64_t n;
    assert_int_equal(store_user_count(again, &n), 0);
    assert_int_equal(n, 2); /* data kept */
    store_close(again);
    assert_int_equal(store_open("mysql://x", &again, &err), -ERR_INVALID);
    assert_int_equal(store_open("sqlite::memory:", &again, &err), 0);
    assert_int_equal(store_schema_version(again, &v2), 0);
    assert_int_equal(v1, v2);
    store_close(again);
}

static void test_users(void **state)
{
    struct fx *f = *state;
    struct error err = {0};
    struct user u = {.role = "user", .password_hash = "h", .created_at = 5}, got;
    snprintf(u.username, sizeof u.username, "alice");
    assert_int_equal(store_user_create(f->st, &u, NULL, &err), -ERR_EXISTS);
    assert_string_equal(err.field, "username");
    snprintf(u.role, sizeof u.role, "root");
    snprintf(u.username, sizeof u.username, "carol");
    assert_int_equal(store_user_create(f->st, &u, NULL, &err), -ERR_INVALID);
    assert_int_equal(store_user_get_by_name(f->st, "alice", &got), 0);
    assert_int_equal(got.id, f->alice);
    assert_string_equal(got.password_hash, "$argon2id$x");
    assert_false(got.disabled);
    assert_int_equal(store_user_get_by_name(f->st, "nobody", &got), -ERR_NOT_FOUND);
    assert_int_equal(store_user_get(f->st, 999999, &got), -ERR_NOT_FOUND);
    bool dis = true;
    assert_int_equal(store_user_update(f->st, f->bob, &dis, "admin", NULL, &err), 0);
    assert_int_equal(store_user_get(f->st, f->bob, &got), 0);
    assert_true(got.disabled);
    assert_string_equal(got.role, "admin");
    assert_string_equal(got.password_hash, "$argon2id$x");
    assert_int_equal(store_user_update(f->st, f->bob, NULL, NULL, "new", &err), 0);
    assert_int_equal(store_user_get(f->st, f->bob, &got), 0);
    assert_string_equal(got.password_hash, "new");
    assert_true(got.disabled);
    assert_int_equal(store_user_update(f->st, 999999, &dis, NULL, NULL, &err), -ERR_NOT_FOUND);
    assert_int_equal(store_user_update(f->st, f->bob, NULL, "god", NULL, &err), -ERR_INVALID);
    struct user *list;
    size_t n;
    assert_int_equal(store_user_list(f->st, &list, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].username, "alice");
    assert_string_equal(list[1].username, "bob");
    free(list);
}

static void test_tokens(void **state)
{
    struct fx *f = *state;
    struct error err = {0};
    struct token t = {.user_id = f->alice, .created_at = 10, .expires_at = 100}, got;
    snprintf(t.name, sizeof t.name, "cli");
    for (int i = 0; i < 32; i++)
        t.hash[i] = (uint8_t)(i * 7 + 200);
    int64_t id1, id2;
    assert_int_equal(store_token_create(f->st, &t, &id1, &err), 0);
    assert_int_equal(store_token_create(f->st, &t, &id2, &err), -ERR_EXISTS); /* same hash */
    t.hash[0] ^= 1;
    t.expires_at = 1000;
    assert_int_equal(store_token_create(f->st, &t, &id2, &err), 0);
    assert_int_equal(store_token_get(f->st, id1, &got), 0);
    assert_int_equal(got.user_id, f->alice);
    assert_int_equal(got.expires_at, 100);
    assert_int_equal(got.hash[0], 200);
    assert_memory_equal(got.hash + 1, t.hash + 1, 31);
    struct token *list;
    size_t n;
    assert_int_equal(store_token_list(f->st, f->alice, &list, &n), 0);
    assert_int_equal(n, 2);
    free(list);
    assert_int_equal(store_token_list(f->st, f->bob, &list, &n), 0);
    assert_int_equal(n, 0);
    free(list);
    struct user owner;
    assert_int_equal(store_token_get_with_user(f->st, id1, &got, &owner), 0);
    assert_int_equal(got.id, id1);
    assert_int_equal(got.expires_at, 100);
    assert_int_equal(got.hash[0], 200);
    assert_int_equal(owner.id, f->alice);
    assert_string_equal(owner.username, "alice");
    assert_string_equal(owner.role, "user");
    assert_int_equal(store_token_get_with_user(f->st, 999999, &got, &owner), -ERR_NOT_FOUND);
    assert_int_equal(store_token_delete(f->st, f->bob, id2), -ERR_NOT_FOUND); /* not bob's */
    int64_t gone;
    assert_int_equal(store_token_delete_expired(f->st, 100, &gone), 0);
    assert_int_equal(gone, 1);
    assert_int_equal(store_token_get(f->st, id1, &got), -ERR_NOT_FOUND);
    assert_int_equal(store_token_delete(f->st, f->alice, id2), 0);
    assert_int_equal(store_token_get(f->st, id2, &got), -ERR_NOT_FOUND);
}

static void test_admission(void **state)
{
    struct fx *f = *state;
    struct error err = {0};
    struct window next;
    struct reservation a = booking(f->alice, 1, 1000, 2000), b = booking(f->bob, 1, 1500, 2500);
    assert_int_equal(store_reservation_admit(f->st, &f->pool, &a, 10, &next, &err), 0);
    assert_true(a.id > 0);
    assert_int_equal(a.state, RS_APPROVED);
    assert_int_equal(a.created_at, 10);
    assert_int_equal(store_reservation_admit(f->st, &f->pool, &b, 10, &next, &err), 0);
    /* both GPUs busy on [1500, 2000): the same length fits first at 2000 */
    struct reservation c = booking(f->alice, 1, 1200, 1800);
    assert_int_equal(store_reservation_admit(f->st, &f->pool, &c, 10, &next, &err), -ERR_CONFLICT);
    assert_string_equal(err.field, "nvidia.com/gpu");
    assert_int_equal(next.starts_at, 2000);
    assert_int_equal(next.ends_at, 2600);
    /* back-to-back with a at 2000 is no conflict */
    c = booking(f->alice, 1, 2000, 2600);
    assert_int_equal(store_reservation_admit(f->st, &f->pool, &c, 10, &next, &err), 0);
    /* more GPUs than exist: no window at all */
    struct reservation d = booking(f->alice, 3, 100, 200);
    next.ends_at = 1;
    assert_int_equal(store_reservation_admit(f->st, &f->pool, &d, 10, &next, &err), -ERR_CONFLICT);
    assert_int_equal(next.ends_at, 0);
    /* cpu is a resource too */
    d = booking(f->alice, 1, 5000, 6000);
    d.cpu = 65;
    assert_int_equal(store_reservation_admit(f->st, &f->pool, &d, 10, &next, &err), -ERR_CONFLICT);
    assert_string_equal(err.field, "cpu");
    d = booking(f->alice, 1, 5000, 6000);
    snprintf(d.gpu_type, sizeof d.gpu_type, "nvidia.com/h100");
    assert_int_equal(store_reservation_admit(f->st, &f->pool, &d, 10, &next, &err), -ERR_INVALID);
    d = booking(987654, 1, 5000, 6000);
    assert_int_equal(store_reservation_admit(f->st, &f->pool, &d, 10, &next, &err), -ERR_INVALID);

    struct reservation got;
    assert_int_equal(store_reservation_get(f->st, b.id, &got), 0);
    assert_string_equal(got.user, "bob");
    assert_int_equal(got.starts_at, 1500);
    assert_int_equal(got.ends_at, 2500);
    assert_int_equal(got.gpu_count, 1);
    assert_int_equal(got.cpu, 4);
    assert_int_equal(got.memory_gib, 16);
    assert_int_equal(got.storage_gib, 50);
    assert_string_equal(got.purpose, "test");
    assert_int_equal(got.state, RS_APPROVED);
    assert_int_equal(store_reservation_get(f->st, 999999, &got), -ERR_NOT_FOUND);

    struct reservation *list;
    size_t n;
    struct res_filter all = {.state = -1};
    assert_int_equal(store_reservation_list(f->st, &all, &list, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(list[0].id, a.id); /* ordered by start */
    free(list);
    struct res_filter mine = {.state = -1, .user_id = f->bob};
    assert_int_equal(store_reservation_list(f->st, &mine, &list, &n), 0);
    assert_int_equal(n, 1);
    free(list);
    struct res_filter window = {.state = -1, .from = 2000, .to = 2100, .limit = 1};
    assert_int_equal(store_reservation_list(f->st, &window, &list, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(list[0].id, b.id);
    free(list);
    window.limit = 0;
    assert_int_equal(store_reservation_list(f->st, &window, &list, &n), 0);
    assert_int_equal(n, 2);
    free(list);
}

/* The light overlap query: capacity-holding bookings overlapping the window, as spans per
 * resource with their amounts. */
static void test_busy(void **state)
{
    struct fx *f = *state;
    struct error err = {0};
    struct window next;
    struct reservation a = booking(f->alice, 1, 1000, 2000), b = booking(f->bob, 2, 1900, 3000),
                       c = booking(f->alice, 1, 1500, 2500);
    c.cpu = 7;
    assert_int_equal(store_reservation_admit(f->st, &f->pool, &a, 10, &next, &err), 0);
    assert_int_equal(store_reservation_admit(f->st, &f->pool, &b, 10, &next, &err), -ERR_CONFLICT);
    b = booking(f->bob, 2, 2500, 3000);
    assert_int_equal(store_reservation_admit(f->st, &f->pool, &b, 10, &next, &err), 0);
    assert_int_equal(store_reservation_admit(f->st, &f->pool, &c, 10, &next, &err), 0);
    assert_int_equal(store_reservation_transition(f->st, c.id, RS_APPROVED, RS_CANCELED, 20, &err),
                     0);
    struct cal_busy busy = {0};
    assert_int_equal(store_busy(f->st, &f->pool, 1999, 2600, true, &busy, &err), 0);
    assert_int_equal(busy.n[0], 2); /* a and b; c is canceled */
    for (size_t i = 0; i < 2; i++) {
        const struct cal_span *s = &busy.spans[0][i];
        if (s->id == a.id) {
            assert_int_equal(s->starts_at, 1000);
            assert_int_equal(s->ends_at, 2000);
            assert_int_equal(s->amount, 1);
        } else {
            assert_int_equal(s->id, b.id);
            assert_int_equal(s->amount, 2);
        }
    }
    assert_int_equal(busy.n[1], 2);
    assert_int_equal(busy.spans[1][0].amount, 4);  /* cpu */
    assert_int_equal(busy.spans[2][1].amount, 16); /* memory */
    assert_int_equal(busy.spans[3][0].amount, 50); /* storage */
    cal_busy_free(&busy);
    /* [2000, 2500) touches a's end and b's start: nothing overlaps */
    assert_int_equal(store_busy(f->st, &f->pool, 2000, 2500, true, &busy, &err), 0);
    assert_int_equal(busy.n[0], 0);
    assert_int_equal(busy.n[1], 0);
    cal_busy_free(&busy);
    /* without ids: the same spans, ids 0 */
    assert_int_equal(store_busy(f->st, &f->pool, 1999, 2600, false, &busy, &err), 0);
    assert_int_equal(busy.n[0], 2);
    assert_int_equal(busy.spans[0][0].id, 0);
    assert_int_equal(busy.spans[0][0].amount + busy.spans[0][1].amount, 3);
    assert_int_equal(busy.spans[3][1].amount, 50);
    cal_busy_free(&busy);
}

/* session.turnaround_seconds: a GPU unit stays held after a booking ends, in the database
 * admission too (store_busy reads the bookings that ended within the turnaround). */
static void test_turnaround(void **state)
{
    struct fx *f = *state;
    struct error err = {0};
    struct window next;
    for (int i = 0; i < f->pool.n; i++)
        if (pool_is_gpu(&f->pool.res[i]))
            f->pool.res[i].turnaround_s = 300;
    struct reservation a = booking(f->alice, 2, 1000, 2000);
    assert_int_equal(store_reservation_admit(f->st, &f->pool, &a, 10, &next, &err), 0);
    struct reservation b = booking(f->bob, 1, 2000, 2500);
    assert_int_equal(store_reservation_admit(f->st, &f->pool, &b, 10, &next, &err), -ERR_CONFLICT);
    assert_string_equal(err.field, "nvidia.com/gpu");
    assert_int_equal(next.starts_at, 2300);
    b = booking(f->bob, 1, 2299, 2500);
    assert_int_equal(store_reservation_admit(f->st, &f->pool, &b, 10, &next, &err), -ERR_CONFLICT);
    b = booking(f->bob, 1, 2300, 2800);
    assert_int_equal(store_reservation_admit(f->st, &f->pool, &b, 10, &next, &err), 0);
    /* the request's own turnaround must pass before a starts */
    struct reservation c = booking(f->bob, 1, 0, 701);
    assert_int_equal(store_reservation_admit(f->st, &f->pool, &c, 10, &next, &err), -ERR_CONFLICT);
    c = booking(f->bob, 1, 0, 700);
    assert_int_equal(store_reservation_admit(f->st, &f->pool, &c, 10, &next, &err), 0);
    /* the capacity series shows the unit held through the turnaround */
    struct cal_busy busy = {0};
    int out[3];
    assert_int_equal(store_busy(f->st, &f->pool, 2000, 2300, false, &busy, &err), 0);
    assert_int_equal(
        cal_free_series_spans(&f->pool.res[0], busy.spans[0], busy.n[0], 2000, 2300, 100, out, 3),
        0);
    assert_int_equal(out[0], 0);
    assert_int_equal(out[2], 0);
    cal_busy_free(&busy);
}

static void test_transition_cas(void **state)
{
    struct fx *f = *state;
    struct error err = {0};
    struct window next;
    struct reservation a = booking(f->alice, 2, 1000, 2000), got;
    assert_int_equal(store_reservation_admit(f->st, &f->pool, &a, 10, &next, &err), 0);
    /* cancel wins; the reconciler's activation (from APPROVED) then fails */
    assert_int_equal(store_reservation_transition(f->st, a.id, RS_APPROVED, RS_CANCELED, 20, &err),
                     0);
    assert_int_equal(store_reservation_transition(f->st, a.id, RS_APPROVED, RS_ACTIVE, 21, &err),
                     -ERR_STATE);
    assert_int_equal(store_reservation_transition(f->st, a.id, RS_CANCELED, RS_ACTIVE, 21, &err),
                     -ERR_STATE);
    assert_int_equal(store_reservation_get(f->st, a.id, &got), 0);
    assert_int_equal(got.state, RS_CANCELED);
    assert_int_equal(got.updated_at, 20);
    assert_int_equal(store_reservation_transition(f->st, 999999, RS_APPROVED, RS_ACTIVE, 21, &err),
                     -ERR_NOT_FOUND);
    /* canceled capacity is free again */
    struct reservation b = booking(f->bob, 2, 1000, 2000);
    assert_int_equal(store_reservation_admit(f->st, &f->pool, &b, 30, &next, &err), 0);
    assert_int_equal(store_reservation_transition(f->st, b.id, RS_APPROVED, RS_ACTIVE, 31, &err),
                     0);
    assert_int_equal(store_reservation_transition(f->st, b.id, RS_APPROVED, RS_CANCELED, 32, &err),
                     -ERR_STATE);
    assert_int_equal(store_reservation_transition(f->st, b.id, RS_ACTIVE, RS_COMPLETED, 33, &err),
                     0);
    assert_int_equal(store_reservation_transition(f->st, b.id, RS_COMPLETED, RS_ACTIVE, 34, &err),
                     -ERR_STATE);
    struct res_filter hold = {.state = -1, .holds_capacity = true};
    struct reservation *list;
    size_t n;
    assert_int_equal(store_reservation_list(f->st, &hold, &list, &n), 0);
    assert_int_equal(n, 0);
    free(list);
    struct res_filter canceled = {.state = RS_CANCELED};
    assert_int_equal(store_reservation_list(f->st, &canceled, &list, &n), 0);
    assert_int_equal(n, 1);
    free(list);
}

static void test_set_end_and_session(void **state)
{
    struct fx *f = *state;
    struct error err = {0};
    struct window next;
    struct reservation a = booking(f->alice, 2, 1000, 2000), b = booking(f->bob, 1, 3000, 4000);
    struct reservation got;
    assert_int_equal(store_reservation_admit(f->st, &f->pool, &a, 10, &next, &err), 0);
    assert_int_equal(store_reservation_admit(f->st, &f->pool, &b, 10, &next, &err), 0);
    assert_int_equal(store_reservation_set_end(f->st, &f->pool, a.id, 3000, 11, &err), 0);
    assert_int_equal(store_reservation_set_end(f->st, &f->pool, a.id, 3001, 12, &err),
                     -ERR_CONFLICT);
    assert_int_equal(store_reservation_set_end(f->st, &f->pool, a.id, 1500, 13, &err), 0);
    assert_int_equal(store_reservation_get(f->st, a.id, &got), 0);
    assert_int_equal(got.ends_at, 1500);
    assert_int_equal(got.updated_at, 13);
    assert_int_equal(store_reservation_set_end(f->st, &f->pool, a.id, 1000, 14, &err),
                     -ERR_INVALID);
    assert_int_equal(store_reservation_set_end(f->st, &f->pool, 999999, 5000, 14, &err),
                     -ERR_NOT_FOUND);
    assert_int_equal(store_reservation_transition(f->st, b.id, RS_APPROVED, RS_CANCELED, 15, &err),
                     0);
    assert_int_equal(store_reservation_set_end(f->st, &f->pool, b.id, 5000, 16, &err), -ERR_STATE);
    assert_int_equal(store_reservation_set_end(f->st, &f->pool, a.id, 9000, 17, &err), 0);

    struct session_info s = {.attempts = 2, .next_attempt_at = 77};
    snprintf(s.namespace_, sizeof s.namespace_, "gpuaas-r%lld", (long long)a.id);
    snprintf(s.url, sizeof s.url, "https://x/y?q='1'");
    snprintf(s.phase, sizeof s.phase, "Ready");
    snprintf(s.message, sizeof s.message, "exceeded quota: \"gpu\"");
    assert_int_equal(store_reservation_set_session(f->st, a.id, &s, 18), 0);
    assert_int_equal(store_reservation_get(f->st, a.id, &got), 0);
    assert_string_equal(got.session.namespace_, s.namespace_);
    assert_string_equal(got.session.url, s.url);
    assert_string_equal(got.session.phase, "Ready");
    assert_string_equal(got.session.message, s.message);
    assert_int_equal(got.session.attempts, 2);
    assert_int_equal(got.session.next_attempt_at, 77);
    assert_int_equal(store_reservation_set_session(f->st, 999999, &s, 18), -ERR_NOT_FOUND);
}

static void test_bad_rows(void **state)
{
    struct fx *f = *state;
    struct error err = {0};
    struct window next;
    struct reservation a = booking(f->alice, 1, 1000, 2000), got;
    assert_int_equal(store_reservation_admit(f->st, &f->pool, &a, 10, &next, &err), 0);
    raw_sql(f, "UPDATE reservations SET state = 'EXPLODED'");
    assert_int_equal(store_reservation_get(f->st, a.id, &got), -ERR_INTERNAL);
    struct reservation *list;
    size_t n;
    struct res_filter all = {.state = -1};
    assert_int_equal(store_reservation_list(f->st, &all, &list, &n), -ERR_INTERNAL);
    raw_sql(f, "UPDATE reservations SET state = 'ACTIVE', mode = 'batch'");
    assert_int_equal(store_reservation_get(f->st, a.id, &got), -ERR_INTERNAL);
}

static void test_audit(void **state)
{
    struct fx *f = *state;
    for (int i = 1; i <= 5; i++) {
        struct audit_entry e = {.at = i * 100};
        snprintf(e.actor, sizeof e.actor, "alice");
        snprintf(e.action, sizeof e.action, "reservation.create");
        snprintf(e.target, sizeof e.target, "reservation/%d", i);
        snprintf(e.detail, sizeof e.detail, "{\"n\":%d}", i);
        assert_int_equal(store_audit_add(f->st, &e), 0);
    }
    struct audit_entry *list;
    size_t n;
    assert_int_equal(store_audit_list(f->st, 2, 0, &list, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].target, "reservation/5");
    assert_string_equal(list[1].target, "reservation/4");
    assert_int_equal(list[0].at, 500);
    int64_t before = list[1].id;
    free(list);
    assert_int_equal(store_audit_list(f->st, 10, before, &list, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(list[0].target, "reservation/3");
    assert_string_equal(list[2].detail, "{\"n\":1}");
    free(list);
    int64_t trimmed;
    assert_int_equal(store_audit_trim(f->st, 300, &trimmed), 0);
    assert_int_equal(trimmed, 2);
    assert_int_equal(store_audit_list(f->st, 0, 0, &list, &n), 0);
    assert_int_equal(n, 3);
    free(list);
}

static void test_kv(void **state)
{
    struct fx *f = *state;
    char *v = NULL;
    int64_t up;
    assert_int_equal(store_kv_get(f->st, "capacity", &v, &up), -ERR_NOT_FOUND);
    assert_int_equal(store_kv_set(f->st, "capacity", "{\"gpu\":1}", 5), 0);
    assert_int_equal(store_kv_set(f->st, "capacity", "{\"gpu\":2}", 6), 0);
    assert_int_equal(store_kv_get(f->st, "capacity", &v, &up), 0);
    assert_string_equal(v, "{\"gpu\":2}");
    assert_int_equal(up, 6);
    free(v);
}

/* GPU activity: the upsert accumulates per hourly bucket, keeps the highest and the newest
 * framebuffer reading, refuses bad amounts and unknown reservations; the range query sums
 * the buckets that overlap it, per user when asked; a database from before the table gets
 * it on open. */
static void test_activity(void **state)
{
    struct fx *f = *state;
    struct error err = {0};
    struct reservation a = booking(f->alice, 1, 1000, 8200), b = booking(f->bob, 1, 1000, 8200);
    assert_int_equal(store_reservation_admit(f->st, &f->pool, &a, 1, NULL, &err), 0);
    assert_int_equal(store_reservation_admit(f->st, &f->pool, &b, 1, NULL, &err), 0);
    const char *gpu = "nvidia.com/gpu";
    assert_int_equal(store_activity_add(f->st, a.id, gpu, 1000, 30000, 15000, 100), 0);
    assert_int_equal(store_activity_add(f->st, a.id, gpu, 1030, 30000, 30000, 300), 0);
    assert_int_equal(store_activity_add(f->st, a.id, gpu, 1060, 30000, 30000, 200), 0);
    assert_int_equal(store_activity_add(f->st, a.id, gpu, 4600, 30000, 0, 50), 0);
    assert_int_equal(store_activity_add(f->st, b.id, gpu, 1000, 30000, 3000, 7), 0);
    assert_int_equal(store_activity_add(f->st, a.id, gpu, 1090, -1, 0, 0), -ERR_INVALID);
    assert_int_equal(store_activity_add(f->st, a.id, gpu, 1090, 10, 11, 0), -ERR_INVALID);
    assert_int_equal(store_activity_add(f->st, a.id, "", 1090, 10, 1, 0), -ERR_INVALID);
    assert_int_equal(store_activity_add(f->st, 99999, gpu, 1090, 10, 1, 0), -ERR_EXISTS);

    struct activity *v = NULL;
    size_t n = 0;
    assert_int_equal(store_activity_list(f->st, 0, 10000, 0, &v, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].reservation_id, a.id);
    assert_string_equal(v[0].resource, gpu);
    assert_int_equal(v[0].measured_ms, 120000);
    assert_int_equal(v[0].busy_ms, 75000);
    assert_int_equal(v[0].fb_max_mib, 300);
    assert_int_equal(v[0].fb_last_mib, 50);
    assert_int_equal(v[0].samples, 4);
    assert_int_equal(v[0].first_at, 1000);
    assert_int_equal(v[0].last_at, 4600);
    assert_int_equal(v[1].reservation_id, b.id);
    assert_int_equal(v[1].busy_ms, 3000);
    free(v);

    /* Only the bucket [3600, 7200) overlaps [4000, 5000). */
    assert_int_equal(store_activity_list(f->st, 4000, 5000, 0, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].measured_ms, 30000);
    assert_int_equal(v[0].busy_ms, 0);
    assert_int_equal(v[0].fb_max_mib, 50);
    free(v);
    /* [0, 3600): the first bucket, whose newest reading was 200 MiB. */
    assert_int_equal(store_activity_list(f->st, 0, 3600, f->alice, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].measured_ms, 90000);
    assert_int_equal(v[0].fb_max_mib, 300);
    assert_int_equal(v[0].fb_last_mib, 200);
    free(v);
    /* Another user's activity is not in a user's list. */
    assert_int_equal(store_activity_list(f->st, 0, 10000, f->bob, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].reservation_id, b.id);
    free(v);
    assert_int_equal(store_activity_list(f->st, 20000, 30000, 0, &v, &n), 0);
    assert_int_equal(n, 0);
    free(v);
    assert_int_equal(store_activity_list(f->st, 10, 10, 0, &v, &n), -ERR_INVALID);

    /* A database migrated before the table existed: reopening adds it, data kept. */
    int ver = 0;
    assert_int_equal(store_schema_version(f->st, &ver), 0);
    store_close(f->st);
    f->st = NULL;
    raw_sql(f, "DROP TABLE session_activity");
    raw_sql(f, "ALTER TABLE users DROP COLUMN sso");               /* added by migration 4 */
    raw_sql(f, "ALTER TABLE reservations DROP COLUMN admin_note"); /* added by migration 5 */
    raw_sql(f, "DELETE FROM schema_migrations WHERE version > 1");
    assert_int_equal(store_open(f->url, &f->st, &err), 0);
    int ver2 = 0;
    assert_int_equal(store_schema_version(f->st, &ver2), 0);
    assert_int_equal(ver2, ver);
    assert_int_equal(store_activity_add(f->st, a.id, gpu, 1000, 1000, 500, 1), 0);
    assert_int_equal(store_activity_list(f->st, 0, 10000, 0, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].measured_ms, 1000);
    free(v);
}

/* PostgreSQL: a store on a fresh schema of the same database (another installation, or a
 * test running beside this one); place receives the schema's name for fixture_pg_drop. */
static struct store *open_other_schema(char *place, size_t n)
{
    char url[1200];
    struct store *o = NULL;
    struct error err = {0};
    assert_int_equal(fixture_pg_fresh(pg_base, place, n, url, sizeof url), 0);
    assert_int_equal(store_open(url, &o, &err), 0);
    return o;
}

static void test_leader(void **state)
{
    struct fx *f = *state;
    struct store *a, *b;
    struct error err = {0};
    assert_int_equal(store_open(f->url, &a, &err), 0);
    assert_int_equal(store_open(f->url, &b, &err), 0);
    char name[128];
    snprintf(name, sizeof name, "reconciler-%s", f->place);
    assert_int_equal(store_still_leader(a), 0);
    assert_int_equal(store_try_leader(a, name), 1);
    assert_int_equal(store_try_leader(b, name), 0);
    assert_int_equal(store_try_leader(a, name), 1);
    assert_int_equal(store_still_leader(a), 1);
    assert_int_equal(store_still_leader(b), 0);
    if (pg_base) {
        /* Advisory locks span the database: a deployment (or a test beside this one) in another
         * schema of the same database elects its own leader under the same name, and is not
         * stood by forever behind this one's. */
        char other_place[512];
        struct store *o = open_other_schema(other_place, sizeof other_place);
        assert_int_equal(store_try_leader(o, name), 1);
        assert_int_equal(store_try_leader(b, name), 0); /* while this schema's is still a's */
        store_close(o);
        fixture_pg_drop(pg_base, other_place);
    }
    store_close(a);
    /* the server drops a closed session's locks shortly after the client hangs up */
    int got = 0;
    for (int i = 0; i < 100 && got != 1; i++) {
        got = store_try_leader(b, name);
        if (got != 1)
            usleep(20000);
    }
    assert_int_equal(got, 1);
    assert_int_equal(store_still_leader(b), 1);
    store_close(b);
}

static void test_notify(void **state)
{
    struct fx *f = *state;
    struct store *l;
    struct error err = {0};
    struct window next;
    assert_int_equal(store_open(f->url, &l, &err), 0);
    assert_int_equal(store_listen(l), 0);
    assert_int_equal(store_wait_notify(l, 150), 0);
    struct reservation a = booking(f->alice, 1, 1000, 2000);
    assert_int_equal(store_reservation_admit(f->st, &f->pool, &a, 10, &next, &err), 0);
    assert_int_equal(store_wait_notify(l, 3000), 1);
    assert_int_equal(store_wait_notify(l, 150), 0);
    assert_int_equal(store_reservation_transition(f->st, a.id, RS_APPROVED, RS_ACTIVE, 11, &err),
                     0);
    assert_int_equal(store_wait_notify(l, 3000), 1);
    assert_int_equal(store_notify(f->st), 0);
    assert_int_equal(store_kv_set(f->st, "k", "v", 1), 0); /* SQLite sees any commit */
    assert_int_equal(store_wait_notify(l, 3000), 1);
    if (pg_base) {
        /* A NOTIFY channel is database-wide: a change in another schema of the same database
         * (another deployment, or another test running beside this one) does not wake this
         * listener. This is what once broke the 150 ms "nothing more" checks above. */
        char other_place[512];
        struct store *o = open_other_schema(other_place, sizeof other_place);
        assert_int_equal(store_notify(o), 0);
        assert_int_equal(store_wait_notify(l, 300), 0);
        assert_int_equal(store_notify(f->st), 0); /* while its own still does */
        assert_int_equal(store_wait_notify(l, 3000), 1);
        store_close(o);
        fixture_pg_drop(pg_base, other_place);
    }
    store_close(l);
}

/* PostgreSQL: a connection killed between transactions comes back, still listening. */
static void test_reconnect(void **state)
{
    struct fx *f = *state;
    if (!pg_base) {
        skip();
        return;
    }
    char url[1200], sql[300];
    struct store *l;
    struct error err = {0};
    snprintf(url, sizeof url, "%s&application_name=%s", f->url, f->place);
    assert_int_equal(store_open(url, &l, &err), 0);
    assert_int_equal(store_listen(l), 0);
    assert_int_equal(store_try_leader(l, f->place), 1);
    snprintf(sql, sizeof sql,
             "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
             "'%s'",
             f->place);
    assert_int_equal(fixture_pg_exec(pg_base, sql), 0);
    assert_int_not_equal(store_ping(l), 0);     /* the first call finds it dead */
    assert_int_equal(store_still_leader(l), 0); /* and the session lock with it */
    assert_int_equal(store_ping(l), 0);         /* then it reconnects */
    assert_int_equal(store_kv_set(f->st, "k", "v", 1), 0);
    assert_int_equal(store_notify(f->st), 0);
    assert_int_equal(store_wait_notify(l, 3000), 1);
    store_close(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrations_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_users, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admission, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_turnaround, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transition_cas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_end_and_session, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_activity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconnect, setup, teardown),
    };
    int failed = cmocka_run_group_tests_name("store/sqlite", tests, NULL, NULL);
    const char *url = fixture_pg_url();
    if (url) {
        pg_base = url;
        failed += cmocka_run_group_tests_name("store/postgres", tests, NULL, NULL);
    }
    return failed ? 1 : 0;
}
