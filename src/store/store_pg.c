/* PostgreSQL backend (libpq): every statement through PQexecParams with text parameters.
 * Write transactions take pg_advisory_xact_lock(hashtext(name)) for each resource in the
 * caller's sorted order, so concurrent admissions for a resource serialize, deadlock-free. */
#include "store/store_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct pg {
    PGconn *conn;
    bool leader;
    bool listening;
    bool in_tx;
};

static const struct migration pg_migrations[] = {
    {1, "CREATE TABLE users (id BIGSERIAL PRIMARY KEY, username TEXT NOT NULL UNIQUE, role TEXT "
        "NOT NULL, disabled INTEGER NOT NULL DEFAULT 0, password_hash TEXT NOT NULL, created_at "
        "BIGINT NOT NULL)"},
    {1, "CREATE TABLE tokens (id BIGSERIAL PRIMARY KEY, user_id BIGINT NOT NULL REFERENCES "
        "users(id) ON DELETE CASCADE, name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, created_at "
        "BIGINT NOT NULL, expires_at BIGINT NOT NULL)"},
    {1, "CREATE INDEX tokens_user ON tokens(user_id)"},
    {1, "CREATE TABLE reservations (id BIGSERIAL PRIMARY KEY, user_id BIGINT NOT NULL "
        "REFERENCES users(id), gpu_type TEXT NOT NULL, gpu_count INTEGER NOT NULL, mode TEXT NOT "
        "NULL, cpu INTEGER NOT NULL, memory_gib INTEGER NOT NULL, storage_gib INTEGER NOT NULL, "
        "purpose TEXT NOT NULL, starts_at BIGINT NOT NULL, ends_at BIGINT NOT NULL, state TEXT "
        "NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, session_namespace "
        "TEXT NOT NULL DEFAULT '', session_url TEXT NOT NULL DEFAULT '', session_phase TEXT NOT "
        "NULL DEFAULT '', session_message TEXT NOT NULL DEFAULT '', session_attempts INTEGER NOT "
        "NULL DEFAULT 0, session_next_attempt_at BIGINT NOT NULL DEFAULT 0, CHECK (ends_at > "
        "starts_at))"},
    {1, "CREATE INDEX reservations_window ON reservations(state, starts_at, ends_at)"},
    {1, "CREATE INDEX reservations_user ON reservations(user_id)"},
    {1, "CREATE TABLE audit_log (id BIGSERIAL PRIMARY KEY, at BIGINT NOT NULL, actor TEXT NOT "
        "NULL, action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL)"},
    {1, "CREATE INDEX audit_log_at ON audit_log(at)"},
    {1, "CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at BIGINT NOT "
        "NULL)"},
    {2, "CREATE TABLE IF NOT EXISTS session_activity (reservation_id BIGINT NOT NULL "
        "REFERENCES reservations(id) ON DELETE CASCADE, resource TEXT NOT NULL, bucket BIGINT "
        "NOT NULL, measured_ms BIGINT NOT NULL, busy_ms BIGINT NOT NULL, fb_max_mib BIGINT NOT "
        "NULL, fb_last_mib BIGINT NOT NULL, samples BIGINT NOT NULL, first_at BIGINT NOT NULL, "
        "last_at BIGINT NOT NULL, PRIMARY KEY (reservation_id, resource, bucket))"},
    {2, "CREATE INDEX IF NOT EXISTS session_activity_bucket ON session_activity(bucket)"},
};

static struct pg *PG(struct store *st)
{
    return st->impl;
}

static int pg_error(PGconn *c, const PGresult *res, struct error *err)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    int code = ERR_IO;
    if (PQstatus(c) != CONNECTION_OK)
        code = ERR_UNAVAILABLE;
    else if (state && (!strcmp(state, "23505") || !strcmp(state, "23503")))
        code = ERR_EXISTS;
    const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(c);
    char line[400];
    snprintf(line, sizeof line, "%s", msg && *msg ? msg : "connection lost");
    line[strcspn(line, "\n")] = 0;
    return error_set(err, code, NULL, "postgres: %s", line);
}

