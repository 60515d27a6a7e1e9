/* SQLite backend: WAL, busy timeout, foreign keys; write transactions are BEGIN IMMEDIATE
 * (one writer at a time), retried while the database is busy. */
#include "store/store_impl.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SQ_MAX_STMTS 64

/* Prepared statements kept per connection, found by their text. */
struct sq_stmt {
    uint64_t hash;
    char *sql; /* NULL: free slot */
    sqlite3_stmt *s;
    bool busy; /* running (a row callback may run another statement) */
};

struct sq {
    sqlite3 *db;
    struct sq_stmt stmts[SQ_MAX_STMTS];
    char path[PATH_MAX];
    int leader_fd;
    int64_t data_version;
    unsigned seed; /* retry jitter */
};

#define BUSY_TIMEOUT_MS 5000
#define BEGIN_RETRIES 200

static const struct migration sq_migrations[] = {
    {1, "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, username TEXT NOT NULL "
        "UNIQUE, role TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0, password_hash TEXT "
        "NOT NULL, created_at INTEGER NOT NULL)"},
    {1, "CREATE TABLE tokens (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL "
        "REFERENCES users(id) ON DELETE CASCADE, name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, "
        "created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL)"},
    {1, "CREATE INDEX tokens_user ON tokens(user_id)"},
    {1, "CREATE TABLE reservations (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT "
        "NULL REFERENCES users(id), gpu_type TEXT NOT NULL, gpu_count INTEGER NOT NULL, mode "
        "TEXT NOT NULL, cpu INTEGER NOT NULL, memory_gib INTEGER NOT NULL, storage_gib INTEGER "
        "NOT NULL, purpose TEXT NOT NULL, starts_at INTEGER NOT NULL, ends_at INTEGER NOT NULL, "
        "state TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, "
        "session_namespace TEXT NOT NULL DEFAULT '', session_url TEXT NOT NULL DEFAULT '', "
        "session_phase TEXT NOT NULL DEFAULT '', session_message TEXT NOT NULL DEFAULT '', "
        "session_attempts INTEGER NOT NULL DEFAULT 0, session_next_attempt_at INTEGER NOT NULL "
        "DEFAULT 0, CHECK (ends_at > starts_at))"},
    {1, "CREATE INDEX reservations_window ON reservations(state, starts_at, ends_at)"},
    {1, "CREATE INDEX reservations_user ON reservations(user_id)"},
    {1, "CREATE TABLE audit_log (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, "
        "actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL)"},
    {1, "CREATE INDEX audit_log_at ON audit_log(at)"},
    {1, "CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at INTEGER NOT "
        "NULL)"},
    {2, "CREATE TABLE IF NOT EXISTS session_activity (reservation_id INTEGER NOT NULL "
        "REFERENCES reservations(id) ON DELETE CASCADE, resource TEXT NOT NULL, bucket INTEGER "
        "NOT NULL, measured_ms INTEGER NOT NULL, busy_ms INTEGER NOT NULL, fb_max_mib INTEGER "
        "NOT NULL, fb_last_mib INTEGER NOT NULL, samples INTEGER NOT NULL, first_at INTEGER NOT "
        "NULL, last_at INTEGER NOT NULL, PRIMARY KEY (reservation_id, resource, bucket))"},
    {2, "CREATE INDEX IF NOT EXISTS session_activity_bucket ON session_activity(bucket)"},
    /* Admission and the capacity query read the capacity-holding bookings that end after a
     * window starts (most bookings are in the past) and start before it ends. */
    {3, "CREATE INDEX IF NOT EXISTS reservations_holding ON reservations(ends_at, starts_at) "
        "WHERE state IN ('APPROVED', 'ACTIVE')"},
    {4, "ALTER TABLE users ADD COLUMN sso INTEGER NOT NULL DEFAULT 0"},
    /* Why an admin last moved, shortened or reassigned a booking (shown to its owner). */
    {5, "ALTER TABLE reservations ADD COLUMN admin_note TEXT NOT NULL DEFAULT ''"},
    /* Workspace sign-in: single-use tickets and the cookies they become (hashes only). */
    {6, "CREATE TABLE IF NOT EXISTS workspace_grants (id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "kind TEXT NOT NULL CHECK (kind IN ('ticket', 'cookie')), reservation_id INTEGER NOT "
        "NULL REFERENCES reservations(id) ON DELETE CASCADE, user_id INTEGER NOT NULL "
        "REFERENCES users(id) ON DELETE CASCADE, hash TEXT NOT NULL UNIQUE, created_at INTEGER "
        "NOT NULL, expires_at INTEGER NOT NULL, used_at INTEGER NOT NULL DEFAULT 0)"},
    {6, "CREATE INDEX IF NOT EXISTS workspace_grants_expires ON workspace_grants(expires_at)"},
};

