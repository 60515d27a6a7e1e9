/* PostgreSQL backend (libpq): every statement with text parameters, prepared once per
 * connection and sent in pipeline mode.
 * Write transactions take pg_advisory_xact_lock(hashtext(schema:name)) for each resource in
 * the caller's sorted order, so concurrent admissions for a resource serialize, deadlock-free.
 * Advisory locks span the database: every key carries current_schema(), so installations (or
 * tests) in other schemas of the same database neither wait on these locks nor hold the
 * leader's. */
#include "store/store_impl.h"
#include "common/util.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Statements are prepared once per connection (named g0, g1, ...) and run through libpq's
 * pipeline mode: a transaction's BEGIN and advisory locks travel with its first query, and
 * its NOTIFY with its last statement and COMMIT, so an admission is two round trips. */
#define PG_MAX_STMTS 64
#define PG_MAX_PENDING 24

struct pg_stmt {
    uint64_t hash;
    char *sql; /* NULL: free slot */
};

enum pend_kind { PEND_DISCARD, PEND_PREPARE, PEND_KEEP };

struct pg_pending {
    enum pend_kind kind;
    int stmt; /* PEND_PREPARE: the cache slot */
};

struct pg {
    PGconn *conn;
    bool leader;
    bool listening;
    bool in_tx;
    char schema[128]; /* current_schema() when LISTEN began: whose notifications count */
    struct pg_stmt stmts[PG_MAX_STMTS];
    struct pg_pending pend[PG_MAX_PENDING];
    int npend;
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
    /* Admission and the capacity query read the capacity-holding bookings that end after a
     * window starts (most bookings are in the past) and start before it ends. */
    {3, "CREATE INDEX IF NOT EXISTS reservations_holding ON reservations(ends_at, starts_at) "
        "WHERE state IN ('APPROVED', 'ACTIVE')"},
    {4, "ALTER TABLE users ADD COLUMN sso INTEGER NOT NULL DEFAULT 0"},
    /* Why an admin last moved, shortened or reassigned a booking (shown to its owner). */
    {5, "ALTER TABLE reservations ADD COLUMN IF NOT EXISTS admin_note TEXT NOT NULL DEFAULT ''"},
    /* Workspace sign-in: single-use tickets and the cookies they become (hashes only). */
    {6, "CREATE TABLE IF NOT EXISTS workspace_grants (id BIGSERIAL PRIMARY KEY, kind TEXT NOT "
        "NULL CHECK (kind IN ('ticket', 'cookie')), reservation_id BIGINT NOT NULL REFERENCES "
        "reservations(id) ON DELETE CASCADE, user_id BIGINT NOT NULL REFERENCES users(id) ON "
        "DELETE CASCADE, hash TEXT NOT NULL UNIQUE, created_at BIGINT NOT NULL, expires_at "
        "BIGINT NOT NULL, used_at BIGINT NOT NULL DEFAULT 0)"},
    {6, "CREATE INDEX IF NOT EXISTS workspace_grants_expires ON workspace_grants(expires_at)"},
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

static void stmts_forget(struct pg *g)
{
    for (int i = 0; i < PG_MAX_STMTS; i++) {
        free(g->stmts[i].sql);
        g->stmts[i].sql = NULL;
    }
}

/* Re-establishes the connection (prepared statements and session locks are gone with the
 * old session; LISTEN is renewed). */
static int pg_reconnect(struct pg *g, struct error *err)
{
    PQreset(g->conn);
    g->leader = false;
    g->npend = 0;
    stmts_forget(g);
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

/* A connection lost between transactions is re-established once. Inside a transaction the
 * loss is the caller's error: the statements already run were rolled back with it. */
static int pg_revive(struct store *st, struct error *err)
{
    struct pg *g = PG(st);
    if (PQstatus(g->conn) == CONNECTION_OK)
        return 0;
    if (g->in_tx)
        return error_set(err, ERR_UNAVAILABLE, NULL, "postgres: connection lost in a transaction");
    return pg_reconnect(g, err);
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    return h;
}

/* Statements worth keeping prepared (not schema changes or LISTEN). */
static bool cacheable(const char *sql)
{
    static const char *const verbs[] = {"SELECT ", "INSERT ", "UPDATE ",  "DELETE ", "WITH ",
                                        "BEGIN",   "COMMIT",  "ROLLBACK", "NOTIFY "};
    for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
        if (!strncmp(sql, verbs[i], strlen(verbs[i])))
            return true;
    return false;
}

/* Cache slot of sql, preparing it in the pipeline when new; -1 when it runs unnamed. */
static int stmt_slot(struct pg *g, const char *sql, int n, bool *ok)
{
    *ok = true;
    if (!cacheable(sql))
        return -1;
    uint64_t h = fnv1a(sql);
    int free_slot = -1;
    for (int i = 0; i < PG_MAX_STMTS; i++) {
        if (!g->stmts[i].sql) {
            if (free_slot < 0)
                free_slot = i;
            continue;
        }
        if (g->stmts[i].hash == h && !strcmp(g->stmts[i].sql, sql))
            return i;
    }
    if (free_slot < 0 || g->npend + 2 > PG_MAX_PENDING)
        return -1;
    char *copy = strdup(sql);
    if (!copy)
        return -1;
    char name[16];
    snprintf(name, sizeof name, "g%d", free_slot);
    if (!PQsendPrepare(g->conn, name, sql, n, NULL)) {
        free(copy);
        *ok = false;
        return -1;
    }
    g->stmts[free_slot].sql = copy;
    g->stmts[free_slot].hash = h;
    g->pend[g->npend++] = (struct pg_pending){PEND_PREPARE, free_slot};
    return free_slot;
}

/* Queues one statement in the pipeline; its result is kept for the caller (PEND_KEEP) or
 * only checked (PEND_DISCARD) when pg_sync() collects the pipeline. */
static int pg_send(struct store *st, const char *sql, const struct qparam *p, int n,
                   enum pend_kind kind, int format, struct error *err)
{
    struct pg *g = PG(st);
    char nums[16][24];
    const char *vals[16];
    int rc;
    if (n > 16)
        return error_set(err, ERR_INTERNAL, NULL, "too many parameters");
    if (g->npend + 3 > PG_MAX_PENDING)
        return error_set(err, ERR_INTERNAL, NULL, "too many queued statements");
    if (g->npend == 0 && (rc = pg_revive(st, err)) < 0)
        return rc;
    if (PQpipelineStatus(g->conn) == PQ_PIPELINE_OFF && !PQenterPipelineMode(g->conn))
        return pg_error(g->conn, NULL, err);
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
    bool ok;
    int slot = stmt_slot(g, sql, n, &ok);
    if (ok) {
        if (slot >= 0) {
            char name[16];
            snprintf(name, sizeof name, "g%d", slot);
            ok = PQsendQueryPrepared(g->conn, name, n, vals, NULL, NULL, format);
        } else {
            ok = PQsendQueryParams(g->conn, sql, n, NULL, vals, NULL, NULL, format);
        }
    }
    if (!ok)
        return pg_error(g->conn, NULL, err);
    g->pend[g->npend++] = (struct pg_pending){kind, -1};
    return 0;
}

/* Ends the pipeline: sends Sync, reads every queued result in order and leaves pipeline
 * mode. The first failure is returned (later statements were skipped by the server); the
 * PEND_KEEP result goes to *keep (NULL when not wanted or failed). */
static int pg_sync(struct store *st, PGresult **keep, struct error *err)
{
    struct pg *g = PG(st);
    PGconn *c = g->conn;
    int rc = 0;
    if (keep)
        *keep = NULL;
    if (PQpipelineStatus(c) == PQ_PIPELINE_OFF) {
        g->npend = 0;
        return 0;
    }
    if (!PQpipelineSync(c)) {
        rc = pg_error(c, NULL, err);
        goto lost;
    }
    for (int i = 0; i < g->npend; i++) {
        struct pg_pending *pd = &g->pend[i];
        PGresult *r = PQgetResult(c);
        if (!r) {
            if (rc == 0)
                rc = pg_error(c, NULL, err);
            goto lost;
        }
        ExecStatusType s = PQresultStatus(r);
        bool good = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
        if (!good && rc == 0)
            rc = pg_error(c, s == PGRES_PIPELINE_ABORTED ? NULL : r, err);
        if (pd->kind == PEND_PREPARE && !good) {
            free(g->stmts[pd->stmt].sql);
            g->stmts[pd->stmt].sql = NULL;
        }
        if (pd->kind == PEND_KEEP && good && keep && !*keep)
            *keep = r;
        else
            PQclear(r);
        while ((r = PQgetResult(c))) /* end of this statement's results */
            PQclear(r);
    }
    g->npend = 0;
    PGresult *r = PQgetResult(c);
    bool synced = r && PQresultStatus(r) == PGRES_PIPELINE_SYNC;
    PQclear(r);
    if (!synced || !PQexitPipelineMode(c)) {
        if (rc == 0)
            rc = pg_error(c, NULL, err);
        goto lost;
    }
    if (rc < 0 && keep) {
        PQclear(*keep);
        *keep = NULL;
    }
    return rc;
lost:
    /* The protocol state is unknown: drop the connection; the next call outside a
     * transaction reconnects. */
    g->npend = 0;
    if (keep) {
        PQclear(*keep);
        *keep = NULL;
    }
    if (PQstatus(c) == CONNECTION_OK)
        pg_reconnect(g, NULL);
    return rc < 0 ? rc : -ERR_UNAVAILABLE;
}

static int to_qres(PGresult *res, struct qres *out, struct error *err)
{
    size_t nr = (size_t)PQntuples(res), nc = (size_t)PQnfields(res);
    out->ncols = nc;
    out->cells = calloc(nr * nc > 0 ? nr * nc : 1, sizeof *out->cells);
    if (!out->cells)
        return error_set(err, ERR_NOMEM, NULL, "out of memory");
    out->nrows = nr;
    for (size_t r = 0; r < nr; r++)
        for (size_t k = 0; k < nc; k++) {
            if (PQgetisnull(res, (int)r, (int)k))
                continue;
            if (!(out->cells[r * nc + k] = strdup(PQgetvalue(res, (int)r, (int)k)))) {
                qres_free(out);
                return error_set(err, ERR_NOMEM, NULL, "out of memory");
            }
        }
    return 0;
}

static int pg_exec(struct store *st, const char *sql, const struct qparam *p, int n,
                   struct qres *out, struct error *err)
{
    PGresult *res = NULL;
    if (out)
        memset(out, 0, sizeof *out);
    int rc = pg_send(st, sql, p, n, PEND_KEEP, 0, err);
    if (rc < 0) {
        pg_sync(st, NULL, NULL);
        return rc;
    }
    if ((rc = pg_sync(st, &res, err)) < 0)
        return rc;
    if (out)
        rc = to_qres(res, out, err);
    PQclear(res);
    return rc;
}

/* A binary integer cell (smallint, integer or bigint: big-endian, 2, 4 or 8 bytes). */
static bool binary_int(const char *v, int len, int64_t *ret)
{
    const uint8_t *b = (const uint8_t *)v;
    uint64_t x = 0;
    if (len != 2 && len != 4 && len != 8)
        return false;
    for (int i = 0; i < len; i++)
        x = x << 8 | b[i];
    if (len == 2)
        *ret = (int16_t)x;
    else if (len == 4)
        *ret = (int32_t)x;
    else
        *ret = (int64_t)x;
    return true;
}

/* Rows come in binary format: no number formatting on the server, no parsing here. 'i'
 * columns must be smallint, integer or bigint; text arrives NUL-terminated by libpq. */
static int pg_each(struct store *st, const char *sql, const struct qparam *p, int n,
                   const char *types, qrow_fn fn, void *arg, struct error *err)
{
    PGresult *res = NULL;
    size_t nc = strlen(types);
    struct qcell cells[QEACH_MAX_COLS];
    if (nc > QEACH_MAX_COLS)
        return error_set(err, ERR_INTERNAL, NULL, "too many columns");
    int rc = pg_send(st, sql, p, n, PEND_KEEP, 1, err);
    if (rc < 0) {
        pg_sync(st, NULL, NULL);
        return rc;
    }
    if ((rc = pg_sync(st, &res, err)) < 0)
        return rc;
    int nr = PQntuples(res);
    if ((size_t)PQnfields(res) != nc) {
        rc = error_set(err, ERR_INTERNAL, NULL, "query returned %d columns, not %zu",
                       PQnfields(res), nc);
        goto out;
    }
    for (int r = 0; r < nr && rc == 0; r++) {
        for (size_t k = 0; k < nc; k++) {
            /* A NULL integer has length 0 and fails binary_int. */
            const char *v = PQgetvalue(res, r, (int)k);
            cells[k].i = 0;
            cells[k].s = types[k] == 's' && !PQgetisnull(res, r, (int)k) ? v : NULL;
            if (types[k] == 'i' && !binary_int(v, PQgetlength(res, r, (int)k), &cells[k].i)) {
                rc = error_set(err, ERR_INTERNAL, NULL, "column %zu is not an integer", k);
                goto out;
            }
        }
        rc = fn(arg, cells);
    }
out:
    PQclear(res);
    return rc;
}

static int pg_simple(struct store *st, const char *sql, struct error *err)
{
    return pg_exec(st, sql, NULL, 0, NULL, err);
}

static void pg_rollback(struct store *st)
{
    struct pg *g = PG(st);
    pg_sync(st, NULL, NULL); /* statements still queued (BEGIN, locks) */
    if (PQstatus(g->conn) == CONNECTION_OK)
        pg_simple(st, "ROLLBACK", NULL);
    g->in_tx = false;
}

static int pg_begin(struct store *st, const char *const *locks, int nlocks, struct error *err)
{
    int rc = pg_send(st, "BEGIN", NULL, 0, PEND_DISCARD, 0, err);
    if (rc < 0)
        goto fail;
    PG(st)->in_tx = true;
    /* One statement per 16 locks: the target list is evaluated left to right, in the
     * sorted order. */
    for (int i = 0; i < nlocks; i += 16) {
        char sql[1024] = "SELECT 1";
        struct qparam p[16];
        int k = 0;
        size_t len = strlen(sql);
        for (; k < 16 && i + k < nlocks; k++) {
            p[k] = QS(locks[i + k]);
            len += (size_t)snprintf(sql + len, sizeof sql - len,
                                    ", pg_advisory_xact_lock(hashtext(current_schema() || ':' "
                                    "|| $%d))",
                                    k + 1);
        }
        if ((rc = pg_send(st, sql, p, k, PEND_DISCARD, 0, err)) < 0)
            goto fail;
    }
    return 0;
fail:
    pg_rollback(st);
    return rc;
}

static int pg_finish(struct store *st, const char *sql, const struct qparam *p, int n,
                     struct qres *out, struct error *err)
{
    struct pg *g = PG(st);
    PGresult *res = NULL;
    if (out)
        memset(out, 0, sizeof *out);
    int rc = sql ? pg_send(st, sql, p, n, PEND_KEEP, 0, err) : 0;
    if (rc == 0)
        rc = pg_send(st, "COMMIT", NULL, 0, PEND_DISCARD, 0, err);
    if (rc == 0)
        rc = pg_sync(st, &res, err);
    if (rc == 0 && out && res)
        rc = to_qres(res, out, err);
    PQclear(res);
    if (rc < 0) {
        /* After a failure the server skipped COMMIT: end the aborted transaction. */
        pg_rollback(st);
        return rc;
    }
    g->in_tx = false;
    return 0;
}

static int pg_commit(struct store *st, struct error *err)
{
    return pg_finish(st, NULL, NULL, 0, NULL, err);
}

/* One database may hold several gpuaas schemas (deployments side by side, or the tests'
 * schema per case), and a NOTIFY channel is database-wide: each notification names its
 * schema in the payload, and a listener counts only its own. */
#define PG_NOTIFY_SQL "SELECT pg_notify('gpuaas_changes', coalesce(current_schema(), ''))"

static int pg_notify(struct store *st)
{
    if (PG(st)->in_tx) /* delivered at commit anyway: sent with it */
        return pg_send(st, PG_NOTIFY_SQL, NULL, 0, PEND_DISCARD, 0, NULL);
    return pg_simple(st, PG_NOTIFY_SQL, NULL);
}

static int pg_listen(struct store *st)
{
    struct pg *g = PG(st);
    struct qres q;
    int rc = pg_exec(st, "SELECT coalesce(current_schema(), '')", NULL, 0, &q, NULL);
    if (rc < 0)
        return rc;
    const char *v = qres_get(&q, 0, 0);
    snprintf(g->schema, sizeof g->schema, "%s", v ? v : "");
    qres_free(&q);
    if ((rc = pg_simple(st, "LISTEN gpuaas_changes", NULL)) == 0)
        g->listening = true;
    return rc;
}

/* Drains the notifications received; 1 when one was for this schema, or carried no payload
 * (a bare `NOTIFY gpuaas_changes` by an operator wakes every listener). */
static int take_notify(struct pg *g)
{
    int got = 0;
    PGnotify *n;
    while ((n = PQnotifies(g->conn))) {
        if (!n->extra || !n->extra[0] || !strcmp(n->extra, g->schema))
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
        if (take_notify(PG(st)))
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
    int rc = pg_exec(st, "SELECT pg_try_advisory_lock(hashtext(current_schema() || ':' || $1))", &p,
                     1, &q, NULL);
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
    stmts_forget(PG(st));
    PQfinish(PG(st)->conn);
    free(st->impl);
}

static const struct store_ops pg_ops = {
    .name = "postgres",
    .close = pg_close,
    .exec = pg_exec,
    .each = pg_each,
    .begin = pg_begin,
    .commit = pg_commit,
    .finish = pg_finish,
    .rollback = pg_rollback,
    .notify = pg_notify,
    .listen = pg_listen,
    .wait_notify = pg_wait_notify,
    .try_leader = pg_try_leader,
    .still_leader = pg_still_leader,
    .migrations = pg_migrations,
    .n_migrations = ARRAY_SIZE(pg_migrations),
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