/* A connection lost between transactions is re-established once (LISTEN renewed; a
 * session advisory lock is gone with the old session). Inside a transaction the loss is
 * the caller's error: the statements already run were rolled back with it. */
static int pg_revive(struct store *st, struct error *err)
{
    struct pg *g = PG(st);
    if (PQstatus(g->conn) == CONNECTION_OK)
        return 0;
    if (g->in_tx)
        return error_set(err, ERR_UNAVAILABLE, NULL, "postgres: connection lost in a transaction");
    PQreset(g->conn);
    g->leader = false;
    if (PQstatus(g->conn) != CONNECTION_OK)
        return pg_error(g->conn, NULL, err);
    if (g->listening) {
        PGresult *r = PQexec(g->conn, "LISTEN gpuaas_changes");
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok)
            return pg_error(g->conn, NULL, err);
    }
    return 0;
}

static int pg_exec(struct store *st, const char *sql, const struct qparam *p, int n,
                   struct qres *out, struct error *err)
{
    PGconn *c = PG(st)->conn;
    char nums[16][24];
    const char *vals[16];
    int ret = 0;
    if (out)
        memset(out, 0, sizeof *out);
    if (n > 16)
        return error_set(err, ERR_INTERNAL, NULL, "too many parameters");
    if ((ret = pg_revive(st, err)) < 0)
        return ret;
    for (int i = 0; i < n; i++) {
        if (p[i].is_null) {
            vals[i] = NULL;
        } else if (p[i].is_int) {
            snprintf(nums[i], sizeof nums[i], "%" PRId64, p[i].i);
            vals[i] = nums[i];
        } else {
            vals[i] = p[i].s ? p[i].s : "";
        }
    }
    PGresult *res = PQexecParams(c, sql, n, NULL, vals, NULL, NULL, 0);
    ExecStatusType s = PQresultStatus(res);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        ret = pg_error(c, res, err);
        goto out;
    }
    if (!out)
        goto out;
    size_t nr = (size_t)PQntuples(res), nc = (size_t)PQnfields(res);
    out->ncols = nc;
    out->cells = calloc(nr * nc > 0 ? nr * nc : 1, sizeof *out->cells);
    if (!out->cells) {
        ret = error_set(err, ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    out->nrows = nr;
    for (size_t r = 0; r < nr; r++)
        for (size_t k = 0; k < nc; k++) {
            if (PQgetisnull(res, (int)r, (int)k))
                continue;
            if (!(out->cells[r * nc + k] = strdup(PQgetvalue(res, (int)r, (int)k)))) {
                ret = error_set(err, ERR_NOMEM, NULL, "out of memory");
                goto out;
            }
        }
out:
    PQclear(res);
    if (ret < 0 && out)
        qres_free(out);
    return ret;
}

static int pg_simple(struct store *st, const char *sql, struct error *err)
{
    return pg_exec(st, sql, NULL, 0, NULL, err);
}

static void pg_rollback(struct store *st)
{
    if (PQstatus(PG(st)->conn) == CONNECTION_OK)
        pg_simple(st, "ROLLBACK", NULL);
    PG(st)->in_tx = false;
}

static int pg_begin(struct store *st, const char *const *locks, int nlocks, struct error *err)
{
    int rc = pg_simple(st, "BEGIN", err);
    if (rc < 0)
        return rc;
    PG(st)->in_tx = true;
    /* One round trip: the target list is evaluated left to right, in the sorted order. */
    for (int i = 0; i < nlocks; i += 16) {
        char sql[1024] = "SELECT 1";
        struct qparam p[16];
        int k = 0;
        size_t len = strlen(sql);
        for (; k < 16 && i + k < nlocks; k++) {
            p[k] = QS(locks[i + k]);
            len += (size_t)snprintf(sql + len, sizeof sql - len,
                                    ", pg_advisory_xact_lock(hashtext($%d))", k + 1);
        }
        if ((rc = pg_exec(st, sql, p, k, NULL, err)) < 0) {
            pg_rollback(st);
            return rc;
        }
    }
    return 0;
}

static int pg_commit(struct store *st, struct error *err)
{
    int rc = pg_simple(st, "COMMIT", err);
    PG(st)->in_tx = false;
    return rc;
}

static int pg_notify(struct store *st)
{
    return pg_simple(st, "NOTIFY gpuaas_changes", NULL);
}

static int pg_listen(struct store *st)
{
    int rc = pg_simple(st, "LISTEN gpuaas_changes", NULL);
    if (rc == 0)
        PG(st)->listening = true;
    return rc;
}

static int take_notify(PGconn *c)
{
    int got = 0;
    PGnotify *n;
    while ((n = PQnotifies(c))) {
        got = 1;
        PQfreemem(n);
    }
    return got;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int pg_wait_notify(struct store *st, int timeout_ms)
{
    PGconn *c = PG(st)->conn;
    int64_t deadline = mono_ms() + timeout_ms;
    for (;;) {
        if (!PQconsumeInput(c))
            return -ERR_UNAVAILABLE;
        if (take_notify(c))
            return 1;
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            return 0;
        struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
        if (pfd.fd < 0)
            return -ERR_UNAVAILABLE;
        int r = poll(&pfd, 1, (int)left);
        if (r < 0 && errno != EINTR)
            return -ERR_IO;
    }
}

static int pg_try_leader(struct store *st, const char *name)
{
    char key[160];
    snprintf(key, sizeof key, "gpuaas-leader:%s", name && name[0] ? name : "gpuaas");
    if (PG(st)->leader)
        return 1;
    struct qparam p = QS(key);
    struct qres q;
    int rc = pg_exec(st, "SELECT pg_try_advisory_lock(hashtext($1))", &p, 1, &q, NULL);
    if (rc < 0)
        return rc;
    const char *v = qres_get(&q, 0, 0);
    int got = v && !strcmp(v, "t");
    qres_free(&q);
    PG(st)->leader = got;
    return got;
}

static int pg_still_leader(struct store *st)
{
    if (!PG(st)->leader)
        return 0;
    if (PQstatus(PG(st)->conn) != CONNECTION_OK || pg_simple(st, "SELECT 1", NULL) < 0) {
        PG(st)->leader = false; /* the session, and its lock, are gone */
        return 0;
    }
    return 1;
}

static void pg_close(struct store *st)
{
    PQfinish(PG(st)->conn);
    free(st->impl);
}

static const struct store_ops pg_ops = {
    .name = "postgres",
    .close = pg_close,
    .exec = pg_exec,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .notify = pg_notify,
    .listen = pg_listen,
    .wait_notify = pg_wait_notify,
    .try_leader = pg_try_leader,
    .still_leader = pg_still_leader,
    .migrations = pg_migrations,
    .n_migrations = sizeof pg_migrations / sizeof pg_migrations[0],
};

static void quiet(void *arg, const PGresult *res)
{
    (void)arg;
    (void)res;
}

int store_pg_open(const char *url, struct store **ret, struct error *err)
{
    struct store *st = calloc(1, sizeof *st);
    struct pg *g = calloc(1, sizeof *g);
    int rc;
    if (!st || !g) {
        rc = error_set(err, ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    st->ops = &pg_ops;
    st->impl = g;
    g->conn = PQconnectdb(url);
    if (!g->conn || PQstatus(g->conn) != CONNECTION_OK) {
        char line[300];
        snprintf(line, sizeof line, "%s", g->conn ? PQerrorMessage(g->conn) : "out of memory");
        line[strcspn(line, "\n")] = 0;
        rc = error_set(err, ERR_UNAVAILABLE, "database", "cannot connect to PostgreSQL: %s", line);
        goto out;
    }
    PQsetNoticeReceiver(g->conn, quiet, NULL);
    *ret = st;
    return 0;
out:
    if (g)
        PQfinish(g->conn);
    free(g);
    free(st);
    return rc;
}