static struct sq *SQ(struct store *st)
{
    return st->impl;
}

static int sq_error(sqlite3 *db, int rc, struct error *err)
{
    int code = ERR_IO;
    int ext = sqlite3_extended_errcode(db);
    if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY ||
        ext == SQLITE_CONSTRAINT_FOREIGNKEY)
        code = ERR_EXISTS;
    else if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        code = ERR_UNAVAILABLE;
    return error_set(err, code, NULL, "sqlite: %s", sqlite3_errmsg(db));
}

static int sq_bind(sqlite3_stmt *s, const struct qparam *p, int n)
{
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof name, "$%d", i + 1);
        int idx = sqlite3_bind_parameter_index(s, name);
        if (idx == 0)
            continue;
        int rc;
        if (p[i].is_null)
            rc = sqlite3_bind_null(s, idx);
        else if (p[i].is_int)
            rc = sqlite3_bind_int64(s, idx, p[i].i);
        else
            rc = sqlite3_bind_text(s, idx, p[i].s ? p[i].s : "", -1, SQLITE_TRANSIENT);
        if (rc != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    return h;
}

/* A prepared statement for sql, from the cache when possible; *slot is its cache slot or
 * -1 (then the caller finalizes it). */
static int sq_prepare(struct sq *q, const char *sql, sqlite3_stmt **ret, int *slot)
{
    uint64_t h = fnv1a(sql);
    int free_slot = -1;
    *slot = -1;
    for (int i = 0; i < SQ_MAX_STMTS; i++) {
        struct sq_stmt *c = &q->stmts[i];
        if (!c->sql) {
            if (free_slot < 0)
                free_slot = i;
        } else if (c->hash == h && !c->busy && !strcmp(c->sql, sql)) {
            c->busy = true;
            *ret = c->s;
            *slot = i;
            return SQLITE_OK;
        }
    }
    /* Schema statements run once: not worth a slot. */
    bool keep = free_slot >= 0 && strncmp(sql, "CREATE", 6) && strncmp(sql, "PRAGMA", 6);
    char *copy = keep ? strdup(sql) : NULL;
    int rc = sqlite3_prepare_v3(q->db, sql, -1, copy ? SQLITE_PREPARE_PERSISTENT : 0, ret, NULL);
    if (rc != SQLITE_OK || !copy) {
        free(copy);
        return rc;
    }
    q->stmts[free_slot] = (struct sq_stmt){h, copy, *ret, true};
    *slot = free_slot;
    return SQLITE_OK;
}

static void sq_release(struct sq *q, sqlite3_stmt *s, int slot)
{
    if (slot < 0) {
        sqlite3_finalize(s);
        return;
    }
    sqlite3_reset(s); /* ends its read of the database */
    sqlite3_clear_bindings(s);
    q->stmts[slot].busy = false;
}

static int sq_exec(struct store *st, const char *sql, const struct qparam *p, int n,
                   struct qres *out, struct error *err)
{
    sqlite3 *db = SQ(st)->db;
    sqlite3_stmt *s = NULL;
    int slot = -1;
    size_t cap = 0;
    int ret = 0;
    if (out)
        memset(out, 0, sizeof *out);
    int rc = sq_prepare(SQ(st), sql, &s, &slot);
    if (rc != SQLITE_OK) {
        ret = sq_error(db, rc, err);
        goto out;
    }
    rc = sq_bind(s, p, n);
    if (rc != SQLITE_OK) {
        ret = sq_error(db, rc, err);
        goto out;
    }
    size_t nc = (size_t)sqlite3_column_count(s);
    if (out)
        out->ncols = nc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (!out)
            continue;
        if (ARRAY_GROW(out->cells, cap, (out->nrows + 1) * nc, nc * 16) < 0) {
            ret = error_set(err, ERR_NOMEM, NULL, "out of memory");
            goto out;
        }
        for (size_t c = 0; c < nc; c++) {
            const unsigned char *v = sqlite3_column_text(s, (int)c);
            char *dup = NULL;
            if (v && !(dup = strdup((const char *)v))) {
                out->cells[out->nrows * nc + c] = NULL;
                out->nrows++;
                ret = error_set(err, ERR_NOMEM, NULL, "out of memory");
                goto out;
            }
            out->cells[out->nrows * nc + c] = dup;
        }
        out->nrows++;
    }
    if (rc != SQLITE_DONE)
        ret = sq_error(db, rc, err);
