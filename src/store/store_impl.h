/* The backend interface behind store.h. store.c holds all the SQL (one text for both
 * backends: parameters are written $1, $2 ...), the backends run it. A result is a
 * table of NUL-terminated text cells (NULL for SQL NULL), owned by struct qres. */
#ifndef GPUAAS_STORE_STORE_IMPL_H
#define GPUAAS_STORE_STORE_IMPL_H

#include "store/store.h"

struct qparam {
    bool is_int, is_null;
    int64_t i;
    const char *s;
};

#define QI(x) ((struct qparam){.is_int = true, .i = (int64_t)(x)})
#define QS(x) ((struct qparam){.s = (x)})

struct qres {
    size_t nrows, ncols;
    char **cells; /* nrows * ncols */
};

/* One typed cell of a row handed to a qrow_fn: an integer column ('i') in i, a text column
 * ('s') in s (NULL for SQL NULL; valid only during the call). */
struct qcell {
    int64_t i;
    const char *s;
};

#define QEACH_MAX_COLS 16

/* Called for each row; a negative return stops the query with that value. */
typedef int (*qrow_fn)(void *arg, const struct qcell *cells);

/* One schema statement of migration `version`. */
struct migration {
    int version;
    const char *sql;
};

struct store_ops {
    const char *name;
    void (*close)(struct store *st);
    /* Runs one statement; out (may be NULL) receives the rows. -ERR_EXISTS on a unique or
     * foreign-key violation, -ERR_UNAVAILABLE when the connection is gone, -ERR_IO else. */
    int (*exec)(struct store *st, const char *sql, const struct qparam *p, int n, struct qres *out,
                struct error *err);
    /* Runs one query and hands its rows to fn without copying them. types has one letter per
     * column: 'i' (integer, never NULL) or 's' (text). A cell that does not fit its type is
     * -ERR_INTERNAL. */
    int (*each)(struct store *st, const char *sql, const struct qparam *p, int n, const char *types,
                qrow_fn fn, void *arg, struct error *err);
    /* Opens a write transaction serialized against others touching the same `locks`
     * (sorted resource names; PostgreSQL advisory locks, SQLite BEGIN IMMEDIATE). PostgreSQL
     * sends BEGIN and the locks ahead of the next statement, in the same round trip; their
     * errors are that statement's. */
    int (*begin)(struct store *st, const char *const *locks, int nlocks, struct error *err);
    /* Commits; on failure the transaction is rolled back and closed. */
    int (*commit)(struct store *st, struct error *err);
    /* Runs one last statement (out may be NULL) and commits with it (PostgreSQL: one round
     * trip with everything queued since begin). On failure the transaction is rolled back. */
    int (*finish)(struct store *st, const char *sql, const struct qparam *p, int n,
                  struct qres *out, struct error *err);
    void (*rollback)(struct store *st);
    /* Inside a transaction the notification goes out at commit (PostgreSQL NOTIFY). */
    int (*notify)(struct store *st);
    int (*listen)(struct store *st);
    int (*wait_notify)(struct store *st, int timeout_ms);
    int (*try_leader)(struct store *st, const char *name);
    int (*still_leader)(struct store *st);
    const struct migration *migrations;
    size_t n_migrations;
};

struct store {
    const struct store_ops *ops;
    void *impl;
};

void qres_free(struct qres *q);
/* Cell (r, c) or NULL. */
const char *qres_get(const struct qres *q, size_t r, size_t c);

int store_sqlite_open(const char *path, struct store **ret, struct error *err);
int store_pg_open(const char *url, struct store **ret, struct error *err);

#endif