out:
    if (s)
        sq_release(SQ(st), s, slot);
    if (ret < 0 && out)
        qres_free(out);
    return ret;
}

static int sq_each(struct store *st, const char *sql, const struct qparam *p, int n,
                   const char *types, qrow_fn fn, void *arg, struct error *err)
{
    sqlite3 *db = SQ(st)->db;
    sqlite3_stmt *s = NULL;
    struct qcell cells[QEACH_MAX_COLS];
    size_t nc = strlen(types);
    int slot = -1, ret = 0;
    if (nc > QEACH_MAX_COLS)
        return error_set(err, ERR_INTERNAL, NULL, "too many columns");
    int rc = sq_prepare(SQ(st), sql, &s, &slot);
    if (rc == SQLITE_OK)
        rc = sq_bind(s, p, n);
    if (rc != SQLITE_OK) {
        ret = sq_error(db, rc, err);
        goto out;
    }
    if ((size_t)sqlite3_column_count(s) != nc) {
        ret = error_set(err, ERR_INTERNAL, NULL, "query returns %d columns, not %zu",
                        sqlite3_column_count(s), nc);
        goto out;
    }
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        for (size_t k = 0; k < nc; k++) {
            cells[k].i = 0;
            cells[k].s = NULL;
            int type = sqlite3_column_type(s, (int)k);
            if (types[k] == 'i') {
                if (type != SQLITE_INTEGER) {
                    ret = error_set(err, ERR_INTERNAL, NULL, "column %zu is not an integer", k);
                    goto out;
                }
                cells[k].i = sqlite3_column_int64(s, (int)k);
            } else if (type != SQLITE_NULL) {
                cells[k].s = (const char *)sqlite3_column_text(s, (int)k);
            }
        }
        if ((ret = fn(arg, cells)) < 0)
            goto out;
    }
    if (rc != SQLITE_DONE)
        ret = sq_error(db, rc, err);
out:
    if (s)
        sq_release(SQ(st), s, slot);
    return ret;
}

static int sq_simple(struct store *st, const char *sql, struct error *err)
{
    return sq_exec(st, sql, NULL, 0, NULL, err);
}

static int sq_begin(struct store *st, const char *const *locks, int nlocks, struct error *err)
{
    for (int i = 0;; i++) {
        int rc = sqlite3_exec(SQ(st)->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        if (rc == SQLITE_OK)
            return 0;
        if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || i >= BEGIN_RETRIES)
            return sq_error(SQ(st)->db, rc, err);
        struct timespec ts = {0, (long)(1 + rand_r(&SQ(st)->seed) % 20) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static int sq_commit(struct store *st, struct error *err)
{
    for (int i = 0;; i++) {
        int rc = sqlite3_exec(SQ(st)->db, "COMMIT", NULL, NULL, NULL);
        if (rc == SQLITE_OK)
            return 0;
        if (rc != SQLITE_BUSY || i >= BEGIN_RETRIES) {
            int ret = sq_error(SQ(st)->db, rc, err);
            sqlite3_exec(SQ(st)->db, "ROLLBACK", NULL, NULL, NULL);
            return ret;
        }
        struct timespec ts = {0, 5000000L};
        nanosleep(&ts, NULL);
    }
}

static void sq_rollback(struct store *st)
{
    sqlite3_exec(SQ(st)->db, "ROLLBACK", NULL, NULL, NULL);
}

static int sq_finish(struct store *st, const char *sql, const struct qparam *p, int n,
                     struct qres *out, struct error *err)
{
    int rc = sql ? sq_exec(st, sql, p, n, out, err) : 0;
    if (rc < 0) {
        sq_rollback(st);
        return rc;
    }
    if ((rc = sq_commit(st, err)) < 0 && out)
        qres_free(out);
    return rc;
}

static int sq_notify(struct store *st)
{
    return 0; /* other connections see data_version change */
}

static int sq_data_version(struct store *st, int64_t *ret)
{
    struct qres q;
    int rc = sq_exec(st, "PRAGMA data_version", NULL, 0, &q, NULL);
    if (rc < 0)
        return rc;
    const char *v = qres_get(&q, 0, 0);
    *ret = v ? strtoll(v, NULL, 10) : 0;
    qres_free(&q);
    return 0;
}

static int sq_listen(struct store *st)
{
    return sq_data_version(st, &SQ(st)->data_version);
}

static int sq_wait_notify(struct store *st, int timeout_ms)
{
    for (int waited = 0;; waited += 100) {
        int64_t v;
        if (sq_data_version(st, &v) < 0)
            return -ERR_IO;
        if (v != SQ(st)->data_version) {
            SQ(st)->data_version = v;
            return 1;
        }
        if (waited >= timeout_ms)
            return 0;
        int ms = timeout_ms - waited < 100 ? timeout_ms - waited : 100;
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static int sq_try_leader(struct store *st, const char *name)
{
    struct sq *s = SQ(st);
    if (s->leader_fd >= 0)
        return 1;
    if (!s->path[0])
        return 1; /* in-memory database: private to this connection */
    char lp[PATH_MAX + 80];
    snprintf(lp, sizeof lp, "%s.%s.leader", s->path, name && name[0] ? name : "gpuaas");
    for (char *c = lp + strlen(s->path) + 1; *c; c++)
        if (*c == '/')
            *c = '_';
    int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -ERR_IO;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        close(fd);
        return errno == EWOULDBLOCK ? 0 : -ERR_IO;
    }
    s->leader_fd = fd;
    return 1;
}

static int sq_still_leader(struct store *st)
{
    struct sq *s = SQ(st);
    if (!s->path[0])
        return 1;
    return s->leader_fd >= 0 && sq_simple(st, "SELECT 1", NULL) == 0;
}

static void sq_close(struct store *st)
{
    struct sq *s = SQ(st);
    if (s->leader_fd >= 0)
        close(s->leader_fd);
    for (int i = 0; i < SQ_MAX_STMTS; i++) {
        sqlite3_finalize(s->stmts[i].s);
        free(s->stmts[i].sql);
    }
    sqlite3_close_v2(s->db);
    free(s);
}

static const struct store_ops sq_ops = {
    .name = "sqlite",
    .close = sq_close,
    .exec = sq_exec,
    .each = sq_each,
    .begin = sq_begin,
    .commit = sq_commit,
    .finish = sq_finish,
    .rollback = sq_rollback,
    .notify = sq_notify,
    .listen = sq_listen,
    .wait_notify = sq_wait_notify,
    .try_leader = sq_try_leader,
    .still_leader = sq_still_leader,
    .migrations = sq_migrations,
    .n_migrations = ARRAY_SIZE(sq_migrations),
};

/* mkdir -p of the directory part of path. */
static int make_parents(const char *path)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return -1;
    for (char *c = buf + 1; *c; c++) {
        if (*c != '/')
            continue;
        *c = 0;
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return -1;
        *c = '/';
    }
    return 0;
}

int store_sqlite_open(const char *path, struct store **ret, struct error *err)
{
    struct store *st = NULL;
    struct sq *s = NULL;
    int rc;
    bool memory = !strcmp(path, ":memory:");
    if (!path[0])
        return error_set(err, ERR_INVALID, "database", "sqlite database path is empty");
    if (strlen(path) >= PATH_MAX)
        return error_set(err, ERR_INVALID, "database", "sqlite database path is too long");
    if (!memory && make_parents(path) < 0)
        return error_set(err, ERR_IO, "database", "cannot create the directory of %s: %s", path,
                         strerror(errno));
    st = calloc(1, sizeof *st);
    s = calloc(1, sizeof *s);
    if (!st || !s) {
        rc = error_set(err, ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    s->leader_fd = -1;
    s->seed = (unsigned)(uintptr_t)s ^ (unsigned)getpid();
    if (!memory)
        snprintf(s->path, sizeof s->path, "%s", path);
    st->ops = &sq_ops;
    st->impl = s;
    int orc = sqlite3_open_v2(
        path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (orc != SQLITE_OK) {
        rc = error_set(err, ERR_IO, "database", "cannot open %s: %s", path,
                       s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto out;
    }
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(s->db, 1);
    if ((rc = sq_simple(st, "PRAGMA foreign_keys = ON", err)) < 0)
        goto out;
    if (!memory) {
        struct qres q;
        if ((rc = sq_exec(st, "PRAGMA journal_mode = WAL", NULL, 0, &q, err)) < 0)
            goto out;
        qres_free(&q);
        /* FULL: the WAL is synced at every commit, so a booking answered 201 survives a
         * power cut (NORMAL would keep the file consistent but may lose the last commits). */
        if ((rc = sq_simple(st, "PRAGMA synchronous = FULL", err)) < 0)
            goto out;
    }
    *ret = st;
    return 0;
out:
    if (s) {
        sqlite3_close_v2(s->db);
        free(s);
    }
    free(st);
    return rc;
}
